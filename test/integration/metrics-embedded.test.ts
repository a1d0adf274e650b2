import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { afterAll, describe, expect, it } from 'vitest'
import { formatUsd } from '../../platform/money.ts'
import { pricedCost } from '../../processors/pricing/pricer.ts'
import type { LlmCallInput } from '../../schemas/llm-call.ts'
import { parseLlmCall } from '../../schemas/validate.ts'
import { startPipeline } from '../support/cli-process.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'
import { testPricing } from '../support/pricing.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-metrics-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const { pricer } = await testPricing()

/** The exact cost of some events, as the one float the exposition turns it into. */
function usdOf(events: LlmCallInput[]): number {
  const femtos = events.reduce(
    (sum, event) => sum + (pricedCost(pricer.price(parseLlmCall(event))) ?? 0n),
    0n,
  )
  return Number(formatUsd(femtos))
}

async function post(port: number, items: unknown[]) {
  const response = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(items),
  })
  return (await response.json()) as { accepted: number; rejected: number; duplicates: number }
}

describe('GET /metrics of a running embedded pipeline', () => {
  it('parses as Prometheus text and counts exactly what was posted', async () => {
    const dataDir = join(work, 'data')
    const configFile = join(work, 'spendguard.json')
    writeFileSync(
      configFile,
      JSON.stringify({
        metrics: { spend: { windows: ['24h'], dimensions: ['agent', 'model'] } },
        // The planner's one call crosses this: one alert and one block command.
        budgets: [
          {
            scope: { agent: 'planner' },
            period: 'day',
            limit_usd: '0.000001',
            alert_at: [100],
            on_exceed: 'block',
          },
        ],
      }),
    )
    const { port, running } = await startPipeline(dataDir, configFile)

    const planner = makeLlmCallInput({
      occurred_at: recentTime(5),
      agent_id: 'planner',
      model: 'gpt-4o',
    })
    const writer = [
      makeLlmCallInput({ occurred_at: recentTime(6), agent_id: 'writer', model: 'gpt-4o-mini' }),
      makeLlmCallInput({ occurred_at: recentTime(7), agent_id: 'writer', model: 'gpt-4o' }),
    ]
    const unpriced = makeLlmCallInput({
      occurred_at: recentTime(5),
      agent_id: 'writer',
      model: 'model-nobody-priced',
    })
    // Ten minutes behind the newest event seen: later than the allowed two minutes.
    const late = makeLlmCallInput({
      occurred_at: recentTime(600),
      agent_id: 'writer',
      model: 'gpt-4o-mini',
    })
    expect(
      await post(port, [planner, ...writer, unpriced, { ...writer[0], event_id: 'not-a-uuid' }]),
    ).toMatchObject({ accepted: 4, rejected: 1 })
    expect(await post(port, [writer[0]])).toMatchObject({ accepted: 0, duplicates: 1 })
    expect(await post(port, [late])).toMatchObject({ accepted: 1 })

    const response = await fetch(`http://127.0.0.1:${port}/metrics`)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/)
    const families = parsePrometheusTextFormat(await response.text())
    const family = (name: string) => {
      const found = families.find((f) => f.name === name)
      if (!found) throw new Error(`no metric ${name}`)
      return found
    }
    /** Values by labels (`a=1,b=2`). */
    const values = (name: string) =>
      Object.fromEntries(
        family(name).metrics.map((sample) => [
          Object.entries(sample.labels ?? {})
            .map(([label, value]) => `${label}=${value}`)
            .join(','),
          Number(sample.value ?? sample.count),
        ]),
      )

    // The rejected item never reached the pipeline: HTTP answered it, and counts it.
    expect(values('spendguard_http_ingest_items_total')).toEqual({
      'route=/v1/events,status=accepted': 5,
      'route=/v1/events,status=duplicate': 1,
      'route=/v1/events,status=rejected': 1,
    })
    expect(values('spendguard_events_received_total')).toEqual({ '': 6 })
    expect(values('spendguard_events_audited_total')).toEqual({ '': 5 })
    expect(values('spendguard_events_duplicates_total')).toEqual({ '': 1 })
    expect(values('spendguard_events_late_total')).toEqual({ '': 1 })
    expect(values('spendguard_events_dead_lettered_total')).toEqual({})
    expect(values('spendguard_events_unpriced_total')).toEqual({ 'reason=unknown_model': 1 })
    expect(values('spendguard_alerts_total')).toEqual({ 'type=budget.threshold': 1 })
    expect(values('spendguard_control_commands_total')).toEqual({
      'action=block,issued_by=rule': 1,
    })
    expect(values('spendguard_queue_depth')).toEqual({ '': 0 })
    expect(values('spendguard_ready')).toEqual({ '': 1 })
    expect(values('spendguard_spend_usd')).toEqual({
      'window=24h,dimension=agent,tenant=acme,key=planner': usdOf([planner]),
      'window=24h,dimension=agent,tenant=acme,key=writer': usdOf([...writer, unpriced, late]),
      'window=24h,dimension=model,tenant=acme,key=gpt-4o': usdOf([planner, writer[1]!]),
      'window=24h,dimension=model,tenant=acme,key=gpt-4o-mini': usdOf([writer[0]!, late]),
      'window=24h,dimension=model,tenant=acme,key=model-nobody-priced': 0,
    })
    expect(family('spendguard_detection_delay_seconds')).toMatchObject({
      type: 'HISTOGRAM',
      metrics: [{ count: '1' }],
    })
    for (const name of ['spendguard_audit_batch_rows', 'spendguard_audit_batch_seconds']) {
      const [histogram] = family(name).metrics
      expect(histogram?.buckets?.['+Inf']).toBe(histogram?.count)
      expect(Number(histogram?.count)).toBeGreaterThanOrEqual(3)
    }
    expect(Number(family('spendguard_audit_batch_rows').metrics[0]?.sum)).toBe(6)
    // Node.js process metrics come with the pipeline's own.
    expect(family('process_cpu_user_seconds_total').type).toBe('COUNTER')

    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
  })
})
