import { retrying } from '../platform/retry-policy.ts'
import { ConfigError, SpendGuardError } from '../platform/errors.ts'
import { systemClock, type Clock } from '../platform/clock.ts'
import type { LlmCall, LlmCallInput } from '../schemas/llm-call.ts'
import { parseLlmCall } from '../schemas/validate.ts'

/** Where batches of validated events go: Kafka, HTTP ingest, or an in-process sink. */
export interface EmitterTransport {
  /** Delivers the batch or throws; a SpendGuardError with `retriable: true` is retried. */
  send(events: LlmCall[]): Promise<void>
  close(): Promise<void>
}

/** Timer functions, injectable so lingers and backoffs are tested without sleeping. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

/** Where the emitter reports retries, drops and failures: a pino logger fits as it is. */
export interface EmitterLogger {
  child(bindings: Record<string, unknown>): EmitterLogger
  warn(fields: Record<string, unknown>, message: string): void
  error(fields: Record<string, unknown>, message: string): void
}

const SILENT: EmitterLogger = { child: () => SILENT, warn: () => {}, error: () => {} }

export interface EmitterOptions {
  transport: EmitterTransport
  /** Default: nothing is logged (`stats()` still counts drops and failures). */
  logger?: EmitterLogger
  /** Rate-limits the "buffer full" log line. Default: system clock. */
  clock?: Clock
  /** A batch is sent as soon as this many events are queued. Default 100. */
  maxBatchSize?: number
  /** Otherwise it is sent this long after the first event was queued. Default 50 ms. */
  lingerMs?: number
  /** Queued plus in-flight events; beyond this `emit` drops and returns false. Default 10 000. */
  maxBufferedEvents?: number
  /** Retries of a batch after a retriable failure. Default 5. */
  maxRetries?: number
  /** First retry delay, doubled per attempt. Default 200 ms. */
  retryBackoffMs?: number
  /** Cap on any retry delay, a server's Retry-After included. Default 30 000 ms. */
  maxRetryBackoffMs?: number
  /** At most one "buffer full" warning per interval. Default 1 000 ms. */
  dropLogIntervalMs?: number
  timers?: Timers
}

export interface EmitterStats {
  /** Events validated and queued. */
  accepted: number
  /** Events the transport confirmed. */
  sent: number
  /** Events refused by `emit` because the buffer was full. */
  dropped: number
  /** Events given up on: non-retriable failure, retries exhausted, or rejected by the server. */
  failed: number
  /** Events queued or in flight now. */
  buffered: number
}

export interface Emitter {
  /**
   * Validates and queues one event without blocking. Throws ValidationError naming the bad
   * field; returns false (and counts a drop) when the buffer is full.
   */
  emit(input: LlmCallInput): boolean
  /** Resolves when every event queued before the call has been sent or counted as failed. */
  flush(): Promise<void>
  /** Stops accepting events, flushes, and closes the transport. */
  close(): Promise<void>
  stats(): EmitterStats
}

/**
 * A send in which part of the batch was delivered and the rest refused for good (for example
 * the HTTP ingest rejecting some items). The emitter counts `delivered` as sent, the rest as
 * failed. Never retriable: retrying would resend the delivered part.
 */
export class PartialSendError extends SpendGuardError {
  readonly delivered: number

  constructor(message: string, options: { code: string; delivered: number; cause?: unknown }) {
    super(message, { code: options.code, retriable: false, cause: options.cause })
    this.delivered = options.delivered
  }
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
}

interface FlushWaiter {
  /** Resolved once `sent + failed` reaches this many events. */
  target: number
  resolve: () => void
}

/**
 * Builds an emitter: validates events synchronously, buffers them up to a bound, and sends
 * them in order in batches, one batch in flight at a time, retrying retriable failures.
 */
