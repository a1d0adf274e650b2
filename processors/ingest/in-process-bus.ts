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

/** One publish call: it resolves when the last of its records has been handled. */
interface Ticket {
  remaining: number
  resolve: () => void
  reject: (error: unknown) => void
}

interface Queued {
  record: InputRecord
  ticket: Ticket
}

export interface InProcessBus extends EventBus {
  /** During `stop()`: a batch that fails is parked instead of retried. */
  abandon(): void
  /** Records published and not yet settled. */
  queued(): number
}

/**
 * A bounded in-memory queue whose `publish` resolves only when the handler has settled every
 * published record (audited, a known duplicate, or dead-lettered), so "accepted" is said of
 * what is on disk and survives a hard kill (docs/adr/0006-embedded-durability.md). `stop()`
 * drains the queue through the handler; if the handler keeps failing past the shutdown
 * deadline (`abandon()`), what is left is parked and its publishers are told it was not
 * accepted (a retriable error: send again later).
 */
export function createInProcessBus(options: InProcessBusOptions): InProcessBus {
  const batchSize = options.batchSize ?? 1000
  const retryDelayMs = options.retryDelayMs ?? 500
  const queue: Queued[] = []
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
      const records = batch.map((queued) => queued.record)
      try {
        await handler(records)
        queue.splice(0, batch.length)
        for (const { ticket } of batch) if (--ticket.remaining === 0) ticket.resolve()
      } catch (error) {
        if (abandoned) {
          options.logger.error(
            { err: error, records: batch.length },
            'batch failed at shutdown; parking it',
          )
          if (options.park) await options.park(records, error)
          else
            options.logger.error(
              { eventIds: records.map(eventIdOf) },
              'unprocessed events at shutdown',
            )
          queue.splice(0, batch.length)
          const notAccepted = new SpendGuardError(
            'the pipeline shut down before these events were audited; send them again',
            { code: 'SHUTTING_DOWN', retriable: true, cause: error },
          )
          for (const { ticket } of batch) ticket.reject(notAccepted)
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
      if (events.length === 0) return Promise.resolve()
      return new Promise<void>((resolve, reject) => {
        const ticket: Ticket = { remaining: events.length, resolve, reject }
        for (const event of events)
          queue.push({ record: { event, source: { kind: origin } }, ticket })
        notify()
      })
    },
    queued: () => queue.length,
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
