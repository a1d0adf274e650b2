import { describe, expect, it } from 'vitest'
import {
  binOf,
  CostSketch,
  SKETCH_RELATIVE_ACCURACY,
} from '../../processors/windows/cost-sketch.ts'
import { SpendWindows, type WindowCall } from '../../processors/windows/spend-windows.ts'
import { parseUsd } from '../../platform/money.ts'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

interface Keys {
  tenant: string
  user: string | undefined
  feature: string | undefined
  session: string
}

interface Measures {
  late: boolean
  failed: boolean
  latencyMs: number | undefined
  reasoningTokens: number
  unpriced: boolean
}

/** One call of `usd` at `at`, of user u1 in session s1 unless told otherwise. */
function count(
  windows: SpendWindows,
  at: number,
  usd: string,
  now: number,
  keys: Partial<Keys> = {},
  measures: Partial<Measures> = {},
): void {
  const call: WindowCall = {
    occurred_at: at,
    tenant_id: keys.tenant ?? 'default',
    agent_id: 'a1',
    feature_id: 'feature' in keys ? keys.feature : 'f1',
    user_id: 'user' in keys ? keys.user : 'u1',
    session_id: keys.session ?? 's1',
    team_id: 't1',
    model: 'gpt-4o',
    task_category: 'chat',
    status: measures.failed ? 'error' : 'ok',
    input_tokens: 100,
    output_tokens: 10,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: measures.reasoningTokens ?? 0,
    latency_ms: 'latencyMs' in measures ? measures.latencyMs : 200,
  }
  windows.add(call, measures.unpriced ? undefined : parseUsd(usd), measures.late ?? false, now)
}

function costOf(
  windows: SpendWindows,
  window: 'day' | 'month' | '1m' | '15m' | '1h' | '24h',
  asOf: number,
  key = 'u1',
) {
  const view = windows.view({ dimension: 'user', window, asOf, key })
  return view.items[0]?.cost_usd ?? '0'
}

