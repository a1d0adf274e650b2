import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../platform/clock.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import { createMetrics, type MetricsOptions } from '../../platform/metrics.ts'
import { formatUsd } from '../../platform/money.ts'
import { boundedSpend, OTHER_KEYS } from '../../platform/spend-series.ts'
import { createAuditSink } from '../../processors/audit/audit-sink.ts'
import { createEventProcessor, type InputRecord } from '../../processors/ingest/event-processor.ts'
import { pricedCost } from '../../processors/pricing/pricer.ts'
import { createEventCodec } from '../../schemas/avro-codec.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'
import { MemoryAuditStore } from '../support/memory-audit-store.ts'
import { testPricing } from '../support/pricing.ts'

const { pricer } = await testPricing()
const NOW = Date.parse('2026-03-02T12:00:00Z')

const item = (tenant: string, key: string, cost_usd: string) => ({ tenant, key, cost_usd })

/** The samples of one metric family by their labels (`a=1,b=2`), as numbers. */
function samples(text: string, name: string): Record<string, number> {
  const family = parsePrometheusTextFormat(text).find((f) => f.name === name)
  if (!family) throw new Error(`no metric ${name} in:\n${text}`)
  return Object.fromEntries(
    family.metrics.map((sample) => [
      Object.entries(sample.labels ?? {})
        .map(([label, value]) => `${label}=${value}`)
        .join(','),
      Number(sample.value ?? sample.count),
    ]),
  )
}

describe('the spend cardinality bound', () => {
  const items = [
    item('acme', 'a', '0.1'),
    item('acme', 'b', '5'),
    item('globex', 'a', '0.2'),
    item('acme', 'c', '2.000000000000001'),
    item('globex', 'z', '0.000000000000001'),
  ]

  it('keeps the most expensive keys and sums the rest, exactly, into one other series', () => {
    expect(boundedSpend(items, 2)).toEqual([
      { tenant: 'acme', key: 'b', usd: 5 },
      { tenant: 'acme', key: 'c', usd: 2.000000000000001 },
      // 0.2 + 0.1 + 1e-15, summed as decimals before the one conversion to a float.
      { tenant: OTHER_KEYS, key: OTHER_KEYS, usd: 0.300000000000001 },
    ])
  })

  it('holds at most maxKeys + 1 series however many keys there are', () => {
    const many = Array.from({ length: 5000 }, (_, i) => item('acme', `user-${i}`, `${i}.5`))
    const series = boundedSpend(many, 200)
    expect(series).toHaveLength(201)
    expect(series[0]).toEqual({ tenant: 'acme', key: 'user-4999', usd: 4999.5 })
    const rest = Array.from({ length: 4800 }, (_, i) => i + 0.5).reduce((a, b) => a + b, 0)
    expect(series[200]).toEqual({ tenant: OTHER_KEYS, key: OTHER_KEYS, usd: rest })
  })

  it('has no other series when every key fits, and only that one with a bound of 0', () => {
    expect(boundedSpend(items, 5).map((s) => s.key)).toEqual(['b', 'c', 'a', 'a', 'z'])
    expect(boundedSpend(items, 0)).toEqual([
      { tenant: OTHER_KEYS, key: OTHER_KEYS, usd: 7.300000000000002 },
    ])
  })

  it('is configurable, with a default of a few hundred keys', () => {
    expect(parseConfig({}).metrics.spend).toEqual({
      windows: ['day', 'month'],
      dimensions: ['tenant', 'agent', 'model'],
      maxKeys: 200,
    })
    expect(() => parseConfig({ metrics: { spend: { maxKeys: -1 } } })).toThrow(/maxKeys/)
  })
})

async function pipeline(options: Partial<MetricsOptions['spend']> = {}) {
  const metrics = createMetrics({
    process: false,
    spend: { windows: ['24h'], dimensions: ['agent', 'model'], maxKeys: 10, ...options },
  })
  const codec = await createEventCodec()
  const sink = createAuditSink({
    store: new MemoryAuditStore(),
    logger: silentLogger(),
    flushIntervalMs: 1,
    onBatchWritten: (rows, seconds) => metrics.auditBatch(rows, seconds),
  })
  const processor = createEventProcessor({
    pricer,
    sink,
    deadLetters: { publish: () => Promise.resolve() },
    logger: silentLogger(),
    clock: new ManualClock(NOW),
    codec,
    allowedLatenessMs: 120_000,
    flushEachBatch: true,
    rules: parseConfig({
      budgets: [{ scope: { agent: 'planner' }, period: 'call', limit_usd: '0.000001' }],
    }),
    observer: metrics,
  })
  metrics.read({
    pipeline: () => processor.metrics,
    audit: () => sink.stats(),
    queued: () => 3,
    ready: () => true,
    spend: (query) => processor.windows.view(query),
    now: () => NOW,
  })
  let offset = 0
  const record = (bytes: Buffer): InputRecord => ({
    bytes,
    source: { kind: 'kafka', partition: 0, offset: String(offset++) },
  })
  const encoded = (call: LlmCall) => record(codec.encode(call))
  return { metrics, processor, record, encoded }
}

