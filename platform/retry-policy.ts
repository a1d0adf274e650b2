import { isRetriable, SpendGuardError } from './errors.ts'

/**
 * The one retry policy of SpendGuard (audit sink, emitter, Kafka sources, and the alert
 * deliveries to come): retry only what says it is retriable, wait a doubling delay from
 * `baseMs` capped at `maxMs`, and take a server's Retry-After (capped too) over the doubling.
 */
export interface RetryPolicy {
  baseMs: number
  maxMs: number
  /** Retries after the first attempt; unlimited when undefined (a sink that must not drop). */
  maxRetries?: number | undefined
}

/** How long an error asks to wait (HTTP 429/503 Retry-After), when it says. */
export function retryAfterOf(error: unknown): number | undefined {
  if (!(error instanceof SpendGuardError) || !('retryAfterMs' in error)) return undefined
  const value = error.retryAfterMs
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

/** The wait before retry number `attempt` (0 for the first retry). */
export function retryDelay(policy: RetryPolicy, attempt: number, error?: unknown): number {
  const asked = retryAfterOf(error)
  return Math.min(policy.maxMs, asked ?? policy.baseMs * 2 ** Math.min(attempt, 30))
}

export interface RetryingOptions {
  policy: RetryPolicy
  sleep: (ms: number) => Promise<void>
  /** Called before each wait, to log and count. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void
  /** Stop retrying (and fail with the last error) once this says so. */
  giveUp?: (error: unknown) => boolean
}

/** Runs `work`, retrying retriable failures by the policy; the last error when it gives up. */
export async function retrying<T>(work: () => Promise<T>, options: RetryingOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      const exhausted =
        options.policy.maxRetries !== undefined && attempt >= options.policy.maxRetries
      if (!isRetriable(error) || exhausted || options.giveUp?.(error)) throw error
      const delayMs = retryDelay(options.policy, attempt, error)
      options.onRetry?.(error, attempt, delayMs)
      await options.sleep(delayMs)
    }
  }
}
