import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAuditStoreClient } from '../../platform/clickhouse.ts'
import { ManualClock } from '../../platform/clock.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import { parseUsd } from '../../platform/money.ts'
import { migrate } from '../../processors/audit/migrations.ts'
import { createEvaluationCore } from '../../processors/evaluation/evaluation-core.ts'
import type { DeadLetter } from '../../processors/ingest/dead-letters.ts'
import type { SpendDelta } from '../../processors/scale-out/spend-deltas.ts'
import {
  auditTotalsQuery,
  compareTotals,
  type AuditTotalsRow,
} from '../../processors/windows/reconcile.ts'
import {
  DIMENSIONS,
  SpendWindows,
  type Dimension,
  type SpendView,
} from '../../processors/windows/spend-windows.ts'
import { WINDOWS, type WindowName } from '../../processors/windows/window-spans.ts'
import { createEventCodec } from '../../schemas/avro-codec.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'
import { testPricing } from '../support/pricing.ts'
import {
  MemoryLog,
  pollDeltas,
  pollInput,
  startInstance,
  type HarnessInstance,
} from '../support/scale-out-harness.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-scale-out-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const NOW = Date.UTC(2026, 10, 24, 12, 0)
const INPUT_PARTITIONS = 3
const DELTA_PARTITIONS = 4

/** Six users whose calls are spread over every input partition, within the last 3 hours. */
function traffic(count: number): LlmCall[] {
  return Array.from({ length: count }, (_, i) =>
    makeLlmCall({
      tenant_id: i % 10 === 0 ? 'acme' : 'default',
      occurred_at: new Date(NOW - ((i * 7919) % (i % 4 === 0 ? 10_800 : 840)) * 1000).toISOString(),
      agent_id: `agent-${i % 3}`,
      feature_id: `feature-${i % 2}`,
      user_id: `user-${i % 6}`,
      session_id: `session-${i % 17}`,
      team_id: `team-${i % 2}`,
      model: i % 5 === 0 ? 'gpt-4' : 'gpt-4o-mini',
      input_tokens: 500 + ((i * 31) % 2000),
      output_tokens: 50 + (i % 300),
      status: i % 11 === 0 ? 'timeout' : 'ok',
      latency_ms: 100 + (i % 900),
    }),
  )
}

/** All instances' owned keys as one view; a key owned twice would show up twice. */
function unionView(
  instances: HarnessInstance[],
  dimension: Dimension,
  window: WindowName,
): SpendView {
  const items = instances.flatMap((h) => h.instance.view({ dimension, window, asOf: NOW }).items)
  const byCost = (x: bigint, y: bigint) => (x < y ? 1 : x > y ? -1 : 0)
  items.sort(
    (a, b) =>
      byCost(parseUsd(a.cost_usd), parseUsd(b.cost_usd)) ||
      a.tenant.localeCompare(b.tenant) ||
      a.key.localeCompare(b.key),
  )
  return { dimension, window, as_of: new Date(NOW).toISOString(), items }
}

