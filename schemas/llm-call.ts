import { z } from 'zod'

/**
 * The zod mirror of schemas/avro/llm_call.avsc: the same field names, the same optionality,
 * the same enum symbols (test/unit/schema-agreement.test.ts fails on any drift). It validates
 * every JSON boundary (HTTP ingest, replay files) and every decoded Avro record.
 */

/** Bounds that make an event "impossible" rather than merely unusual. */
export const LIMITS = {
  idLength: 256,
  textLength: 1024,
  tagCount: 64,
  tagKeyLength: 128,
  tagValueLength: 512,
  toolCallCount: 256,
  /** A single call above a billion tokens is a corrupt counter, not a call. */
  maxTokens: 1_000_000_000,
  maxLatencyMs: 24 * 60 * 60 * 1000,
  /** Event times outside [2015-01-01, 2100-01-01) UTC are absurd. */
  minTimeMs: Date.UTC(2015, 0, 1),
  maxTimeMs: Date.UTC(2100, 0, 1),
} as const

export const CALL_STATUSES = ['ok', 'error', 'timeout', 'blocked'] as const
export const ENDPOINTS = ['realtime', 'batch'] as const

// A lone UTF-16 surrogate survives JSON.parse but no store can hold it: ClickHouse refuses
// the whole insert. Such strings are rejected here, at the contract.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const unicode = (max: number) =>
  z
    .string()
    .max(max)
    .refine(
      (value) => !LONE_SURROGATE.test(value),
      'must be valid Unicode (it has a lone surrogate)',
    )
const id = unicode(LIMITS.idLength).min(1, 'must not be empty')
const text = unicode(LIMITS.textLength)
const tokens = z.int().nonnegative().max(LIMITS.maxTokens).default(0)

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/

/**
 * Parses ISO-8601 strictly and computes the instant itself: Date.parse alone would roll
 * 2026-02-30 over into March, and its handling of offsets without a colon is
 * implementation-defined. Fractions below a millisecond are truncated.
 */
export function parseIsoTime(value: string): number | undefined {
  const m = ISO_TIME.exec(value)
  if (!m) return undefined
  const part = (index: number): number => Number(m[index] ?? 0)
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map(part) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ]
  const millis = Number((m[7] ?? '').padEnd(3, '0').slice(0, 3))
  const sign = m[8] === '-' ? -1 : 1
  const offH = part(9)
  const offM = part(10)
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  const valid =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offH <= 23 &&
    offM <= 59
  if (!valid) return undefined
  const local = Date.UTC(year, month - 1, day, hour, minute, second, millis)
  return local - sign * (offH * 60 + offM) * 60_000
}

/** An event time: ISO-8601 with a zone, or epoch milliseconds; always yields epoch ms. */
const eventTime = z
  .union(
    [
      z.int(),
      z.string().transform((value, ctx) => {
        const ms = parseIsoTime(value)
        if (ms === undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `"${value.slice(0, 64)}" is not a valid ISO-8601 time with a zone`,
          })
          return z.NEVER
        }
        return ms
      }),
    ],
    { error: 'must be an ISO-8601 time with a zone, or epoch milliseconds' },
  )
  .refine((ms) => ms >= LIMITS.minTimeMs && ms < LIMITS.maxTimeMs, {
    message: 'is outside the plausible range 2015-01-01 .. 2100-01-01',
  })

const tagKey = unicode(LIMITS.tagKeyLength)
const tagValue = unicode(LIMITS.tagValueLength)

/**
 * Tags are data: every key is kept as an own property, `__proto__` and `constructor`
 * included (zod's record drops `__proto__`). The result has no prototype, so no key can
 * reach Object.prototype.
 */
