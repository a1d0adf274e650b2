import { createHash } from 'node:crypto'
import { canonicalProvider } from '../processors/pricing/model-id.ts'
import { checkLlmCall } from '../schemas/validate.ts'
import { HttpError } from './http-error.ts'
import type { BodyItem } from './ingest-request.ts'
import {
  attributeReader,
  SPAN_FIELDS,
  TAG_PREFIX,
  TOKEN_FIELDS,
  type AttributeReader,
  type OtlpKeyValue,
} from './otlp-attributes.ts'

/**
 * OTLP/HTTP JSON traces (an `ExportTraceServiceRequest`) read as `llm_call` events. Each span
 * that records a GenAI model call (OpenTelemetry GenAI semantic conventions) becomes one item;
 * every other span of the export is skipped. The mapping is documented in docs/otlp.md.
 */

interface OtlpSpan {
  traceId?: unknown
  spanId?: unknown
  parentSpanId?: unknown
  name?: unknown
  startTimeUnixNano?: unknown
  endTimeUnixNano?: unknown
  attributes?: unknown
  status?: { code?: unknown }
}

/** Operations that are model calls: each is billed by the provider. */
const CALL_OPERATIONS = new Set(['chat', 'generate_content', 'text_completion', 'embeddings'])

/**
 * Operations around model calls, never calls themselves: an agent invocation's usage, when it
 * reports any, sums the calls it made, which have spans of their own.
 */
const WRAPPER_OPERATIONS = new Set(['invoke_agent', 'create_agent', 'execute_tool'])

/** `gen_ai.provider.name` values the pricer does not know under that name. */
const PROVIDER_NAMES: Readonly<Record<string, string>> = {
  'gcp.gen_ai': 'google',
  'azure.ai.inference': 'azure',
}

/** Names `event_id`s derived from spans (UUID version 5): fixed forever, or resends change id. */
const SPAN_ID_NAMESPACE = Buffer.from('d86112d5b6084210b38d7bdfe12153f0', 'hex')

/**
 * The event id of a span: a name-based UUID (version 5, SHA-1) of `<traceId>:<spanId>` in
 * lowercase hex, so a resent span is the same event and is answered `duplicate`.
 */
