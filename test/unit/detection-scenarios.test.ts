import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import type { Alert } from '../../alerts/alert.ts'
import { ManualClock } from '../../platform/clock.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import { createAuditSink } from '../../processors/audit/audit-sink.ts'
import type { DecisionSink } from '../../processors/detection/decision-store.ts'
import type { Decisions } from '../../processors/detection/detection.ts'
import { createEventProcessor } from '../../processors/ingest/event-processor.ts'
import { replay } from '../../processors/replay/replay.ts'
import { parseLlmCall } from '../../schemas/validate.ts'
import {
  combinedScenario,
  detectionScenarios,
  type Scenario,
} from '../support/detection-scenarios.ts'
import { MemoryAuditStore } from '../support/memory-audit-store.ts'
import { testPricing } from '../support/pricing.ts'

const { pricer } = await testPricing()
const BASE = Date.parse('2026-03-02T12:00:00Z')

async function replayed(scenario: Scenario) {
  const rules = parseConfig(scenario.rules)
  const lines = scenario.events.map((event) => JSON.stringify(event)).join('\n')
  return replay(Readable.from([lines]), { pricer, allowedLatenessMs: 120_000, rules })
}

/** The live processor of a scenario's rules over a memory store, at the clock `BASE`. */
function processorFor(scenario: Scenario, decisions: DecisionSink) {
  const store = new MemoryAuditStore()
  const processor = createEventProcessor({
    pricer,
    sink: createAuditSink({ store, logger: silentLogger(), flushIntervalMs: 1 }),
    deadLetters: { publish: () => Promise.resolve() },
    logger: silentLogger(),
    clock: new ManualClock(BASE),
    allowedLatenessMs: 120_000,
    flushEachBatch: true,
    rules: parseConfig(scenario.rules),
    decisions,
  })
  return { store, processor }
}

/** The live processor, fed the scenario in batches of `size` at the clock `BASE`. */
async function processed(scenario: Scenario, size: number) {
  const decisions: Decisions = { alerts: [], commands: [], violations: [] }
  const { store, processor } = processorFor(scenario, {
    record(batch) {
      decisions.alerts.push(...batch.alerts)
      decisions.commands.push(...batch.commands)
      return Promise.resolve()
    },
  })
  const events = scenario.events.map((event) => parseLlmCall(event))
  for (let i = 0; i < events.length; i += size) {
    const batch = events.slice(i, i + size).map((event) => ({
      event,
      source: { kind: 'http' as const },
    }))
    await processor.process(batch)
  }
  return { decisions, rows: store.rows }
}

const ids = (alerts: Alert[]) => alerts.map((alert) => alert.alert_id)

describe('detection scenarios through the evaluation core', () => {
  for (const scenario of detectionScenarios(BASE)) {
    it(`${scenario.name}: replay fires ${scenario.expectedTypes.join(', ') || 'nothing'}`, async () => {
      const report = await replayed(scenario)
      expect(report.events.rejected).toBe(0)
      expect(report.alerts.map((alert) => alert.type)).toEqual(scenario.expectedTypes)
      // Byte-identical JSON from the same file.
      expect(JSON.stringify(await replayed(scenario))).toBe(JSON.stringify(report))
    })

    it(`${scenario.name}: the live processor fires the same alerts, one batch or many`, async () => {
      const report = await replayed(scenario)
      for (const size of [1, 4, scenario.events.length]) {
        const { decisions, rows } = await processed(scenario, size)
        expect(ids(decisions.alerts)).toEqual(ids(report.alerts))
        expect(decisions.commands.map((c) => c.command_id)).toEqual(
          report.commands.map((c) => c.command_id),
        )
        expect(rows).toHaveLength(scenario.events.length)
      }
    })
  }
})

