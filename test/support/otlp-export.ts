import { randomBytes } from 'node:crypto'

/**
 * Builders of OTLP/HTTP JSON trace exports (`ExportTraceServiceRequest`) shaped like those an
 * OpenTelemetry SDK sends with a GenAI instrumentation loaded: a resource, scopes, and spans
 * whose times are nanosecond strings and whose ids are hex.
 */

export type AttributeValue = string | number | boolean | string[]

export interface OtlpSpanJson {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  kind: number
  /** Nanoseconds: SDKs send decimal strings, the OTLP examples numbers. */
  startTimeUnixNano: string | number
  endTimeUnixNano: string | number
  attributes: unknown[]
  status?: { code?: number; message?: string }
  [other: string]: unknown
}

/** Attributes in OTLP JSON form; whole numbers become `intValue` decimal strings (64-bit safe). */
export function otlpAttributes(values: Record<string, AttributeValue>): unknown[] {
  return Object.entries(values).map(([key, value]) => ({ key, value: anyValue(value) }))
}

function anyValue(value: AttributeValue): unknown {
  if (Array.isArray(value))
    return { arrayValue: { values: value.map((v) => ({ stringValue: v })) } }
  if (typeof value === 'boolean') return { boolValue: value }
  if (typeof value === 'number')
    return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value }
  return { stringValue: value }
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex')
export const newTraceId = () => hex(16)
export const newSpanId = () => hex(8)

/** Epoch milliseconds as OTLP's nanosecond string. */
export const nanos = (ms: number) => `${BigInt(ms) * 1_000_000n}`

export interface GenAiSpanOptions {
  traceId?: string
  spanId?: string
  parentSpanId?: string
  /** When the call ended, epoch ms. */
  endMs: number
  durationMs?: number
  /** Attributes over the chat-call defaults below; `undefined` removes a default. */
  attributes?: Record<string, AttributeValue | undefined>
  status?: { code?: number; message?: string }
}

/**
 * A chat-completion client span as the OpenAI instrumentations record it: `chat <model>`,
 * kind CLIENT, the GenAI request, response and usage attributes.
 */
export function genAiSpan(options: GenAiSpanOptions): OtlpSpanJson {
  const defaults: Record<string, AttributeValue> = {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.request.temperature': 0.2,
    'gen_ai.response.model': 'gpt-4o-2024-08-06',
    'gen_ai.response.id': 'chatcmpl-' + hex(6),
    'gen_ai.response.finish_reasons': ['stop'],
    'gen_ai.usage.input_tokens': 1200,
    'gen_ai.usage.output_tokens': 300,
    'gen_ai.usage.cache_read.input_tokens': 200,
    'server.address': 'api.openai.com',
    'server.port': 443,
  }
  const attributes: Record<string, AttributeValue> = { ...defaults }
  for (const [key, value] of Object.entries(options.attributes ?? {}))
    if (value === undefined) delete attributes[key]
    else attributes[key] = value
  const start = options.endMs - (options.durationMs ?? 850)
  return {
    traceId: options.traceId ?? newTraceId(),
    spanId: options.spanId ?? newSpanId(),
    ...(options.parentSpanId ? { parentSpanId: options.parentSpanId } : {}),
    name: `${String(attributes['gen_ai.operation.name'] ?? 'chat')} ${String(attributes['gen_ai.request.model'] ?? '')}`.trim(),
    kind: 3,
    startTimeUnixNano: nanos(start),
    endTimeUnixNano: nanos(options.endMs),
    attributes: otlpAttributes(attributes),
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: options.status ?? { code: 0 },
    flags: 257,
  }
}

/** A server span of the service, as an HTTP instrumentation records it: not a GenAI call. */
export function httpServerSpan(traceId: string, spanId: string, endMs: number): OtlpSpanJson {
  return {
    traceId,
    spanId,
    name: 'POST /tickets/:id/triage',
    kind: 2,
    startTimeUnixNano: nanos(endMs - 1200),
    endTimeUnixNano: nanos(endMs),
    attributes: otlpAttributes({
      'http.request.method': 'POST',
      'http.route': '/tickets/:id/triage',
      'http.response.status_code': 200,
    }),
    status: { code: 0 },
  }
}

export interface ExportOptions {
  resource?: Record<string, AttributeValue>
  /** Scope name of the spans. */
  scope?: string
}

/** One resource with the given scopes, as one SDK's batch export. */
function exportOf(
  resource: Record<string, AttributeValue> | undefined,
  scopes: Array<{ name: string; spans: OtlpSpanJson[] }>,
) {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: otlpAttributes({
            'service.name': 'support-bot',
            'service.version': '2.4.1',
            'deployment.environment.name': 'prod',
            'telemetry.sdk.language': 'nodejs',
            'telemetry.sdk.name': 'opentelemetry',
            'telemetry.sdk.version': '2.0.1',
            ...resource,
          }),
          droppedAttributesCount: 0,
        },
        scopeSpans: scopes.map(({ name, spans }) => ({ scope: { name, version: '0.3.0' }, spans })),
      },
    ],
  }
}

/** One resource with one scope holding `spans`. */
export function otlpExport(spans: OtlpSpanJson[], options: ExportOptions = {}) {
  return exportOf(options.resource, [
    { name: options.scope ?? '@opentelemetry/instrumentation-openai', spans },
  ])
}

/**
 * The export of one traced request: the service's HTTP server span (its own scope) and, under
 * it, one chat call to OpenAI (and whatever `extra` spans).
 */
export function chatRequestExport(
  endMs: number,
  options: ExportOptions & { chat?: Partial<GenAiSpanOptions>; extra?: OtlpSpanJson[] } = {},
) {
  const traceId = options.chat?.traceId ?? newTraceId()
  const server = newSpanId()
  const chat = genAiSpan({ traceId, parentSpanId: server, endMs: endMs - 100, ...options.chat })
  return exportOf(options.resource, [
    {
      name: '@opentelemetry/instrumentation-http',
      spans: [httpServerSpan(traceId, server, endMs)],
    },
    { name: '@opentelemetry/instrumentation-openai', spans: [chat, ...(options.extra ?? [])] },
  ])
}
