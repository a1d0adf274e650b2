import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { HttpError } from '../../api/http-error.ts'
import { validateItems, type BodyItem } from '../../api/ingest-request.ts'
import { SPAN_FIELDS, TOKEN_FIELDS } from '../../api/otlp-attributes.ts'
import { spanEventId, spanItems } from '../../api/otlp-traces.ts'
import { DEFAULT_EVENT_TIME_WINDOW } from '../../schemas/event-time.ts'
import {
  chatRequestExport,
  genAiSpan,
  httpServerSpan,
  newSpanId,
  newTraceId,
  otlpExport,
  type AttributeValue,
  type OtlpSpanJson,
} from '../support/otlp-export.ts'

const END = Date.parse('2026-03-02T11:59:00Z')

const itemsOf = (document: unknown): BodyItem[] => spanItems(JSON.stringify(document)).items

/** The event of the only GenAI span of an export; fails the test when it was refused. */
function eventOf(
  attributes: Record<string, AttributeValue | undefined>,
  resource: Record<string, AttributeValue> = {},
): Record<string, unknown> {
  const items = itemsOf(otlpExport([genAiSpan({ endMs: END, attributes })], { resource }))
  expect(items).toHaveLength(1)
  expect(items[0]!.error).toBeUndefined()
  return items[0]!.value as Record<string, unknown>
}

/** Why the only GenAI span of an export was refused. */
function refusalOf(span: OtlpSpanJson, resource: Record<string, AttributeValue> = {}): string {
  const items = itemsOf(otlpExport([span], { resource }))
  expect(items).toHaveLength(1)
  expect(items[0]!.value).toBeUndefined()
  return items[0]!.error!
}

function httpErrorOf(body: string): HttpError {
  try {
    spanItems(body)
  } catch (error) {
    if (error instanceof HttpError) return error
    throw error
  }
  throw new Error('spanItems accepted the body')
}