describe('the metrics of a pipeline', () => {
  it('counts what the processor settled, by code, reason and type, and observes delays', async () => {
    const { metrics, processor, record, encoded } = await pipeline()
    const at = (minutesAgo: number) => new Date(NOW - minutesAgo * 60_000).toISOString()
    const priced = [
      makeLlmCall({ occurred_at: at(1), agent_id: 'planner', model: 'gpt-4o' }),
      makeLlmCall({ occurred_at: at(2), agent_id: 'writer', model: 'gpt-4o-mini' }),
      makeLlmCall({ occurred_at: at(3), agent_id: 'writer', model: 'gpt-4o' }),
    ]
    const unknown = makeLlmCall({ occurred_at: at(1), agent_id: 'writer', model: 'mystery-9' })
    const noUsage = makeLlmCall({
      occurred_at: at(1),
      agent_id: 'writer',
      usage_reported: false,
      input_tokens: 0,
      output_tokens: 0,
    })
    const late = makeLlmCall({ occurred_at: at(30), agent_id: 'writer', model: 'gpt-4o-mini' })
    await processor.process([
      ...priced.map(encoded),
      encoded(unknown),
      encoded(noUsage),
      record(Buffer.from('not avro')),
      encoded({ ...makeLlmCall(), output_tokens: -1 }),
    ])
    await processor.process([encoded(priced[1]!), encoded(late)])
    metrics.consumerLag('llm-calls', 0, 7)
    metrics.consumerLag('llm-calls', 1, 2)
    metrics.consumerLag('llm-calls', 1, undefined)
    metrics.command({ action: 'block', rule: 'budget:planner:call' })
    metrics.command({ action: 'resume' })

    const { contentType, text } = await metrics.render()
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(samples(text, 'spendguard_events_received_total')).toEqual({ '': 9 })
    expect(samples(text, 'spendguard_events_audited_total')).toEqual({ '': 6 })
    expect(samples(text, 'spendguard_events_duplicates_total')).toEqual({ '': 1 })
    expect(samples(text, 'spendguard_events_late_total')).toEqual({ '': 1 })
    expect(samples(text, 'spendguard_events_dead_lettered_total')).toEqual({
      'code=DECODE_FAILED': 1,
      'code=VALIDATION_FAILED': 1,
    })
    expect(samples(text, 'spendguard_events_unpriced_total')).toEqual({
      'reason=unknown_model': 1,
      'reason=no_usage': 1,
    })
    expect(samples(text, 'spendguard_alerts_total')).toEqual({ 'type=budget.threshold': 1 })
    // The planner's call happened a minute before it was processed.
    const delay = parsePrometheusTextFormat(text).find(
      (f) => f.name === 'spendguard_detection_delay_seconds',
    )
    expect(delay?.metrics).toEqual([expect.objectContaining({ count: '1', sum: '60' })])
    expect(samples(text, 'spendguard_audit_batch_rows')).toEqual({ '': 2 })
    expect(samples(text, 'spendguard_audit_batch_seconds')).toEqual({ '': 2 })
    expect(samples(text, 'spendguard_queue_depth')).toEqual({ '': 3 })
    expect(samples(text, 'spendguard_ready')).toEqual({ '': 1 })
    expect(samples(text, 'spendguard_kafka_consumer_lag')).toEqual({
      'topic=llm-calls,partition=0': 7,
    })
    expect(samples(text, 'spendguard_control_commands_total')).toEqual({
      'action=block,issued_by=rule': 1,
      'action=resume,issued_by=person': 1,
    })

    const cost = (calls: LlmCall[]) =>
      Number(
        formatUsd(calls.reduce((sum, call) => sum + (pricedCost(pricer.price(call)) ?? 0n), 0n)),
      )
    const spend = samples(text, 'spendguard_spend_usd')
    expect(spend).toEqual({
      'window=24h,dimension=agent,tenant=acme,key=planner': cost([priced[0]!]),
      'window=24h,dimension=agent,tenant=acme,key=writer': cost([...priced.slice(1), late]),
      'window=24h,dimension=model,tenant=acme,key=gpt-4o': cost([priced[0]!, priced[2]!]),
      'window=24h,dimension=model,tenant=acme,key=gpt-4o-mini': cost([priced[1]!, late]),
      // Unpriced calls are counted in the windows at no known cost.
      'window=24h,dimension=model,tenant=acme,key=mystery-9': 0,
    })
  })

  it('keeps the spend series within the bound', async () => {
    const { metrics, processor, encoded } = await pipeline({ dimensions: ['agent'], maxKeys: 2 })
    const calls = ['a', 'b', 'c', 'd'].map((agent, i) =>
      makeLlmCall({
        occurred_at: '2026-03-02T11:59:00Z',
        agent_id: agent,
        input_tokens: 1000 * (i + 1),
      }),
    )
    await processor.process(calls.map(encoded))
    const spend = samples((await metrics.render()).text, 'spendguard_spend_usd')
    expect(Object.keys(spend)).toEqual([
      'window=24h,dimension=agent,tenant=acme,key=d',
      'window=24h,dimension=agent,tenant=acme,key=c',
      `window=24h,dimension=agent,tenant=${OTHER_KEYS},key=${OTHER_KEYS}`,
    ])
  })

  it('keeps registries apart: two pipelines in one process each expose their own', async () => {
    const first = await pipeline()
    const second = await pipeline()
    await first.processor.process([
      first.encoded(makeLlmCall({ occurred_at: '2026-03-02T11:59:00Z' })),
    ])
    expect(samples((await first.metrics.render()).text, 'spendguard_events_audited_total')).toEqual(
      {
        '': 1,
      },
    )
    expect(
      samples((await second.metrics.render()).text, 'spendguard_events_audited_total'),
    ).toEqual({
      '': 0,
    })
  })
})