describe('spend windows', () => {
  it('splits UTC days at midnight and keeps the sliding views across it', () => {
    const windows = new SpendWindows()
    const midnight = Date.UTC(2026, 10, 25)
    count(windows, midnight - 30_000, '1.5', midnight)
    count(windows, midnight + 10_000, '0.25', midnight + 10_000)
    const asOf = midnight + 5 * MINUTE
    expect(costOf(windows, 'day', asOf)).toBe('0.25')
    expect(costOf(windows, 'day', midnight - 1)).toBe('1.5')
    expect(costOf(windows, '15m', asOf)).toBe('1.75')
    expect(costOf(windows, '1m', midnight + 30_000)).toBe('0.25')
    expect(costOf(windows, '24h', asOf)).toBe('1.75')
    expect(costOf(windows, 'month', asOf)).toBe('1.75')
  })

  it("ends a month at its last millisecond, and keeps last month's total for late events", () => {
    const windows = new SpendWindows()
    const march = Date.UTC(2026, 2, 1)
    count(windows, march - 1, '2', march - 1)
    count(windows, march, '3', march)
    expect(costOf(windows, 'month', march - 1)).toBe('2')
    expect(costOf(windows, 'month', march)).toBe('3')
    // Three days into March an event of February 28 still counts in February's total.
    count(windows, march - HOUR, '4', march + 3 * DAY, {}, { late: true })
    expect(costOf(windows, 'month', march - 1)).toBe('6')
    const february = windows.view({ dimension: 'user', window: 'month', asOf: march - 1 })
    expect(february.items[0]).toMatchObject({ calls: 2, late_calls: 1 })
  })

  it('gives the same totals whatever order the events arrive in', () => {
    const base = Date.UTC(2026, 10, 24, 10)
    const events = Array.from({ length: 60 }, (_, i) => ({
      at: base + ((i * 7919) % 3600) * 1000,
      usd: `0.0${(i % 9) + 1}`,
      user: `u${i % 4}`,
    }))
    const now = base + HOUR
    const ordered = new SpendWindows()
    for (const e of [...events].sort((a, b) => a.at - b.at))
      count(ordered, e.at, e.usd, now, { user: e.user })
    const shuffled = new SpendWindows()
    for (const e of events) count(shuffled, e.at, e.usd, now, { user: e.user })
    for (const window of ['1m', '15m', '1h', '24h', 'day', 'month'] as const) {
      for (const asOf of [base + 10 * MINUTE, base + 59 * MINUTE, now]) {
        const a = ordered.view({ dimension: 'user', window, asOf })
        const b = shuffled.view({ dimension: 'user', window, asOf })
        expect(b).toEqual(a)
      }
    }
    expect(ordered.view({ dimension: 'user', window: '1h', asOf: now - 1 }).items).toHaveLength(4)
  })

  it('counts a late event in the windows of its own event time, while they are kept', () => {
    const windows = new SpendWindows()
    const now = Date.UTC(2026, 10, 24, 12)
    count(windows, now - 30 * MINUTE, '1', now, {}, { late: true })
    expect(costOf(windows, '15m', now)).toBe('0')
    expect(costOf(windows, '1h', now)).toBe('1')
    // Older than the 24 hours of minutes: only the day and month totals hold it.
    count(windows, now - 30 * HOUR, '2', now, {}, { late: true })
    expect(costOf(windows, '24h', now)).toBe('1')
    expect(costOf(windows, 'day', now - 30 * HOUR)).toBe('2')
    expect(costOf(windows, 'month', now)).toBe('3')
    // Older than last month: audited, not counted here.
    count(windows, Date.UTC(2026, 8, 30), '5', now, {}, { late: true })
    expect(windows.tooOld).toBe(1)
    expect(costOf(windows, 'month', now)).toBe('3')
  })

  it('keeps an event from the future in its own minute until that minute comes', () => {
    const windows = new SpendWindows()
    const now = Date.UTC(2026, 10, 24, 12)
    count(windows, now + 2 * HOUR, '7', now)
    expect(costOf(windows, '15m', now)).toBe('0')
    expect(costOf(windows, 'day', now)).toBe('7')
    expect(costOf(windows, '15m', now + 2 * HOUR + MINUTE)).toBe('7')
  })

  it('keys every dimension and the agent x feature pair, per tenant', () => {
    const windows = new SpendWindows()
    const now = Date.UTC(2026, 10, 24, 12)
    count(windows, now, '1', now)
    count(windows, now, '2', now, { tenant: 'acme', feature: undefined, user: 'u2' })
    const pairs = windows.view({ dimension: 'agent_feature', window: '15m', asOf: now })
    expect(pairs.items.map((i) => [i.tenant, i.key])).toEqual([['default', 'a1/f1']])
    const agents = windows.view({ dimension: 'agent', window: '15m', asOf: now })
    expect(agents.items.map((i) => [i.tenant, i.key, i.cost_usd])).toEqual([
      ['acme', 'a1', '2'],
      ['default', 'a1', '1'],
    ])
    expect(
      windows.view({ dimension: 'agent', window: '15m', asOf: now, tenant: 'default' }).items,
    ).toHaveLength(1)
    expect(windows.view({ dimension: 'tenant', window: 'day', asOf: now }).items).toHaveLength(2)
  })

  it('sums money exactly, past what a double holds', () => {
    const windows = new SpendWindows()
    const now = Date.UTC(2026, 10, 24, 12)
    for (let i = 0; i < 14_000; i++) count(windows, now, '0.09', now)
    expect(costOf(windows, '1m', now)).toBe('1260')
    // 2^53 femto-USD is about $9.007; a thousand-dollar call then a femto-dollar one.
    count(windows, now, '1000.000000000000001', now, { user: 'big' })
    count(windows, now, '0.000000000000001', now, { user: 'big' })
    expect(costOf(windows, 'day', now, 'big')).toBe('1000.000000000000002')
  })

  it('counts calls, failures, unpriced calls, tokens and latency', () => {
    const windows = new SpendWindows()
    const now = Date.UTC(2026, 10, 24, 12)
    count(windows, now, '1', now, {}, { latencyMs: 100 })
    count(windows, now, '1', now, {}, { failed: true, latencyMs: 300, reasoningTokens: 4 })
    count(windows, now, '0', now, {}, { unpriced: true, latencyMs: undefined })
    const [item] = windows.view({ dimension: 'user', window: '15m', asOf: now }).items
    expect(item).toMatchObject({
      calls: 3,
      failures: 1,
      unpriced_calls: 1,
      input_tokens: 300,
      output_tokens: 30,
      reasoning_tokens: 4,
      cost_usd: '2',
      avg_latency_ms: 200,
      max_latency_ms: 300,
    })
  })

  it('orders by cost and honours the limit', () => {
    const windows = new SpendWindows()
    const now = Date.UTC(2026, 10, 24, 12)
    for (let i = 1; i <= 30; i++) count(windows, now, `0.${i}`, now, { user: `u${i}` })
    const view = windows.view({ dimension: 'user', window: '15m', asOf: now, limit: 10 })
    // By exact amount ($0.3 and $0.30 tie, then by name), not by the text of the amount.
    expect(view.items.map((i) => i.key)).toEqual([
      'u9',
      'u8',
      'u7',
      'u6',
      'u5',
      'u4',
      'u3',
      'u30',
      'u29',
      'u28',
    ])
  })

  it('drops what no view can reach on a sweep', () => {
    const windows = new SpendWindows()
    const now = Date.UTC(2026, 10, 24, 12)
    count(windows, now, '1', now, { session: 'old' })
    windows.sweep(now + 3 * 31 * DAY)
    expect(windows.keyCounts().session).toBe(0)
    expect(windows.keyCounts().user).toBe(0)
  })
})