describe('detection decisions', () => {
  const [wrongModel] = detectionScenarios(BASE)
  const withMode = (mode: 'strict' | 'audit' | 'off'): Scenario => ({
    ...wrongModel!,
    rules: { policy: { ...wrongModel!.rules.policy, mode } },
  })

  it('policy modes: strict blocks, audit only alerts, off checks nothing', async () => {
    const strict = await replayed(withMode('strict'))
    expect(strict.violations).toHaveLength(1)
    expect(strict.violations[0]).toMatchObject({
      event_id: wrongModel!.events[0]!.event_id,
      severity: 'critical',
      rule: 'policy:model',
    })
    expect(strict.commands.map((c) => [c.action, c.scope])).toEqual([
      ['block', { kind: 'agent', id: 'blog-outline' }],
    ])
    const audit = await replayed(withMode('audit'))
    expect(audit.violations).toHaveLength(1)
    expect(audit.commands).toEqual([])
    const off = await replayed(withMode('off'))
    expect([off.alerts, off.violations, off.commands]).toEqual([[], [], []])
  })

  it('a dated id of a permitted model is permitted; a look-alike is not', async () => {
    const scenario = (model: string): Scenario => ({
      ...wrongModel!,
      rules: { policy: { mode: 'audit', categories: { review: { models: ['gpt-4'] } } } },
      events: wrongModel!.events.slice(0, 1).map((e) => ({ ...e, task_category: 'review', model })),
    })
    expect((await replayed(scenario('gpt-4-0613'))).violations).toEqual([])
    expect((await replayed(scenario('openai/gpt-4'))).violations).toEqual([])
    expect((await replayed(scenario('gpt-4o'))).violations).toHaveLength(1)
  })

  it('every violating call carries the flag in its audit row; the alert comes once', async () => {
    const { rows, decisions } = await processed(withMode('audit'), 5)
    expect(rows.map((row) => row.detection_flags)).toEqual(
      wrongModel!.events.map(() => ['policy:model']),
    )
    expect(decisions.alerts).toHaveLength(1)
  })

  it('a batch that fails is judged the same way when it comes again', async () => {
    const scenario = detectionScenarios(BASE).find((s) => s.name.startsWith('retry loop'))!
    const alerts: Alert[] = []
    let failures = 1
    const { store, processor } = processorFor(scenario, {
      record(batch) {
        if (failures-- > 0) return Promise.reject(new Error('alerts table unavailable'))
        alerts.push(...batch.alerts)
        return Promise.resolve()
      },
    })
    const batch = scenario.events.map((e) => ({
      event: parseLlmCall(e),
      source: { kind: 'http' as const },
    }))
    await expect(processor.process(batch)).rejects.toThrow('alerts table unavailable')
    expect(store.rows).toEqual([])
    await processor.process(batch)
    const flagged = store.rows.filter((row) => row.detection_flags.includes('loop:fingerprint'))
    // Only the sixth call fired: the failed attempt left no trace in the detectors.
    expect(flagged.map((row) => row.event_id)).toEqual([scenario.events[5]!.event_id])
    expect(alerts.map((a) => a.type)).toEqual(['loop.fingerprint'])
  })

  it('rules errors name the field', () => {
    expect(() =>
      parseConfig({ budgets: [{ scope: { user: '*' }, period: 'day', on_exceed: 'block' }] }),
    ).toThrow(/budgets\.0\.limit_usd: is required for period day/)
    expect(() =>
      parseConfig({
        budgets: [{ scope: { user: '*', team: 'x' }, period: 'day', limit_usd: '1' }],
      }),
    ).toThrow(/budgets\.0\.scope: name exactly one of/)
    expect(() => parseConfig({ loops: { fingerprint_repeat: 5 } })).toThrow(
      /loops\.fingerprint_repeat: unrecognized key/,
    )
  })
})

describe('all scenarios in one stream', () => {
  it('fire per tenant what each fires alone (what the live tests run)', async () => {
    const combined = combinedScenario(BASE)
    const { rules, events } = combined
    const report = await replayed({ name: 'combined', rules, events, expectedTypes: [] })
    const byTenant: Record<string, string[]> = {}
    for (const alert of report.alerts) {
      const tenant = (alert.evidence as { tenant: string }).tenant
      ;(byTenant[tenant] ??= []).push(alert.type)
    }
    const expected = Object.fromEntries(
      Object.entries(combined.expectedTypes).filter(([, types]) => types.length > 0),
    )
    expect(byTenant).toEqual(expected)
  })
})
