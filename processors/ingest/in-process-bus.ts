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
}

/**
 * A bounded in-memory queue. Nothing survives the process, so `stop()` drains the queue
 * through the handler before it resolves: what was accepted is processed before exit.
 */
export function createInProcessBus(options: InProcessBusOptions): EventBus {
  const batchSize = options.batchSize ?? 1000
  const retryDelayMs = options.retryDelayMs ?? 500
  const queue: InputRecord[] = []
  let wake: (() => void) | undefined
  let stopping = false
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
    async stop() {
      stopping = true
      notify()
      await running
    },
  }
}
