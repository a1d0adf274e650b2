import { BufferFullError, isRetriable, SpendGuardError } from '../../platform/errors.ts'
import { retryDelay, type RetryPolicy } from '../../platform/retry-policy.ts'
import type { Logger } from '../../platform/logger.ts'
import type { BatchOutcome, EventBus, PublishOutcome } from './event-bus.ts'
import type { InputRecord } from './event-processor.ts'

export interface InProcessBusOptions {
  logger: Logger
  /** Events held at most; publish beyond it fails with BufferFullError (HTTP answers 503). */
  capacity: number
  /** Records handed to the handler at once. */
  batchSize?: number
  /**
   * Batches handed over before the previous ones are settled (default 1). The handler must
   * keep its writes in order itself (the audit sink does).
   */
  concurrency?: number
  /** Backoff between deliveries of a failing batch (the shared retry policy). */
  retry?: RetryPolicy
  /**
   * Called with the records that could not be processed by the time `stop()` gave up (see
   * `abandon`); they must be parked somewhere durable, since this queue dies with the process.
   * Without it they are logged, ids included, at error level.
   */
  park?: (records: InputRecord[], error: unknown) => Promise<void>
}

type Handler = (records: InputRecord[]) => Promise<BatchOutcome | void>

const eventIdOf = (record: InputRecord): string | undefined =>
  'event' in record ? record.event.event_id : undefined

/** One publish call: it resolves when the last of its records has been handled. */
interface Ticket {
  remaining: number
  duplicates: Set<string>
  resolve: (outcome: PublishOutcome) => void
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
  const retry = options.retry ?? { baseMs: 500, maxMs: 30_000 }
  const concurrency = options.concurrency ?? 1
  const queue: Queued[] = []
  let wake: (() => void) | undefined
  let stopping = false
  let abandoned = false
  const onAbandon: Array<() => void> = []
  let running: Promise<void> | undefined

  function notify(): void {
    wake?.()
    wake = undefined
  }

  /** Why the bus is not ready while a batch fails for a reason retrying cannot fix. */
  let failing: string | undefined
  /** Records taken by batches in flight (still counted against the capacity). */
  let inFlightRecords = 0

  /** Handles one batch until it is settled: retried while it fails, parked once abandoned. */
  async function run(batch: Queued[], handler: Handler): Promise<void> {
    const records = batch.map((queued) => queued.record)
    for (let attempt = 0; ; attempt++) {
      try {
        const outcome = await handler(records)
        failing = undefined
        const duplicateIds = outcome?.duplicateIds ?? []
        if (duplicateIds.length === 0) {
          // The usual case: every record was audited (or dead-lettered), none is a duplicate.
          for (const { ticket } of batch)
            if (--ticket.remaining === 0) ticket.resolve({ duplicates: ticket.duplicates })
          return
        }
        // The audit keeps the first copy of an id in the batch; the later ones are duplicates
        // (and so is every copy when the id was audited before).
        const duplicateCopies = new Map<string, number>()
        for (const id of duplicateIds) duplicateCopies.set(id, (duplicateCopies.get(id) ?? 0) + 1)
        const copies = new Map<string, number>()
        for (const { record } of batch) {
          const id = eventIdOf(record)
          if (id !== undefined) copies.set(id, (copies.get(id) ?? 0) + 1)
        }
        const seen = new Map<string, number>()
        for (const { ticket, record } of batch) {
          const id = eventIdOf(record)
          if (id !== undefined) {
            const index = (seen.get(id) ?? 0) + 1
            seen.set(id, index)
            const kept = copies.get(id)! - (duplicateCopies.get(id) ?? 0)
            if (index > kept) ticket.duplicates.add(id)
          }
          if (--ticket.remaining === 0) ticket.resolve({ duplicates: ticket.duplicates })
        }
        return
      } catch (error) {
        if (abandoned) {
          options.logger.error(
            { err: error, records: batch.length },
            'batch failed at shutdown; parking it',
          )
          try {
            if (options.park) await options.park(records, error)
            else throw error
          } catch (parkError) {
            // Whatever happens to the parking, the senders are answered.
            options.logger.error(
              { err: parkError, eventIds: records.map(eventIdOf) },
              'unprocessed events at shutdown',
            )
          }
          const notAccepted = new SpendGuardError(
            'the pipeline shut down before these events were audited; send them again',
            { code: 'SHUTTING_DOWN', retriable: true, cause: error },
          )
          for (const { ticket } of batch) ticket.reject(notAccepted)
          return
        }
        // Retrying will not fix it: say so on /readyz while the batch waits (it is not dropped).
        if (!isRetriable(error))
          failing = `a batch keeps failing and is retried with backoff: ${error instanceof Error ? error.message : String(error)}`
        const delayMs = retryDelay(retry, attempt, error)
        options.logger.error(
          { err: error, records: batch.length, attempt: attempt + 1, delayMs },
          'batch failed; retrying',
        )
        // A shutdown deadline cuts the wait short.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs)
          onAbandon.push(() => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
    }
  }

  async function loop(handler: Handler): Promise<void> {
    const inFlight = new Set<Promise<void>>()
    for (;;) {
      if (queue.length === 0 || inFlight.size >= concurrency) {
        if (queue.length === 0 && stopping && inFlight.size === 0) return
        // Wake on new input or on a batch finishing.
        await Promise.race([
          new Promise<void>((resolve) => (wake = resolve)),
          ...(inFlight.size > 0 ? [Promise.race(inFlight)] : []),
        ])
        continue
      }
      // While one batch is written the next is prepared: the store and the processor overlap.
      const batch = queue.splice(0, batchSize)
      inFlightRecords += batch.length
      const work = run(batch, handler).finally(() => {
        inFlightRecords -= batch.length
        inFlight.delete(work)
      })
      inFlight.add(work)
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
      if (queue.length + inFlightRecords + events.length > options.capacity)
        return Promise.reject(new BufferFullError(options.capacity))
      if (events.length === 0) return Promise.resolve()
      return new Promise<PublishOutcome>((resolve, reject) => {
        const ticket: Ticket = { remaining: events.length, duplicates: new Set(), resolve, reject }
        for (const event of events)
          queue.push({ record: { event, source: { kind: origin } }, ticket })
        notify()
      })
    },
    queued: () => queue.length + inFlightRecords,
    hasRoom: () => queue.length + inFlightRecords < options.capacity,
    start(handler) {
      running = loop(handler)
      return Promise.resolve()
    },
    readiness() {
      if (!running || stopping)
        return { ready: false, reason: running ? 'stopping' : 'not started' }
      if (failing !== undefined) return { ready: false, reason: failing }
      return { ready: true }
    },
    abandon() {
      abandoned = true
      for (const wake of onAbandon.splice(0)) wake()
    },
    async stop() {
      stopping = true
      notify()
      await running
    },
  }
}