describe('scale-out over spend-deltas (deterministic multi-instance harness)', () => {
  it('keeps exact totals through an assignment change, two crashes and restarts', async () => {
    const config = parseConfig({ clickhouse: { dataDir: join(work, 'store') } })
    const { client } = createAuditStoreClient(config.clickhouse)
    await migrate(client, silentLogger())
    const clock = new ManualClock(NOW)
    const pricer = (await testPricing()).pricer
    const codec = await createEventCodec()
    const deadLetters: DeadLetter[] = []
    const input = new MemoryLog<Buffer>(INPUT_PARTITIONS)
    const deltas = new MemoryLog<SpendDelta>(DELTA_PARTITIONS)
    const options = { client, clock, pricer, codec, deltas, deadLetters }

    const calls = traffic(900)
    // The same user on every partition; 30 events sent twice, the copy on another partition.
    calls.forEach((call, i) => input.append(i % INPUT_PARTITIONS, codec.encode(call)))
    for (const call of calls.slice(0, 30))
      input.append((calls.indexOf(call) + 1) % INPUT_PARTITIONS, codec.encode(call))

    let a = startInstance('a', options)
    let b = startInstance('b', options)
    const c = startInstance('c', options)
    const inputOwner: HarnessInstance[] = [a, b, c]
    const deltaOwner: HarnessInstance[] = [a, a, b, c]
    const round = async (batch: number) => {
      for (let p = 0; p < INPUT_PARTITIONS; p++) await pollInput(input, p, inputOwner[p]!, batch)
      for (let q = 0; q < DELTA_PARTITIONS; q++) await pollDeltas(deltas, q, deltaOwner[q]!)
    }

    await round(40)
    await round(40)
    // Assignment change mid-stream: c leaves cleanly; a takes its input, b its spend-deltas.
    c.instance.revoke([2], [3])
    inputOwner[2] = a
    deltaOwner[3] = b
    await round(40)

    // b dies after its batch is audited and published, before its commit.
    await pollInput(input, 1, b, 40, false)
    b = startInstance('b-restarted', options)
    inputOwner[1] = b
    deltaOwner[2] = b
    deltaOwner[3] = b
    await round(40)

    // Everything but the last batch of partition 0, so nothing after a's death touches the
    // buckets of that batch again: only a rebuilt, republished share can bring them back.
    const left = (p: number) => input.end(p) - input.committed[p]!
    while (left(0) > 40 || left(1) > 0 || left(2) > 0) {
      if (left(0) > 40) await pollInput(input, 0, inputOwner[0]!, Math.min(40, left(0) - 40))
      for (const p of [1, 2]) await pollInput(input, p, inputOwner[p]!, 40)
      for (let q = 0; q < DELTA_PARTITIONS; q++) await pollDeltas(deltas, q, deltaOwner[q]!)
    }
    // a dies after the last batch of partition 0 is audited, before its publish.
    a.dieAtNextPublish = true
    await expect(pollInput(input, 0, a, 40)).rejects.toThrow(/a died/)
    a = startInstance('a-restarted', options)
    inputOwner[0] = a
    inputOwner[2] = a
    deltaOwner[0] = a
    deltaOwner[1] = a
    await round(40)
    await round(40)
    for (let p = 0; p < INPUT_PARTITIONS; p++) expect(input.committed[p]).toBe(input.end(p))

    // Ground truth: every distinct call counted once, through the same evaluation code.
    const truth = new SpendWindows()
    const core = createEvaluationCore({ pricer, allowedLatenessMs: 120_000 })
    const marks = core.watermarks.batch()
    for (const call of calls) {
      const evaluated = core.evaluate({ event: call }, 'truth', marks, NOW)
      if (evaluated.ok) core.count({ ...evaluated.value, late: false }, NOW, truth)
    }

    const count = await client.query({
      query: 'SELECT count() AS n FROM llm_calls',
      format: 'JSONEachRow',
    })
    expect(await count.json()).toEqual([{ n: '900' }])
    expect(deadLetters).toEqual([])

    const live = [a, b]
    for (const window of ['15m', 'day', 'month'] as const) {
      const expected = truth.view({ dimension: 'user', window, asOf: NOW })
      const actual = unionView(live, 'user', window)
      const strip = (view: SpendView) => view.items.map(({ late_calls: _late, ...item }) => item)
      expect(strip(actual)).toEqual(strip(expected))
      // Six users of the default tenant, three of acme (every tenth call).
      expect(actual.items).toHaveLength(9)
    }

    // Reconcile: every dimension and window against SQL over the audit, zero drift.
    for (const window of WINDOWS) {
      for (const dimension of DIMENSIONS) {
        const view = unionView(live, dimension, window)
        const { query, params } = auditTotalsQuery(dimension, window, NOW)
        const result = await client.query({ query, query_params: params, format: 'JSONEachRow' })
        const rows = await result.json<AuditTotalsRow>()
        expect(compareTotals(dimension, window, view, rows, view)).toEqual([])
      }
    }
    await client.close()
  })
})
