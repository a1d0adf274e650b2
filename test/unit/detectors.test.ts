import { readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { parse as parseYaml } from 'yaml'
import { describe, expect, it } from 'vitest'
import { loadConfig, parseConfig, type ConfigInput } from '../../platform/config.ts'
import { pricedCost } from '../../processors/pricing/pricer.ts'
import { replay } from '../../processors/replay/replay.ts'
import type { LlmCallInput } from '../../schemas/llm-call.ts'
import { blogOutlineEvents, CALLS } from '../../examples/blog-outline/make-events.ts'
import { ManualClock } from '../../platform/clock.ts'
import { silentLogger } from '../../platform/logger.ts'
import { createAuditSink } from '../../processors/audit/audit-sink.ts'
import { createDetectionEngine } from '../../processors/detection/detection-engine.ts'
import { createEventProcessor } from '../../processors/ingest/event-processor.ts'
import { SpendWindows } from '../../processors/windows/spend-windows.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { parseLlmCall } from '../../schemas/validate.ts'
import { makeLlmCallInput } from '../support/make-llm-call.ts'
import { MemoryAuditStore } from '../support/memory-audit-store.ts'
import { testPricing } from '../support/pricing.ts'

const { pricer } = await testPricing()
const T0 = Date.parse('2026-03-02T10:00:00Z')
const MINUTE = 60_000

/** Replays events (gpt-4o: 10,000 input and 5,000 output tokens cost $0.075) under rules. */
async function run(rules: ConfigInput, events: Array<Partial<LlmCallInput>>) {
  const lines = events.map((fields, i) =>
    JSON.stringify(
      makeLlmCallInput({
        event_id: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
        occurred_at: new Date(T0 + i * MINUTE).toISOString(),
        model: 'gpt-4o',
        input_tokens: 10_000,
        output_tokens: 5_000,
        feature_id: undefined,
        session_id: undefined,
        ...fields,
      }),
    ),
  )
  const report = await replay(Readable.from([lines.join('\n')]), {
    pricer,
    allowedLatenessMs: 120_000,
    rules: parseConfig(rules),
  })
  return report
}

const summary = (report: Awaited<ReturnType<typeof run>>) =>
  report.alerts.map((a) =>
    `${a.type} ${a.scope.kind}:${a.scope.id} ${String((a.evidence.percent as number | undefined) ?? '')}`.trim(),
  )

const repeat = (n: number, fields: Partial<LlmCallInput> = {}) =>
  Array.from({ length: n }, () => fields)

describe('budgets', () => {
  it('per session: each session separately, with a block until resumed', async () => {
    const report = await run(
      {
        budgets: [
          {
            scope: { session: '*' },
            period: 'session',
            limit_usd: '0.15',
            alert_at: [100],
            on_exceed: 'block',
          },
        ],
      },
      [...repeat(3, { session_id: 's-1' }), ...repeat(1, { session_id: 's-2' })],
    )
    expect(summary(report)).toEqual(['budget.threshold session:s-1 100'])
    expect(report.commands).toMatchObject([
      { action: 'block', scope: { kind: 'session', id: 's-1' }, expires_at: null },
    ])
  })

  it('per call: a single expensive call, flagged, warned, no thresholds below 100 %', async () => {
    const report = await run(
      { budgets: [{ scope: { agent: 'support-bot' }, period: 'call', limit_usd: '0.1' }] },
      [{}, { input_tokens: 40_000 }, {}, { agent_id: 'other', input_tokens: 40_000 }],
    )
    expect(summary(report)).toEqual(['budget.threshold agent:support-bot 100'])
    expect(report.alerts[0]!.evidence.event_ids).toEqual(['00000000-0000-4000-8000-000000000002'])
  })

  it('tokens per rolling minute: a burst crosses, the same rate spread out does not', async () => {
    const rules = {
      budgets: [
        {
          scope: { team: '*' },
          period: 'minute_tokens' as const,
          limit_tokens: 40_000,
          alert_at: [100],
        },
      ],
    }
    // 15,000 tokens a call: three in one minute pass 40,000; one a minute never does.
    const burst = await run(rules, [
      { occurred_at: new Date(T0).toISOString() },
      { occurred_at: new Date(T0 + 20_000).toISOString() },
      { occurred_at: new Date(T0 + 40_000).toISOString() },
    ])
    expect(summary(burst)).toEqual(['budget.threshold team:customer-success 100'])
    expect(summary(await run(rules, repeat(5)))).toEqual([])
  })

  it('total, month and day of a team and a tenant, each threshold once', async () => {
    const report = await run(
      {
        budgets: [
          { scope: { tenant: 'acme' }, period: 'total', limit_usd: '0.3', alert_at: [50, 100] },
          {
            scope: { team: 'customer-success' },
            period: 'month',
            limit_usd: '0.3',
            alert_at: [100],
          },
          { scope: { team: 'someone-else' }, period: 'day', limit_usd: '0.01' },
        ],
      },
      repeat(6),
    )
    expect(summary(report)).toEqual([
      'budget.threshold tenant:acme 50',
      'budget.threshold tenant:acme 100',
      'budget.threshold team:customer-success 100',
    ])
    // Calls past the limit carry the flag, not another alert.
    expect(report.alerts).toHaveLength(3)
  })

  it('freezes non-critical agents at the configured percentage', async () => {
    const report = await run(
      {
        agents: { 'support-bot': { critical: false }, 'pager-bot': { critical: true } },
        budgets: [
          {
            scope: { team: '*' },
            period: 'day',
            limit_usd: '0.3',
            alert_at: [100],
            freeze_non_critical_at: 50,
          },
        ],
      },
      [{ agent_id: 'pager-bot' }, { agent_id: 'pager-bot' }, {}, {}],
    )
    expect(summary(report)).toEqual([
      'budget.freeze agent:support-bot 50',
      'budget.threshold team:customer-success 100',
    ])
    expect(report.commands).toMatchObject([
      {
        action: 'block',
        scope: { kind: 'agent', id: 'support-bot' },
        expires_at: '2026-03-03T00:00:00.000Z',
      },
    ])
  })
})

describe('loops', () => {
  it('near-identical content in consecutive calls of a session, once per run', async () => {
    const report = await run({}, [
      { session_id: 's', content_simhash: 'ffffffffffffffff' },
      { session_id: 's', content_simhash: 'fffffffffffffff0' }, // 60 of 64 bits agree
      { session_id: 's', content_simhash: 'fffffffffffffff1' },
      { session_id: 's', content_simhash: '0000000000000000' },
      { session_id: 's', content_simhash: '0000000000000001' },
    ])
    expect(summary(report)).toEqual([
      'loop.similar_content session:s',
      'loop.similar_content session:s',
    ])
  })

  it('a session past its iteration cap, with a throttle when the rule asks for one', async () => {
    const report = await run(
      { loops: { max_iterations: 3, on_detect: 'throttle', throttle_calls_per_minute: 2 } },
      [1, 2, 3, 4, 5].map((iteration) => ({ session_id: 's', iteration })),
    )
    expect(summary(report)).toEqual(['loop.iterations session:s'])
    expect(report.commands).toMatchObject([
      { action: 'throttle', calls_per_minute: 2, scope: { kind: 'session', id: 's' } },
    ])
  })
  it('a retry loop that goes on is raised once per window, its command again once it expired', async () => {
    // The same request every 5 s for 5 minutes: over 5 in 60 s from the 6th call on.
    const report = await run(
      { loops: { on_detect: 'throttle', throttle_calls_per_minute: 2, command_minutes: 2 } },
      Array.from({ length: 60 }, (_, i) => ({
        request_fingerprint: 'same',
        occurred_at: new Date(T0 + i * 5000).toISOString(),
      })),
    )
    const at = (iso: string) => (Date.parse(iso) - T0) / 1000
    expect(report.alerts.map((a) => at(a.occurred_at))).toEqual([25, 90, 155, 220, 285])
    expect(new Set(report.alerts.map((a) => a.dedup_key)).size).toBe(5)
    // A throttle for 2 minutes at 25 s, again at 155 s and 285 s, not in between.
    expect(report.commands.map((c) => at(c.issued_at))).toEqual([25, 155, 285])
  })
})

describe('the field story (README)', () => {
  it('14,000 GPT-4 calls of blog-outline: one critical violation at the first call, one block', async () => {
    const events = [...blogOutlineEvents()]
    const config = loadConfig({ file: 'examples/blog-outline/spendguard.yaml' })
    const report = await replay(
      Readable.from([events.map((event) => JSON.stringify(event)).join('\n')]),
      { pricer, allowedLatenessMs: 120_000, rules: config },
    )
    expect(report.events.accepted).toBe(CALLS)
    expect(report.violations).toEqual([
      expect.objectContaining({
        event_id: events[0]!.event_id,
        agent_id: 'blog-outline',
        model: 'gpt-4',
        severity: 'critical',
        mode: 'strict',
      }),
    ])
    expect(report.commands.map((c) => [c.action, c.scope.id, c.issued_at])).toEqual([
      ['block', 'blog-outline', events[0]!.occurred_at],
    ])
  })
})

describe('the documented rules', () => {
  it('the complete example of docs/detection.md is a valid configuration', () => {
    const text = readFileSync('docs/detection.md', 'utf8')
    const yaml = /```yaml\n([\s\S]*?)```/.exec(text)![1]!
    const config = parseConfig(parseYaml(yaml))
    expect(config.budgets.map((b) => b.id)).toEqual(['user-day', 'team-minute_tokens'])
    expect(config.policy.tenants.acme!.categories.support!.models).toEqual(['gpt-4o-mini'])
    expect(config.agents['nightly-digest']!.critical).toBe(false)
  })

  it('the README example is a valid configuration', () => {
    const text = readFileSync('README.md', 'utf8')
    const yaml = /### Detection rules[\s\S]*?```yaml\n([\s\S]*?)```/.exec(text)![1]!
    const config = parseConfig(parseYaml(yaml))
    expect(config.budgets[0]).toMatchObject({ id: 'user-day', freeze_non_critical_at: 80 })
    expect(config.policy.mode).toBe('strict')
  })
})

describe('detector state under failures and repeats', () => {
  const fingerprinted = (i: number) =>
    parseLlmCall(
      makeLlmCallInput({
        event_id: `00000000-0000-4000-8000-${String(100 + i).padStart(12, '0')}`,
        occurred_at: new Date(T0 + i * 1000).toISOString(),
        request_fingerprint: 'same-request',
      }),
    )
  const judged = (call: LlmCall) => ({ call, price: pricer.price(call), late: false })

  it('batches judged at the same time keep their changes apart; a discarded one leaves none', () => {
    const engine = createDetectionEngine(parseConfig({}))
    const windows = new SpendWindows()
    const a = engine.batch([windows], T0)
    const b = engine.batch([windows], T0)
    for (let i = 0; i < 3; i++) {
      expect(a.judge(judged(fingerprinted(i))).alerts).toEqual([])
      expect(b.judge(judged(fingerprinted(10 + i))).alerts).toEqual([])
    }
    a.discard()
    b.commit()
    // Three more: with b's three that makes six in 60 s, the first count over five.
    const c = engine.batch([windows], T0)
    const fired = [20, 21, 22].map((i) => c.judge(judged(fingerprinted(i))).flags)
    expect(fired).toEqual([[], [], ['loop:fingerprint']])
  })

  it('a call repeated in a batch, or already audited, is not judged again', async () => {
    const store = new MemoryAuditStore()
    const alerts: string[] = []
    const processor = createEventProcessor({
      pricer,
      sink: createAuditSink({ store, logger: silentLogger(), flushIntervalMs: 1 }),
      deadLetters: { publish: () => Promise.resolve() },
      logger: silentLogger(),
      clock: new ManualClock(T0 + MINUTE),
      allowedLatenessMs: 120_000,
      flushEachBatch: true,
      decisions: {
        record(batch) {
          alerts.push(...batch.alerts.map((a) => a.type))
          return Promise.resolve()
        },
      },
    })
    const same = fingerprinted(0)
    const record = { event: same, source: { kind: 'http' as const } }
    await processor.process([record, record, record])
    await processor.process([record, record, record, record])
    expect(store.rows).toHaveLength(1)
    expect(alerts).toEqual([])
  })

  it('a call crossing several thresholds gives guards one cap, and none when it also blocks', async () => {
    const report = await run(
      {
        budgets: [
          { scope: { team: '*' }, period: 'day', limit_usd: '0.1', on_exceed: 'block' },
          { scope: { agent: '*' }, period: 'day', limit_usd: '0.07', on_exceed: 'block' },
        ],
      },
      repeat(2),
    )
    // $0.075 a call: the team's first call crosses 25 and 50 %, its second 80 and 100 %; the
    // agent's first crosses every threshold up to 100 % at once.
    expect(report.commands.map((c) => `${c.action} ${c.rule} ${c.spent_usd ?? ''}`.trim())).toEqual(
      ['cap budget:team-day@50 0.075', 'block budget:agent-day@100', 'block budget:team-day@100'],
    )
  })

  it('budget ids must differ; reaching the limit blocks even when alert_at stops below it', async () => {
    expect(() =>
      parseConfig({
        budgets: [
          { scope: { team: '*' }, period: 'total', limit_usd: '1000' },
          { scope: { team: 'content' }, period: 'total', limit_usd: '100' },
        ],
      }),
    ).toThrow(/budgets\.1\.id: "team-total" is also the id of budgets\.0/)
    const report = await run(
      {
        budgets: [
          {
            scope: { team: '*' },
            period: 'day',
            limit_usd: '0.15',
            alert_at: [50],
            on_exceed: 'block',
          },
        ],
      },
      repeat(3),
    )
    expect(summary(report)).toEqual([
      'budget.threshold team:customer-success 50',
      'budget.threshold team:customer-success 100',
    ])
    // Below the limit a blocking budget tells guards its headroom (a cap); at the limit, a block.
    expect(report.commands.map((c) => [c.action, c.limit_usd, c.spent_usd])).toEqual([
      ['cap', '0.15', '0.075'],
      ['block', undefined, undefined],
    ])
  })
})

describe('after a restart', () => {
  it('detectors take back what their alerts say was fired: no second alert, no second block', () => {
    const rules = parseConfig({
      budgets: [{ scope: { user: '*' }, period: 'day', limit_usd: '0.15', on_exceed: 'block' }],
      policy: { mode: 'strict', categories: { drafting: { models: ['gpt-4o-mini'] } } },
    })
    const call = (i: number) =>
      parseLlmCall(
        makeLlmCallInput({
          event_id: `00000000-0000-4000-8000-${String(500 + i).padStart(12, '0')}`,
          occurred_at: new Date(T0 + i * MINUTE).toISOString(),
          model: 'gpt-4o',
          task_category: 'drafting',
          input_tokens: 10_000,
          output_tokens: 5_000,
        }),
      )
    const run = (
      engine: ReturnType<typeof createDetectionEngine>,
      windows: SpendWindows,
      from: number,
      to: number,
    ) => {
      const alerts = []
      for (let i = from; i < to; i++) {
        const batch = engine.batch([windows], T0 + i * MINUTE)
        const price = pricer.price(call(i))
        const evaluated = { call: call(i), price, late: false }
        alerts.push(...batch.judge(evaluated).alerts)
        batch.commit()
        windows.add(evaluated.call, pricedCost(price), false, T0 + i * MINUTE)
      }
      return alerts
    }
    const windows = new SpendWindows()
    const before = run(createDetectionEngine(rules), windows, 0, 3)
    expect(before.map((a) => a.type)).toEqual([
      'policy.model',
      'budget.threshold',
      'budget.threshold',
      'budget.threshold',
      'budget.threshold',
      'anomaly.user_budget',
    ])
    // A new process: the same windows (rebuilt from the audit), the alerts read back.
    const restarted = createDetectionEngine(rules)
    restarted.remember(before)
    // The policy violation and every budget threshold stay fired; the user-budget anomaly, whose
    // budget the alert does not name, is the one repeat (under the same id).
    const after = run(restarted, windows, 3, 5)
    expect(after.map((a) => a.type)).toEqual(['anomaly.user_budget'])
    expect(after[0]!.alert_id).toBe(before[5]!.alert_id)
  })
})