describe('cost sketch', () => {
  function exactQuantile(sorted: number[], q: number): number {
    return sorted[Math.floor(q * (sorted.length - 1))]!
  }

  it('answers p50, p95 and p99 within its stated relative error, merged or not', () => {
    // A deterministic spread over six orders of magnitude (log-uniform), with some zeros.
    let seed = 42
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const values = Array.from({ length: 20_000 }, (_, i) =>
      i % 50 === 0 ? 0 : 10 ** (-6 + 6 * random()),
    )
    const whole = new CostSketch()
    const parts = Array.from({ length: 15 }, () => new CostSketch())
    values.forEach((v, i) => {
      whole.recordValue(v)
      parts[i % 15]!.recordValue(v)
    })
    const merged = new CostSketch()
    for (const part of parts) merged.mergeSketch(part)
    const sorted = [...values].sort((a, b) => a - b)
    // p50, p95 and p99, and every other percentile: a bin filed out of order would show.
    for (const q of Array.from({ length: 101 }, (_, i) => i / 100)) {
      const exact = exactQuantile(sorted, q)
      for (const sketch of [whole, merged]) {
        const estimate = sketch.quantile(q)!
        expect(Math.abs(estimate - exact)).toBeLessThanOrEqual(SKETCH_RELATIVE_ACCURACY * exact)
      }
    }
    // One bin per distinct bin of the values: none filed twice.
    expect(whole.bins).toBe(new Set(values.map(binOf)).size)
    expect(merged.bins).toBe(whole.bins)
    expect(merged.sketched).toBe(values.length)
    expect(whole.quantile(0)).toBe(0)
    expect(new CostSketch().quantile(0.5)).toBeUndefined()
  })

  it('holds few bins for calls of similar cost', () => {
    const sketch = new CostSketch()
    for (let i = 0; i < 1000; i++) sketch.recordValue(0.09)
    expect(sketch.bins).toBe(1)
    expect(sketch.quantile(0.99)).toBeCloseTo(0.09, 3)
  })
})
