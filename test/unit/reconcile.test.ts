import { describe, expect, it } from 'vitest'
import { compareTotals, type AuditTotalsRow } from '../../processors/windows/reconcile.ts'
import type { SpendView } from '../../processors/windows/spend-windows.ts'

function view(items: Array<[string, number, string]>): SpendView {
  return {
    dimension: 'user',
    window: 'day',
    as_of: '2026-03-02T12:00:00.000Z',
    items: items.map(([key, calls, cost]) => ({
      tenant: 'default',
      key,
      calls,
      failures: 0,
      late_calls: 0,
      unpriced_calls: 0,
      input_tokens: calls * 10,
      output_tokens: calls,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      cost_usd: cost,
      avg_latency_ms: null,
      max_latency_ms: null,
      p50_cost_usd: null,
      p95_cost_usd: null,
      p99_cost_usd: null,
    })),
  }
}

const row = (key: string, calls: number, cost: string): AuditTotalsRow => ({
  tenant: 'default',
  key,
  calls: String(calls),
  cost,
  input_tokens: String(calls * 10),
  output_tokens: String(calls),
})

describe('reconcile', () => {
  it('finds no drift when the audit equals the live totals, to the femto-dollar', () => {
    const live = view([
      ['u1', 3, '0.27'],
      ['u2', 1, '1.500000000000001'],
    ])
    const audit = [row('u1', 3, '0.270000000000000'), row('u2', 1, '1.500000000000001')]
    expect(compareTotals('user', 'day', live, audit, live)).toEqual([])
  })

  it('reports each measure that differs, and keys missing on either side', () => {
    const live = view([
      ['u1', 3, '0.27'],
      ['u2', 1, '1.5'],
    ])
    const audit = [row('u1', 3, '0.270000000000001'), row('u3', 2, '0.1')]
    const drifts = compareTotals('user', 'day', live, audit, live)
    expect(drifts.map((d) => [d.key, d.measure, d.live, d.audit])).toEqual([
      ['u1', 'cost', '0.27', '0.270000000000001'],
      ['u2', 'calls', '1', '0'],
      ['u2', 'cost', '1.5', '0'],
      ['u2', 'input_tokens', '10', '0'],
      ['u2', 'output_tokens', '1', '0'],
      ['u3', 'calls', '0', '2'],
      ['u3', 'cost', '0', '0.1'],
      ['u3', 'input_tokens', '0', '20'],
      ['u3', 'output_tokens', '0', '2'],
    ])
  })

  it('accepts an audit between two live reads taken while events arrive', () => {
    const before = view([['u1', 3, '0.27']])
    const after = view([['u1', 5, '0.45']])
    expect(compareTotals('user', 'day', before, [row('u1', 4, '0.36')], after)).toEqual([])
    expect(compareTotals('user', 'day', before, [row('u1', 6, '0.54')], after)).toHaveLength(4)
  })
})