const tagsSchema = z
  .custom<Record<string, unknown>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    { message: 'must be an object of string values' },
  )
  .transform((value, ctx) => {
    const entries = Object.entries(value)
    if (entries.length > LIMITS.tagCount) {
      ctx.addIssue({ code: 'custom', message: `must have at most ${LIMITS.tagCount} entries` })
      return z.NEVER
    }
    const tags = Object.create(null) as Record<string, string>
    for (const [key, raw] of entries) {
      const checked = tagKey.safeParse(key)
      const issue = checked.success ? tagValue.safeParse(raw).error : checked.error
      if (issue) {
        ctx.addIssue({ code: 'custom', path: [key], message: issue.issues[0]!.message })
        continue
      }
      Object.defineProperty(tags, key, {
        value: raw,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    }
    return tags
  })

/** The nil UUID is a placeholder, never the id of a real call. */
const NIL_UUID = '00000000-0000-0000-0000-000000000000'

/** Fits the audit's Decimal(38, 15): at most 23 integer digits and 15 decimals. */
const decimalUsd = z
  .string()
  .regex(
    /^\d{1,23}(\.\d{1,15})?$/,
    'must be a non-negative decimal USD string with at most 23 integer digits and 15 decimals',
  )

export const fallbackSchema = z.object({
  from_model: id,
  reason: text,
  exception_id: id.optional(),
})

export const llmCallSchema = z
  .object({
    // Lower-cased: the same id in another case is the same call (ClickHouse's UUID is too).
    event_id: z
      .uuid({ message: 'must be a UUID' })
      .refine((value) => value !== NIL_UUID, 'must not be the nil UUID')
      .transform((value) => value.toLowerCase()),
    occurred_at: eventTime,
    started_at: eventTime.optional(),
    tenant_id: id.default('default'),
    agent_id: id,
    agent_version: id.optional(),
    feature_id: id.optional(),
    user_id: id.optional(),
    session_id: id.optional(),
    team_id: id.optional(),
    environment: id.optional(),
    workflow_id: id.optional(),
    trace_id: id.optional(),
    span_id: id.optional(),
    parent_span_id: id.optional(),
    parent_agent_id: id.optional(),
    tags: tagsSchema.default({}),
    task_category: id.optional(),
    provider: id.optional(),
    model: id,
    response_model: id.optional(),
    endpoint: z.enum(ENDPOINTS).default('realtime'),
    input_tokens: tokens,
    output_tokens: tokens,
    cache_read_tokens: tokens,
    cache_write_tokens: tokens,
    reasoning_tokens: tokens,
    status: z.enum(CALL_STATUSES),
    error_type: text.optional(),
    stop_reason: text.optional(),
    latency_ms: z.int().nonnegative().max(LIMITS.maxLatencyMs).optional(),
    tool_calls: z.array(id).max(LIMITS.toolCallCount).default([]),
    request_fingerprint: id.optional(),
    content_simhash: z
      .string()
      .regex(/^[0-9a-f]{16}$/, 'must be 16 lowercase hex digits (a 64-bit simhash)')
      .optional(),
    iteration: z.int().nonnegative().max(LIMITS.maxTokens).optional(),
    fallback: fallbackSchema.optional(),
    provider_reported_cost: decimalUsd.optional(),
    // v2: what a bill needs, and usage that was never reported.
    cache_write_1h_tokens: tokens,
    service_tier: id.optional(),
    usage_reported: z.boolean().default(true),
  })
  .superRefine((call, ctx) => {
    // zod keeps checking after a field-level issue; a cross-field rule over a field that is
    // already reported (negative, not an integer) would only add a misleading second issue.
    const counts = [
      call.input_tokens,
      call.output_tokens,
      call.cache_read_tokens,
      call.cache_write_tokens,
      call.reasoning_tokens,
      call.cache_write_1h_tokens,
    ]
    if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0)) return
    if (call.cache_write_1h_tokens > call.cache_write_tokens) {
      ctx.addIssue({
        code: 'custom',
        path: ['cache_write_1h_tokens'],
        message: `cache_write_1h_tokens (${call.cache_write_1h_tokens}) exceed cache_write_tokens (${call.cache_write_tokens}); 1-hour writes are a part of the cache writes`,
      })
    }
    if (!call.usage_reported && counts.some((n) => n > 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['usage_reported'],
        message: 'is false, so the token counts must be left out (they are unknown, not zero)',
      })
    }
    if (call.cache_read_tokens + call.cache_write_tokens > call.input_tokens) {
      ctx.addIssue({
        code: 'custom',
        path: ['cache_read_tokens'],
        message: `cache_read_tokens + cache_write_tokens (${call.cache_read_tokens + call.cache_write_tokens}) exceed input_tokens (${call.input_tokens}); input_tokens must count cached input too`,
      })
    }
    if (call.reasoning_tokens > call.output_tokens) {
      ctx.addIssue({
        code: 'custom',
        path: ['reasoning_tokens'],
        message: `reasoning_tokens (${call.reasoning_tokens}) exceed output_tokens (${call.output_tokens}); output_tokens must count reasoning too`,
      })
    }
    if (call.started_at !== undefined && call.started_at > call.occurred_at) {
      ctx.addIssue({
        code: 'custom',
        path: ['started_at'],
        message: 'must not be after occurred_at (the end of the call)',
      })
    }
  })

/** What producers hand in: times may be ISO strings, defaulted fields may be left out. */
export type LlmCallInput = z.input<typeof llmCallSchema>
/** A validated event: times are epoch ms, defaults filled in. */
export type LlmCall = z.output<typeof llmCallSchema>
