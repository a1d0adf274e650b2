import { CALL_STATUSES, ENDPOINTS, LIMITS, parseIsoTime, type LlmCall } from './llm-call.ts'

/**
 * A second copy of the llm_call contract for the hot path, that only ever accepts: it returns
 * the validated event when every rule clearly holds, and undefined for anything doubtful (a
 * wrong type, a limit, an unusual form such as an upper-case UUID or a `fallback`), which then
 * goes to the zod schema, whose field-level errors stay the only ones users see. Whatever this
 * accepts, zod accepts with the same output (fields zod leaves out are undefined here, which
 * reads the same): `test/unit/fast-validate.test.ts` checks that on generated inputs in CI.
 *
 * Written for speed: one object literal of a fixed shape, no closures per call.
 */

const LOWER_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const NIL_UUID = '00000000-0000-0000-0000-000000000000'
const SURROGATE = /[\uD800-\uDFFF]/
const SIMHASH = /^[0-9a-f]{16}$/
const DECIMAL_USD = /^\d{1,23}(\.\d{1,15})?$/

/** Set by a check that fails; read once the event is built (one check per call, no closures). */
let failed = false
/** Whether null stands for an absent field (Avro records), or is a wrong value (JSON). */
let nullIsAbsent = false

const isText = (value: unknown, min: number, max: number): value is string =>
  typeof value === 'string' && value.length >= min && value.length <= max && !SURROGATE.test(value)

function absent(value: unknown): boolean {
  if (value === undefined) return true
  if (value === null) {
    if (!nullIsAbsent) failed = true
    return true
  }
  return false
}

function requiredId(value: unknown): string {
  if (!isText(value, 1, LIMITS.idLength)) failed = true
  return value as string
}

function optionalText(value: unknown, min: number, max: number): string | undefined {
  if (absent(value)) return undefined
  if (!isText(value, min, max)) failed = true
  return value as string
}

const optionalId = (value: unknown) => optionalText(value, 1, LIMITS.idLength)

function count(value: unknown, max: number, fallback: number | undefined): number | undefined {
  if (absent(value)) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max)
    failed = true
  return value as number
}

const tokens = (value: unknown): number => count(value, LIMITS.maxTokens, 0)!

function eventTime(value: unknown): number {
  const ms =
    typeof value === 'number'
      ? Number.isInteger(value)
        ? value
        : undefined
      : typeof value === 'string'
        ? parseIsoTime(value)
        : undefined
  if (ms === undefined || ms < LIMITS.minTimeMs || ms >= LIMITS.maxTimeMs) failed = true
  return ms!
}

function pattern(value: unknown, regex: RegExp): string | undefined {
  if (absent(value)) return undefined
  if (typeof value !== 'string' || !regex.test(value)) failed = true
  return value as string
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback
  if (!(allowed as readonly unknown[]).includes(value)) failed = true
  return value as T
}

function tagsOf(value: unknown): Record<string, string> {
  if (absent(value)) return {}
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    failed = true
    return {}
  }
  const keys = Object.keys(value)
  if (keys.length > LIMITS.tagCount) failed = true
  // No prototype: a `__proto__` key is an ordinary key here.
  const tags = Object.create(null) as Record<string, string>
  for (const key of keys) {
    const raw = (value as Record<string, unknown>)[key]
    if (!isText(key, 0, LIMITS.tagKeyLength) || !isText(raw, 0, LIMITS.tagValueLength))
      failed = true
    tags[key] = raw as string
  }
  return tags
}

function toolCallsOf(value: unknown): string[] {
  if (absent(value)) return []
  if (!Array.isArray(value) || value.length > LIMITS.toolCallCount) {
    failed = true
    return []
  }
  for (const name of value) if (!isText(name, 1, LIMITS.idLength)) failed = true
  return [...(value as string[])]
}

export interface FastCheckOptions {
  /**
   * The candidate is an Avro record as avsc decodes it: every field present, null where the
   * event left it out. zod sees such a record with its nulls removed (`fromAvroRecord`).
   */
  nullIsAbsent?: boolean
}