export function spanEventId(traceId: string, spanId: string): string {
  const name = `${traceId.toLowerCase()}:${spanId.toLowerCase()}`
  const bytes = createHash('sha1').update(SPAN_ID_NAMESPACE).update(name).digest().subarray(0, 16)
  bytes[6] = (bytes[6]! & 0x0f) | 0x50
  bytes[8] = (bytes[8]! & 0x3f) | 0x80
  const hex = bytes.toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/**
 * The GenAI model-call spans of an OTLP/HTTP JSON export, in export order, each an item to
 * validate as an `llm_call` event: the event, or why the span cannot be one (naming the span
 * and the attribute), and how many other spans were skipped. A body that is not an export is
 * answered 400 as a whole.
 */
export function spanItems(body: string): { items: BodyItem[]; skipped: number } {
  let document: unknown
  try {
    document = JSON.parse(body)
  } catch (error) {
    throw new HttpError(400, `the body is not JSON: ${(error as Error).message}`)
  }
  const resourceSpans = isObject(document) ? document.resourceSpans : undefined
  if (!Array.isArray(resourceSpans))
    throw new HttpError(
      400,
      'the body is not an OTLP trace export: expected a JSON object with a "resourceSpans" array (OTLP/HTTP JSON encoding)',
    )
  const items: BodyItem[] = []
  let spans = 0
  resourceSpans.forEach((entry: unknown, r) => {
    const at = `resourceSpans[${r}]`
    const group = isObject(entry) ? entry : {}
    const resource = isObject(group.resource) ? group.resource : {}
    const resourceAttributes = listAt(resource.attributes, `${at}.resource.attributes`)
    listAt(group.scopeSpans, `${at}.scopeSpans`).forEach((scope, s) => {
      const scoped = isObject(scope) ? scope.spans : undefined
      for (const span of listAt(scoped, `${at}.scopeSpans[${s}].spans`)) {
        spans += 1
        const item = spanItem(span, resourceAttributes as OtlpKeyValue[])
        if (item) items.push(item)
      }
    })
  })
  return { items, skipped: spans - items.length }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A repeated field of the export: absent is empty, anything but an array breaks the body. */
function listAt(value: unknown, where: string): unknown[] {
  if (value === undefined || value === null) return []
  if (!Array.isArray(value))
    throw new HttpError(400, `the body is not an OTLP trace export: ${where} is not an array`)
  return value
}

const HEX_TRACE_ID = /^[0-9a-f]{32}$/i
const HEX_SPAN_ID = /^[0-9a-f]{16}$/i

/** One span as an item, or undefined when it is not a GenAI model call. */
function spanItem(raw: unknown, resourceAttributes: OtlpKeyValue[]): BodyItem | undefined {
  const span: OtlpSpan = isObject(raw) ? raw : {}
  const spanAttributes = Array.isArray(span.attributes) ? (span.attributes as OtlpKeyValue[]) : []
  // What the call was is the span's own business; who made it may be said by its resource.
  const call = attributeReader(spanAttributes)
  const who = attributeReader(spanAttributes, resourceAttributes)
  const operation = call.text('gen_ai.operation.name')
  const requested = call.text('gen_ai.request.model')
  const answered = call.text('gen_ai.response.model')
  const isCall = operation?.value
    ? !WRAPPER_OPERATIONS.has(operation.value) &&
      (CALL_OPERATIONS.has(operation.value) || requested !== undefined || answered !== undefined)
    : requested !== undefined || answered !== undefined
  if (!isCall) return undefined

  const traceId = typeof span.traceId === 'string' ? span.traceId.toLowerCase() : ''
  const spanId = typeof span.spanId === 'string' ? span.spanId.toLowerCase() : ''
  const name =
    typeof span.name === 'string' && span.name !== '' ? ` (${span.name.slice(0, 80)})` : ''
  const label = `span ${spanId || '?'}${name}`
  const fail = (reason: string): BodyItem => ({ error: `${label}: ${reason}` })
  if (!HEX_SPAN_ID.test(spanId) || /^0+$/.test(spanId))
    return fail('spanId must be 16 hex digits, not all zero')
  if (!HEX_TRACE_ID.test(traceId) || /^0+$/.test(traceId))
    return fail('traceId must be 32 hex digits, not all zero')
  const model = requested ?? answered
  if (!model) return fail('no gen_ai.request.model or gen_ai.response.model attribute')
  const ended = epochMs(span.endTimeUnixNano)
  if (ended === undefined) return fail('endTimeUnixNano is missing or not a time in nanoseconds')
  const started = epochMs(span.startTimeUnixNano)

  const event: Record<string, unknown> = {
    event_id: spanEventId(traceId, spanId),
    occurred_at: ended,
    trace_id: traceId,
    span_id: spanId,
    model: model.value,
  }
  /** Which attribute each event field came from, to name it when the event is refused. */
  const origin: Record<string, string> = { model: model.key }
  const set = (field: string, found: { key: string; value: unknown } | undefined) => {
    if (found === undefined) return
    event[field] = found.value
    origin[field] = found.key
  }
  if (started !== undefined && started <= ended) {
    event.started_at = started
    event.latency_ms = ended - started
  }
  const parent = typeof span.parentSpanId === 'string' ? span.parentSpanId.toLowerCase() : ''
  if (HEX_SPAN_ID.test(parent) && !/^0+$/.test(parent)) event.parent_span_id = parent
  if (answered) set('response_model', answered)
  const provider = call.first(['gen_ai.provider.name', 'gen_ai.system'])
  if (provider) {
    const named = provider.value.trim().toLowerCase()
    set('provider', { key: provider.key, value: canonicalProvider(PROVIDER_NAMES[named] ?? named) })
  }
  for (const [field, keys] of SPAN_FIELDS) set(field, who.first(keys))
  if (event.agent_id === undefined)
    return fail(
      'no agent: set gen_ai.agent.name or spendguard.agent_id on the span, or service.name on the resource',
    )

  let usage = false
  for (const [field, keys] of TOKEN_FIELDS) {
    const count = call.count(keys)
    if (count === undefined) continue
    if ('problem' in count) return fail(`${count.key} ${count.problem}`)
    set(field, count)
    if (field === 'input_tokens' || field === 'output_tokens') usage = true
  }
  // Neither count reported: the call's usage is unknown (priced as such), not zero.
  if (!usage) {
    for (const [field] of TOKEN_FIELDS) delete event[field]
    event.usage_reported = false
  }

  const iteration = call.count(['spendguard.iteration'])
  if (iteration && 'problem' in iteration) return fail(`${iteration.key} ${iteration.problem}`)
  set('iteration', iteration)
  const tags = who.prefixed(TAG_PREFIX)
  if (Object.keys(tags).length > 0) event.tags = tags
  Object.assign(event, outcome(call, span.status))

  const checked = checkLlmCall(event)
  if (!checked.ok)
    return fail(
      checked.issues
        .map((issue) => {
          const field = issue.path.split('.')[0] ?? ''
          const from = origin[field] ? ` (from ${origin[field]})` : ''
          return `${issue.path || 'event'}${from}: ${issue.message}`
        })
        .join('; '),
    )
  return { value: event }
}

/** Nanoseconds since the epoch (a decimal string, or a number) as whole milliseconds. */
function epochMs(nanos: unknown): number | undefined {
  if (typeof nanos === 'string' && /^\d{1,20}$/.test(nanos)) {
    const ms = Number(BigInt(nanos) / 1_000_000n)
    return ms > 0 ? ms : undefined
  }
  if (typeof nanos === 'number' && Number.isFinite(nanos) && nanos > 0)
    return Math.floor(nanos / 1_000_000)
  return undefined
}

/** Span status 2 (`STATUS_CODE_ERROR`) or an `error.type`: failed; a timeout by its type. */
function outcome(read: AttributeReader, status: OtlpSpan['status']): Record<string, unknown> {
  const errorType = read.text('error.type')?.value
  const code = isObject(status) ? status.code : undefined
  const failed = code === 2 || code === 'STATUS_CODE_ERROR' || errorType !== undefined
  const reasons = read.texts('gen_ai.response.finish_reasons')
  return {
    status: !failed
      ? 'ok'
      : errorType && /time[_ -]?out|timed[_ -]?out/i.test(errorType)
        ? 'timeout'
        : 'error',
    ...(failed && errorType ? { error_type: errorType } : {}),
    ...(reasons.length > 0 ? { stop_reason: reasons.join(',').slice(0, 1024) } : {}),
  }
}