describe('spanItems: OTLP GenAI spans as llm_call events', () => {
  it('turns the chat span of an instrumented request into one valid event and skips the HTTP span', () => {
    const traceId = newTraceId()
    const chatId = newSpanId()
    const exported = chatRequestExport(END, { chat: { traceId, spanId: chatId, durationMs: 850 } })
    const serverId = exported.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId
    const items = itemsOf(exported)
    expect(items).toHaveLength(1)
    expect(items[0]!.value).toMatchObject({
      event_id: spanEventId(traceId, chatId),
      occurred_at: END - 100,
      started_at: END - 950,
      latency_ms: 850,
      trace_id: traceId,
      span_id: chatId,
      parent_span_id: serverId,
      agent_id: 'support-bot',
      agent_version: '2.4.1',
      environment: 'prod',
      provider: 'openai',
      model: 'gpt-4o',
      response_model: 'gpt-4o-2024-08-06',
      input_tokens: 1200,
      output_tokens: 300,
      cache_read_tokens: 200,
      status: 'ok',
      stop_reason: 'stop',
    })
    const validated = validateItems(items, { now: END, window: DEFAULT_EVENT_TIME_WINDOW })
    expect(validated.results.map((r) => r.status)).toEqual(['accepted'])
    expect(validated.events[0]!.tenant_id).toBe('default')
  })

  it('derives the event id from trace and span id (UUID v5), so a resent span is the same event', () => {
    // Computed apart from this code: Python's uuid.uuid5 with the documented namespace.
    expect(spanEventId('5B8EFFF798038103D269B633813FC60C', 'EEE19B7EC3C1B174')).toBe(
      '2bfb80cb-f1e0-591f-b8aa-ab9b9f9edd68',
    )
    const span = genAiSpan({ endMs: END })
    const first = itemsOf(otlpExport([span]))[0]!.value as { event_id: string }
    const again = itemsOf(otlpExport([span]))[0]!.value as { event_id: string }
    expect(again.event_id).toBe(first.event_id)
    const sibling = itemsOf(otlpExport([{ ...span, spanId: newSpanId() }]))[0]!.value
    expect((sibling as { event_id: string }).event_id).not.toBe(first.event_id)
  })

  it('reads the OTLP example encoding too: upper-case hex ids and numeric nanoseconds', () => {
    const span = {
      ...genAiSpan({ endMs: END }),
      traceId: '5B8EFFF798038103D269B633813FC60C',
      spanId: 'EEE19B7EC3C1B174',
      startTimeUnixNano: 1772452739000000000,
      endTimeUnixNano: 1772452740000000000,
    }
    expect(itemsOf(otlpExport([span]))[0]!.value).toMatchObject({
      event_id: '2bfb80cb-f1e0-591f-b8aa-ab9b9f9edd68',
      trace_id: '5b8efff798038103d269b633813fc60c',
      span_id: 'eee19b7ec3c1b174',
      occurred_at: 1772452740000,
      latency_ms: 1000,
    })
  })

  it('attributes from spendguard.* first, then the conventions, the span before its resource', () => {
    const event = eventOf(
      {
        'gen_ai.agent.name': 'triage-agent',
        'gen_ai.conversation.id': 'conv_5j66',
        'user.id': 'user-42',
        'spendguard.feature_id': 'ticket-triage',
        'spendguard.tags.ticket_queue': 'billing',
      },
      {
        'spendguard.agent_id': 'resource-default-agent',
        'spendguard.tenant_id': 'acme',
        'spendguard.team_id': 'customer-success',
        'spendguard.task_category': 'classification',
        'spendguard.tags.region': 'eu',
        'spendguard.tags.ticket_queue': 'overridden by the span',
      },
    )
    expect(event).toMatchObject({
      agent_id: 'triage-agent',
      tenant_id: 'acme',
      team_id: 'customer-success',
      feature_id: 'ticket-triage',
      user_id: 'user-42',
      session_id: 'conv_5j66',
      task_category: 'classification',
      tags: { region: 'eu', ticket_queue: 'billing' },
    })
    expect(
      eventOf({ 'spendguard.agent_id': 'billing-bot', 'gen_ai.agent.name': 'x' }).agent_id,
    ).toBe('billing-bot')
    expect(eventOf({ 'gen_ai.agent.id': 'asst_5j66' }).agent_id).toBe('asst_5j66')
    expect(eventOf({}, { 'spendguard.agent_id': 'from-resource' }).agent_id).toBe('from-resource')
  })

  it('refuses a span whose agent nobody named (the SDK stand-in service name does not count)', () => {
    const message = refusalOf(genAiSpan({ endMs: END }), { 'service.name': 'unknown_service:node' })
    expect(message).toMatch(/^span [0-9a-f]{16} \(chat gpt-4o\): no agent/)
    expect(message).toMatch(/gen_ai\.agent\.name.*spendguard\.agent_id.*service\.name/)
  })

  it('maps provider names of the conventions (and the older gen_ai.system) to the pricer names', () => {
    const providerOf = (attributes: Record<string, AttributeValue | undefined>) =>
      eventOf({ 'gen_ai.provider.name': undefined, ...attributes }).provider
    expect(providerOf({ 'gen_ai.provider.name': 'aws.bedrock' })).toBe('aws')
    expect(providerOf({ 'gen_ai.system': 'aws.bedrock' })).toBe('aws')
    expect(providerOf({ 'gen_ai.provider.name': 'gcp.gen_ai' })).toBe('google')
    expect(providerOf({ 'gen_ai.provider.name': 'gcp.vertex_ai' })).toBe('google')
    expect(providerOf({ 'gen_ai.provider.name': 'azure.ai.inference' })).toBe('azure')
    expect(providerOf({ 'gen_ai.provider.name': 'azure.ai.openai' })).toBe('azure')
    expect(providerOf({ 'gen_ai.provider.name': 'x_ai' })).toBe('x-ai')
    expect(providerOf({ 'gen_ai.provider.name': 'mistral_ai' })).toBe('mistral')
    expect(providerOf({ 'gen_ai.provider.name': 'anthropic', 'gen_ai.system': 'openai' })).toBe(
      'anthropic',
    )
    expect(providerOf({})).toBeUndefined()
  })

  it('reads cache and reasoning tokens, and the older prompt/completion token names', () => {
    expect(
      eventOf({
        'gen_ai.usage.input_tokens': 3000,
        'gen_ai.usage.output_tokens': 900,
        'gen_ai.usage.cache_read.input_tokens': 2000,
        'gen_ai.usage.cache_creation.input_tokens': 500,
        'gen_ai.usage.reasoning.output_tokens': 600,
      }),
    ).toMatchObject({
      input_tokens: 3000,
      output_tokens: 900,
      cache_read_tokens: 2000,
      cache_write_tokens: 500,
      reasoning_tokens: 600,
    })
    expect(
      eventOf({
        'gen_ai.usage.input_tokens': undefined,
        'gen_ai.usage.output_tokens': undefined,
        'gen_ai.usage.cache_read.input_tokens': undefined,
        'gen_ai.usage.prompt_tokens': 70,
        'gen_ai.usage.completion_tokens': 12,
      }),
    ).toMatchObject({ input_tokens: 70, output_tokens: 12 })
  })

  it('takes counts as intValue numbers or strings, integral doubles and digit strings', () => {
    const span = genAiSpan({ endMs: END })
    span.attributes = [
      { key: 'gen_ai.request.model', value: { stringValue: 'gpt-4o' } },
      { key: 'gen_ai.usage.input_tokens', value: { intValue: 1200 } },
      { key: 'gen_ai.usage.output_tokens', value: { doubleValue: 300 } },
      { key: 'gen_ai.usage.cache_read.input_tokens', value: { stringValue: '200' } },
    ]
    expect(itemsOf(otlpExport([span]))[0]!.value).toMatchObject({
      input_tokens: 1200,
      output_tokens: 300,
      cache_read_tokens: 200,
    })
  })

  it('refuses impossible counts, naming the span and the attribute', () => {
    const negative = genAiSpan({ endMs: END, attributes: { 'gen_ai.usage.output_tokens': -3 } })
    expect(refusalOf(negative)).toMatch(
      /^span [0-9a-f]{16} \(chat gpt-4o\): gen_ai\.usage\.output_tokens must not be negative/,
    )
    const fraction = genAiSpan({ endMs: END, attributes: { 'gen_ai.usage.input_tokens': 12.5 } })
    expect(refusalOf(fraction)).toMatch(/gen_ai\.usage\.input_tokens must be a whole number/)
    // The convention counts cached input inside input_tokens: more cached than input is corrupt.
    const cached = genAiSpan({
      endMs: END,
      attributes: {
        'gen_ai.usage.input_tokens': 50,
        'gen_ai.usage.cache_read.input_tokens': 3000,
      },
    })
    expect(refusalOf(cached)).toMatch(
      /cache_read_tokens \(from gen_ai\.usage\.cache_read\.input_tokens\): .*exceed input_tokens/,
    )
  })

  it('skips agent, tool and non-GenAI spans, and keeps embeddings and provider-specific operations', () => {
    const agentSpan = genAiSpan({
      endMs: END,
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' },
    })
    const toolSpan = genAiSpan({
      endMs: END,
      attributes: {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.request.model': undefined,
        'gen_ai.response.model': undefined,
        'gen_ai.tool.name': 'lookup_order',
      },
    })
    const embeddings = genAiSpan({
      endMs: END,
      attributes: {
        'gen_ai.operation.name': 'embeddings',
        'gen_ai.request.model': 'text-embedding-3-small',
        'gen_ai.response.model': undefined,
        'gen_ai.usage.output_tokens': undefined,
        'gen_ai.usage.cache_read.input_tokens': undefined,
        'gen_ai.usage.input_tokens': 512,
      },
    })
    const custom = genAiSpan({
      endMs: END,
      attributes: { 'gen_ai.operation.name': 'responses' },
    })
    const items = itemsOf(
      otlpExport([
        agentSpan,
        httpServerSpan(newTraceId(), newSpanId(), END),
        toolSpan,
        embeddings,
        custom,
      ]),
    )
    expect(items.map((item) => (item.value as { model: string }).model)).toEqual([
      'text-embedding-3-small',
      'gpt-4o',
    ])
    expect(items[0]!.value).toMatchObject({ input_tokens: 512 })
    expect(items[0]!.value).not.toHaveProperty('output_tokens')
  })

  it('refuses a model-call span without a model, naming the attribute', () => {
    const span = genAiSpan({
      endMs: END,
      attributes: { 'gen_ai.request.model': undefined, 'gen_ai.response.model': undefined },
    })
    expect(refusalOf(span)).toMatch(/: no gen_ai\.request\.model or gen_ai\.response\.model/)
    expect(
      eventOf({ 'gen_ai.request.model': undefined, 'gen_ai.response.model': 'gpt-4o-mini' }),
    ).toMatchObject({ model: 'gpt-4o-mini', response_model: 'gpt-4o-mini' })
  })

  it('reads failures and timeouts from the span status and error.type; no usage is unknown usage', () => {
    const noUsage = {
      'gen_ai.usage.input_tokens': undefined,
      'gen_ai.usage.output_tokens': undefined,
      'gen_ai.usage.cache_read.input_tokens': undefined,
      'gen_ai.response.finish_reasons': undefined,
    }
    const failed = itemsOf(
      otlpExport([
        genAiSpan({ endMs: END, attributes: noUsage, status: { code: 2, message: 'boom' } }),
      ]),
    )[0]!.value
    expect(failed).toMatchObject({ status: 'error', usage_reported: false })
    expect(failed).not.toHaveProperty('input_tokens')
    expect(eventOf({ ...noUsage, 'error.type': 'rate_limit_exceeded' })).toMatchObject({
      status: 'error',
      error_type: 'rate_limit_exceeded',
    })
    expect(eventOf({ ...noUsage, 'error.type': 'APITimeoutError' }).status).toBe('timeout')
    expect(eventOf({ 'gen_ai.response.finish_reasons': ['length', 'stop'] }).stop_reason).toBe(
      'length,stop',
    )
  })

  it('refuses spans with broken ids or no end time', () => {
    expect(refusalOf({ ...genAiSpan({ endMs: END }), spanId: 'xyz' })).toMatch(
      /^span xyz \(chat gpt-4o\): spanId must be 16 hex digits/,
    )
    expect(refusalOf({ ...genAiSpan({ endMs: END }), traceId: '0'.repeat(32) })).toMatch(
      /traceId must be 32 hex digits, not all zero/,
    )
    expect(refusalOf({ ...genAiSpan({ endMs: END }), endTimeUnixNano: '' })).toMatch(
      /endTimeUnixNano is missing/,
    )
  })

  it('answers 400 for a body that is not an OTLP trace export; other spans are skipped, counted', () => {
    expect(httpErrorOf('{oops').message).toMatch(/^the body is not JSON/)
    const notExport = httpErrorOf(JSON.stringify([{ event_id: 'x' }]))
    expect(notExport.status).toBe(400)
    expect(notExport.message).toMatch(/not an OTLP trace export.*"resourceSpans" array/)
    expect(httpErrorOf(JSON.stringify({ resourceSpans: [{ scopeSpans: {} }] })).message).toMatch(
      /resourceSpans\[0\]\.scopeSpans is not an array/,
    )
    const plain = otlpExport([httpServerSpan(newTraceId(), newSpanId(), END)])
    expect(spanItems(JSON.stringify(plain))).toEqual({ items: [], skipped: 1 })
  })

  it('reads the attributes docs/otlp.md lists, in its order', () => {
    const doc = readFileSync(new URL('../../docs/otlp.md', import.meta.url), 'utf8')
    const ticked = (text: string) => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)
    const rows = doc
      .split('\n')
      .filter((line) => line.startsWith('| `'))
      .map((line) => line.split('|').slice(1, 3).map(ticked) as [string[], string[]])
    for (const [field, keys] of [...SPAN_FIELDS, ...TOKEN_FIELDS]) {
      const row = rows.find(([fields]) => fields.includes(field))
      if (!row) {
        // The fields only SpendGuard's attributes carry are listed in one sentence.
        expect(doc, field).toMatch(
          new RegExp(`\`${field}\`[^|]*come from \`spendguard.<field>\` only`, 's'),
        )
        expect(keys).toEqual([`spendguard.${field}`])
        continue
      }
      const listed = row[1]
        .filter((key) => key.includes('.'))
        .map((key) => (key === 'spendguard.<field>' ? `spendguard.${field}` : key))
      expect(listed, field).toEqual(keys)
    }
  })
})