/** The validated event when it clearly holds to the contract; undefined: ask zod. */
export function fastCheckLlmCall(
  candidate: unknown,
  options: FastCheckOptions = {},
): LlmCall | undefined {
  if (typeof candidate !== 'object' || candidate === null || Array.isArray(candidate))
    return undefined
  const input = candidate as Record<string, unknown>
  failed = false
  nullIsAbsent = options.nullIsAbsent === true
  // A fallback (a rare, nested field) is left to zod.
  if (!absent(input.fallback) || failed) return undefined
  const eventId = input.event_id
  if (typeof eventId !== 'string' || !LOWER_UUID.test(eventId) || eventId === NIL_UUID)
    return undefined

  const startedAt = absent(input.started_at) ? undefined : eventTime(input.started_at)
  const usageReported = absent(input.usage_reported) ? true : input.usage_reported
  if (typeof usageReported !== 'boolean') return undefined
  const call: LlmCall = {
    event_id: eventId,
    occurred_at: eventTime(input.occurred_at),
    started_at: startedAt,
    tenant_id: absent(input.tenant_id) ? 'default' : requiredId(input.tenant_id),
    agent_id: requiredId(input.agent_id),
    agent_version: optionalId(input.agent_version),
    feature_id: optionalId(input.feature_id),
    user_id: optionalId(input.user_id),
    session_id: optionalId(input.session_id),
    team_id: optionalId(input.team_id),
    environment: optionalId(input.environment),
    workflow_id: optionalId(input.workflow_id),
    trace_id: optionalId(input.trace_id),
    span_id: optionalId(input.span_id),
    parent_span_id: optionalId(input.parent_span_id),
    parent_agent_id: optionalId(input.parent_agent_id),
    tags: tagsOf(input.tags),
    task_category: optionalId(input.task_category),
    provider: optionalId(input.provider),
    model: requiredId(input.model),
    response_model: optionalId(input.response_model),
    endpoint: oneOf(absent(input.endpoint) ? undefined : input.endpoint, ENDPOINTS, 'realtime'),
    input_tokens: tokens(input.input_tokens),
    output_tokens: tokens(input.output_tokens),
    cache_read_tokens: tokens(input.cache_read_tokens),
    cache_write_tokens: tokens(input.cache_write_tokens),
    reasoning_tokens: tokens(input.reasoning_tokens),
    status: oneOf(input.status, CALL_STATUSES),
    error_type: optionalText(input.error_type, 0, LIMITS.textLength),
    stop_reason: optionalText(input.stop_reason, 0, LIMITS.textLength),
    latency_ms: count(input.latency_ms, LIMITS.maxLatencyMs, undefined),
    tool_calls: toolCallsOf(input.tool_calls),
    request_fingerprint: optionalId(input.request_fingerprint),
    content_simhash: pattern(input.content_simhash, SIMHASH),
    iteration: count(input.iteration, LIMITS.maxTokens, undefined),
    fallback: undefined,
    provider_reported_cost: pattern(input.provider_reported_cost, DECIMAL_USD),
    cache_write_1h_tokens: tokens(input.cache_write_1h_tokens),
    service_tier: optionalId(input.service_tier),
    usage_reported: usageReported,
  }
  if (failed) return undefined
  // The cross-field rules: any doubt goes to zod, which says which rule and why.
  if (startedAt !== undefined && startedAt > call.occurred_at) return undefined
  if (call.cache_write_1h_tokens > call.cache_write_tokens) return undefined
  if (call.cache_read_tokens + call.cache_write_tokens > call.input_tokens) return undefined
  if (call.reasoning_tokens > call.output_tokens) return undefined
  if (
    !call.usage_reported &&
    (call.input_tokens > 0 ||
      call.output_tokens > 0 ||
      call.cache_read_tokens > 0 ||
      call.cache_write_tokens > 0 ||
      call.reasoning_tokens > 0 ||
      call.cache_write_1h_tokens > 0)
  )
    return undefined
  return call
}
