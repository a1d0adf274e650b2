import { z } from 'zod'
import { systemClock, type Clock } from '../platform/clock.ts'
import { SpendGuardError, type FieldIssue } from '../platform/errors.ts'
import type { LlmCall } from '../schemas/llm-call.ts'
import { PartialSendError, type EmitterTransport } from './emitter.ts'

export interface HttpTransportOptions {
  /** Base URL of the SpendGuard HTTP API; events go to `${url}/v1/events`. */
  url: string
  /** Default: the global fetch. */
  fetch?: typeof fetch
  /** An ingest token of the SpendGuard API, sent as `Authorization: Bearer <token>`. */
  token?: string
  /** Extra request headers. */
  headers?: Record<string, string>
  /** Per-request timeout; a timeout is retriable. Default 10 000 ms. */
  timeoutMs?: number
  /** Turns a Retry-After HTTP date into a delay. Default: system clock. */
  clock?: Clock
}

/** The ingest could not be reached or answered with a transient or unexpected status. */
export class HttpSendError extends SpendGuardError {
  readonly status: number | undefined
  /** From Retry-After; the emitter waits this long before its next attempt. */
  readonly retryAfterMs: number | undefined

  constructor(
    message: string,
    options: { retriable: boolean; status?: number; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, { code: 'HTTP_SEND_FAILED', retriable: options.retriable, cause: options.cause })
    this.status = options.status
    this.retryAfterMs = options.retryAfterMs
  }
}

export interface RejectedItem {
  index: number
  event_id?: string | undefined
  errors: FieldIssue[]
}

/** The ingest refused some events for good; the others were stored (or already were). */
export class HttpIngestRejectedError extends PartialSendError {
  readonly rejected: readonly RejectedItem[]
  /** Field-level problems, path prefixed by the event's batch index: `[3].input_tokens`. */
  readonly issues: readonly FieldIssue[]

  constructor(rejected: RejectedItem[], rejectedCount: number, delivered: number) {
    const issues = rejected.flatMap((item) =>
      (item.errors.length > 0 ? item.errors : [{ path: '', message: 'rejected' }]).map((e) => ({
        path: `[${item.index}]${e.path ? `.${e.path}` : ''}`,
        message: e.message,
      })),
    )
    const listed = issues.map((i) => `${i.path}: ${i.message}`).join('; ')
    super(`HTTP ingest rejected ${rejectedCount} events${listed ? `: ${listed}` : ''}`, {
      code: 'HTTP_INGEST_REJECTED',
      delivered,
    })
    this.rejected = rejected
    this.issues = issues
  }
}

const ingestResponseSchema = z.object({
  accepted: z.number(),
  rejected: z.number(),
  results: z.array(
    z.object({
      index: z.int().nonnegative(),
      event_id: z.string().optional(),
      status: z.enum(['accepted', 'duplicate', 'rejected']),
      errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  ),
})

/** Statuses worth retrying besides 5xx: the server asked us to slow down or timed out. */
const RETRIABLE_STATUSES = new Set([408, 425, 429])

/** POSTs batches of events as a JSON array to the SpendGuard HTTP ingest. */
export function createHttpTransport(options: HttpTransportOptions): EmitterTransport {
  const endpoint = `${options.url.replace(/\/+$/, '')}/v1/events`
  const doFetch = options.fetch ?? fetch
  const timeoutMs = options.timeoutMs ?? 10_000
  const clock = options.clock ?? systemClock

  return {
    async send(events) {
      let response: Response
      try {
        response = await doFetch(endpoint, {
          method: 'POST',
          headers: {
            ...options.headers,
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
            'content-type': 'application/json',
          },
          body: JSON.stringify(events),
          signal: AbortSignal.timeout(timeoutMs),
        })
      } catch (cause) {
        throw new HttpSendError(`POST ${endpoint} failed: ${describe(cause)}`, {
          retriable: true,
          cause,
        })
      }
      const body = await response.text().catch(() => '')
      const ok = response.status === 200 || response.status === 207
      // The ingest answers 400 with per-item results when it rejected every item.
      const results = ok || response.status === 400 ? parseResults(body) : undefined
      if (results) return checkResults(events, results)
      if (ok) {
        throw new HttpSendError(`POST ${endpoint}: unexpected response body`, {
          retriable: false,
          status: response.status,
        })
      }
      const retriable = response.status >= 500 || RETRIABLE_STATUSES.has(response.status)
      throw new HttpSendError(
        `POST ${endpoint} answered ${response.status}${body ? `: ${body.slice(0, 500)}` : ''}`,
        {
          retriable,
          status: response.status,
          retryAfterMs: retriable ? parseRetryAfter(response.headers, clock) : undefined,
        },
      )
    },
    close() {
      return Promise.resolve()
    },
  }
}

type IngestResponse = z.infer<typeof ingestResponseSchema>

function parseResults(body: string): IngestResponse | undefined {
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return undefined // not the ingest's JSON answer; the status decides
  }
  const parsed = ingestResponseSchema.safeParse(json)
  return parsed.success ? parsed.data : undefined
}

function checkResults(events: LlmCall[], response: IngestResponse): void {
  const rejected: RejectedItem[] = response.results
    .filter((result) => result.status === 'rejected')
    .map((result) => ({
      index: result.index,
      event_id: result.event_id ?? events[result.index]?.event_id,
      errors: result.errors ?? [],
    }))
  // Trust the larger count: a server may summarise without listing every item.
  const rejectedCount = Math.min(events.length, Math.max(rejected.length, response.rejected))
  if (rejectedCount > 0) {
    throw new HttpIngestRejectedError(rejected, rejectedCount, events.length - rejectedCount)
  }
}

/** Retry-After is either delay-seconds or an HTTP date. */
export function parseRetryAfter(headers: Headers, clock: Clock): number | undefined {
  const value = headers.get('retry-after')?.trim()
  if (!value) return undefined
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - clock.now())
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause)
  const inner = cause.cause instanceof Error ? ` (${cause.cause.message})` : ''
  return `${cause.message}${inner}`
}