export function createEmitter(options: EmitterOptions): Emitter {
  const { transport } = options
  const logger = (options.logger ?? SILENT).child({ component: 'emitter' })
  const clock = options.clock ?? systemClock
  const timers = options.timers ?? defaultTimers
  const maxBatchSize = positive('maxBatchSize', options.maxBatchSize ?? 100)
  const lingerMs = options.lingerMs ?? 50
  const capacity = positive('maxBufferedEvents', options.maxBufferedEvents ?? 10_000)
  const maxRetries = options.maxRetries ?? 5
  const retryBackoffMs = options.retryBackoffMs ?? 200
  const maxRetryBackoffMs = options.maxRetryBackoffMs ?? 30_000
  const dropLogIntervalMs = options.dropLogIntervalMs ?? 1_000

  const queue: LlmCall[] = []
  let inFlight = 0
  let accepted = 0
  let sent = 0
  let dropped = 0
  let failed = 0
  let droppedSinceLog = 0
  let lastDropLogAt: number | undefined
  let lingerTimer: unknown
  let lingerExpired = false
  let sending: Promise<void> | undefined
  let closing: Promise<void> | undefined
  const waiters: FlushWaiter[] = []

  function due(): boolean {
    if (queue.length === 0) return false
    return queue.length >= maxBatchSize || lingerExpired || waiters.length > 0
  }

  function armLinger(): void {
    if (lingerTimer !== undefined || queue.length === 0 || due()) return
    lingerTimer = timers.setTimeout(() => {
      lingerTimer = undefined
      lingerExpired = true
      kick()
    }, lingerMs)
  }

  function kick(): void {
    if (sending) return
    sending = pump()
      .catch((error: unknown) => logger.error({ err: error }, 'emitter send loop failed'))
      .finally(() => {
        sending = undefined
        // An emit between the loop's last check and here must not wait for the next linger.
        if (due()) kick()
        else armLinger()
      })
  }

  async function pump(): Promise<void> {
    while (due()) {
      if (lingerTimer !== undefined) {
        timers.clearTimeout(lingerTimer)
        lingerTimer = undefined
      }
      const batch = queue.splice(0, maxBatchSize)
      if (queue.length === 0) lingerExpired = false
      inFlight = batch.length
      await deliver(batch)
      inFlight = 0
      resolveWaiters()
    }
  }

  /** Waiters are in target order: targets are `accepted` at the time of each flush call. */
  function resolveWaiters(): void {
    while (waiters[0] !== undefined && waiters[0].target <= sent + failed)
      waiters.shift()!.resolve()
  }

  /** Sends one batch, retrying retriable failures; never throws, every event ends counted. */
  async function deliver(batch: LlmCall[]): Promise<void> {
    let attempts = 1
    try {
      await retrying(() => transport.send(batch), {
        policy: { baseMs: retryBackoffMs, maxMs: maxRetryBackoffMs, maxRetries },
        sleep,
        onRetry(error, attempt, delayMs) {
          attempts = attempt + 2
          logger.warn(
            { err: error, events: batch.length, attempt: attempt + 1, delay_ms: delayMs },
            'send failed; retrying',
          )
        },
      })
      sent += batch.length
    } catch (error) {
      const delivered =
        error instanceof PartialSendError ? Math.min(batch.length, error.delivered) : 0
      sent += delivered
      failed += batch.length - delivered
      logger.error(
        {
          err: error,
          events: batch.length,
          failed: batch.length - delivered,
          attempts,
          first_event_id: batch[0]?.event_id,
        },
        'send failed; events counted as failed',
      )
    }
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => timers.setTimeout(resolve, ms))
  }

  function recordDrop(): void {
    dropped++
    droppedSinceLog++
    const now = clock.now()
    if (lastDropLogAt === undefined || now - lastDropLogAt >= dropLogIntervalMs) {
      logDrops(now)
    }
  }

  function logDrops(now: number): void {
    logger.warn(
      { code: 'BUFFER_FULL', dropped: droppedSinceLog, dropped_total: dropped, capacity },
      'emitter buffer full; events dropped',
    )
    droppedSinceLog = 0
    lastDropLogAt = now
  }

  function emit(input: LlmCallInput): boolean {
    if (closing) throw new SpendGuardError('emitter is closed', { code: 'EMITTER_CLOSED' })
    const event = parseLlmCall(input)
    if (queue.length + inFlight >= capacity) {
      recordDrop()
      return false
    }
    queue.push(event)
    accepted++
    if (due()) kick()
    else if (!sending) armLinger()
    return true
  }

  function flush(): Promise<void> {
    if (sent + failed >= accepted) return Promise.resolve()
    const done = new Promise<void>((resolve) => waiters.push({ target: accepted, resolve }))
    kick()
    return done
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      await flush()
      if (lingerTimer !== undefined) timers.clearTimeout(lingerTimer)
      lingerTimer = undefined
      if (droppedSinceLog > 0) logDrops(clock.now())
      await transport.close()
    })()
    return closing
  }

  return {
    emit,
    flush,
    close,
    stats: () => ({ accepted, sent, dropped, failed, buffered: queue.length + inFlight }),
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(`emitter option ${name} must be a positive integer, got ${value}`)
  }
  return value
}
