import { BufferFullError, SpendGuardError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import type { EventBus } from './event-bus.ts'
import type { InputRecord } from './event-processor.ts'

export interface InProcessBusOptions {
  logger: Logger
  /** Events held at most; publish beyond it fails with BufferFullError (HTTP answers 503). */
  capacity: number
  /** Records handed to the handler at once. */
  batchSize?: number
  retryDelayMs?: number
  /**
   * Called with the records that could not be processed by the time `stop()` gave up (see
   * `abandon`); they must be parked somewhere durable, since this queue dies with the process.
   * Without it they are logged, ids included, at error level.
   */
  park?: (records: InputRecord[], error: unknown) => Promise<void>
}

const eventIdOf = (record: InputRecord): string | undefined =>
  'event' in record ? record.event.event_id : undefined

export interface InProcessBus extends EventBus {
  /** During `stop()`: a batch that fails is parked instead of retried. */
  abandon(): void
}

/**
 * A bounded in-memory queue. Nothing survives the process, so `stop()` drains the queue
 * through the handler before it resolves: what was accepted is processed before exit. If
 * the handler keeps failing past the shutdown deadline (`abandon()`), what is left is parked.
 */
export function createInProcessBus(options: InProcessBusOptions): InProcessBus {
  const batchSize = options.batchSize ?? 1000
  const retryDelayMs = options.retryDelayMs ?? 500
  const queue: InputRecord[] = []
  let wake: (() => void) | undefined
  let stopping = false
  let abandoned = false
  let running: Promise<void> | undefined

  function notify(): void {
    wake?.()
    wake = undefined
  }

  async function loop(handler: (records: InputRecord[]) => Promise<void>): Promise<void> {
    for (;;) {
      if (queue.length === 0) {
        if (stopping) return
        await new Promise<void>((resolve) => (wake = resolve))
        continue
      }
      const batch = queue.slice(0, batchSize)
      try {
        await handler(batch)
        queue.splice(0, batch.length)
      } catch (error) {
        if (abandoned) {
          options.logger.error(
            { err: error, records: batch.length },
            'batch failed at shutdown; parking it',
          )
          if (options.park) await options.park(batch, error)
          else
            options.logger.error(
              { eventIds: batch.map(eventIdOf) },
              'unprocessed events at shutdown',
            )
          queue.splice(0, batch.length)
          continue
        }
        options.logger.error({ err: error, records: batch.length }, 'batch failed; retrying')
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs))
      }
    }
  }

  return {
    publish(events, origin = 'http') {
      if (stopping)
        return Promise.reject(
          new SpendGuardError('the pipeline is shutting down', {
            code: 'SHUTTING_DOWN',
            retriable: true,
          }),
        )
      if (queue.length + events.length > options.capacity)
        return Promise.reject(new BufferFullError(options.capacity))
      for (const event of events) queue.push({ event, source: { kind: origin } })
      notify()
      return Promise.resolve()
    },
    start(handler) {
      running = loop(handler)
      return Promise.resolve()
    },
    readiness() {
      if (!running || stopping)
        return { ready: false, reason: running ? 'stopping' : 'not started' }
      return { ready: true }
    },
    abandon() {
      abandoned = true
    },
    async stop() {
      stopping = true
      notify()
      await running
    },
  }
}
