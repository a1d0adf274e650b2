import { createHmac } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { endsWhenQuiet, type Alert } from '../../alerts/alert.ts'
import { budgetPeriodEnded, budgetsNearLimit, resolveSubsided } from '../../alerts/alert-jobs.ts'
import { budgetUsage } from '../../processors/detection/budget-usage.ts'
import { createAlertRouter, resolveLifted, type Delivery } from '../../alerts/alert-router.ts'
import { createReceivers, summaryLines } from '../../alerts/receivers.ts'
import { alertRoutingSchema } from '../../alerts/routing.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import { recordingReceiver } from '../support/recording-receiver.ts'

const receiver = recordingReceiver

const T0 = Date.parse('2026-03-02T12:00:00Z')

function alert(i: number, fields: Partial<Alert> = {}): Alert {
  return {
    alert_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    dedup_key: `acme|budget:user-day@100|user:u-7|2026-03-02@100`,
    type: 'budget.threshold',
    severity: 'critical',
    scope: { kind: 'user', id: 'u-7' },
    summary: 'user u-7 reached 100 % of budget user-day ($10 of $10, day 2026-03-02)',
    occurred_at: new Date(T0).toISOString(),
    evidence: {
      tenant: 'acme',
      rule: 'budget:user-day@100',
      window: 'day',
      observed: '$10',
      threshold: '$10',
      event_ids: ['e-1'],
    },
    ...fields,
  }
}

function setup(routing: unknown, env: Record<string, string>) {
  let now = T0
  const deliveries: Delivery[] = []
  const parsed = alertRoutingSchema.parse(routing)
  const router = createAlertRouter({
    routing: parsed,
    receivers: createReceivers(parsed, env, fetch, () => now),
    logger: silentLogger(),
    now: () => now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 20))),
    record: (delivery) => {
      deliveries.push(delivery)
      return Promise.resolve()
    },
    retry: { baseMs: 10, maxMs: 2000 },
  })
  return { router, deliveries, advance: (ms: number) => (now += ms) }
}

/** A router whose one receiver is a PagerDuty endpoint that accepts everything. */
async function withPagerDuty() {
  const pd = await receiver(() => ({ status: 202 }))
  return {
    pd,
    ...setup({ pagerduty: [{ name: 'oncall', routing_key: 'KEY', events_url: pd.url }] }, {}),
  }
}

/** The i-th loop alert of agent a, each with a dedup key of its own. */
const loopOfAgentA = (i: number) =>
  alert(i, {
    dedup_key: `acme|loop:fingerprint|agent:a|e-${i}`,
    type: 'loop.fingerprint',
    scope: { kind: 'agent', id: 'a' },
  })

describe('alert routing and delivery', () => {
  it('a budget crossing: one Slack message after a 429 with Retry-After, one PagerDuty trigger', async () => {
    const slack = await receiver((n) =>
      n === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 },
    )
    const pagerduty = await receiver(() => ({ status: 202 }))
    const { router, deliveries } = setup(
      {
        slack: [{ name: 'finops', webhook_url: '${SLACK_URL}' }],
        pagerduty: [
          { name: 'oncall', routing_key: '${PD_KEY}', events_url: `${pagerduty.url}/v2/enqueue` },
        ],
        routes: [{ severity: 'critical', to: ['oncall', 'finops'] }],
      },
      { SLACK_URL: `${slack.url}/hook`, PD_KEY: 'R0UT1NGKEY' },
    )
    router.route(alert(1))
    await router.drain()
    expect(slack.received).toHaveLength(2)
    const message = JSON.parse(slack.received[1]!.body) as { text: string }
    expect(message.text).toContain('[critical] budget.threshold: user u-7 reached 100 %')
    expect(pagerduty.received).toHaveLength(1)
    expect(JSON.parse(pagerduty.received[0]!.body)).toMatchObject({
      routing_key: 'R0UT1NGKEY',
      event_action: 'trigger',
      dedup_key: 'acme|budget:user-day@100|user:u-7|2026-03-02@100',
      payload: { severity: 'critical', source: 'spendguard' },
    })
    expect(deliveries.map((d) => [d.receiver, d.status, d.attempts]).sort()).toEqual([
      ['finops', 'delivered', 2],
      ['oncall', 'delivered', 1],
    ])
  })

  it('the rollover resolves a budget incident once: PagerDuty resolve on the dedup key, Slack told', async () => {
    const slack = await receiver(() => ({ status: 200 }))
    const pagerduty = await receiver(() => ({ status: 202 }))
    const { router, deliveries } = setup(
      {
        slack: [{ name: 'finops', webhook_url: `${slack.url}/hook` }],
        pagerduty: [{ name: 'oncall', routing_key: 'KEY', events_url: `${pagerduty.url}/v2` }],
      },
      {},
    )
    const crossing = alert(1, { evidence: { ...alert(1).evidence, period: '2026-03-02' } })
    router.route(crossing)
    // Another scope's alert of a month budget stays open at the turn of the day.
    router.route(
      alert(2, {
        dedup_key: 'acme|budget:team-month@100|team:ml|2026-03@100',
        scope: { kind: 'team', id: 'ml' },
        evidence: { tenant: 'acme', window: 'month', period: '2026-03' },
      }),
    )
    await router.drain()
    const midnight = Date.parse('2026-03-03T00:00:00Z')
    expect(router.resolve((a) => budgetPeriodEnded(a, T0), 'not yet')).toBe(0)
    expect(router.resolve((a) => budgetPeriodEnded(a, midnight), 'the day ended')).toBe(1)
    expect(router.resolve((a) => budgetPeriodEnded(a, midnight), 'the day ended')).toBe(0)
    await router.drain()
    expect(pagerduty.received.map((r) => JSON.parse(r.body) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ event_action: 'trigger', dedup_key: crossing.dedup_key }),
      expect.objectContaining({
        event_action: 'trigger',
        dedup_key: 'acme|budget:team-month@100|team:ml|2026-03@100',
      }),
      { routing_key: 'KEY', event_action: 'resolve', dedup_key: crossing.dedup_key },
    ])
    const resolved = JSON.parse(slack.received[2]!.body) as { text: string; blocks: unknown[] }
    expect(resolved.text).toBe(`[resolved] budget.threshold: ${crossing.summary}`)
    expect(JSON.stringify(resolved.blocks)).toContain('cleared: the day ended')
    expect(
      deliveries
        .filter((d) => d.action === 'resolve')
        .map((d) => d.receiver)
        .sort(),
    ).toEqual(['finops', 'oncall'])
    // At the turn of the month the month budget clears too.
    expect(
      router.resolve((a) => budgetPeriodEnded(a, Date.parse('2026-04-01T00:00:00Z')), 'month'),
    ).toBe(1)
  })

  it('a receiver down then up gets every alert afterwards, in order', async () => {
    const down = await receiver(() => ({ status: 200 }))
    const port = down.port
    await new Promise((r) => down.server.close(r))
    const { router, deliveries } = setup(
      {
        webhooks: [{ name: 'siem', url: `http://127.0.0.1:${port}/in`, secret: '${SIEM_SECRET}' }],
        routes: [{ type: 'policy_violation', to: ['siem'] }],
      },
      { SIEM_SECRET: 's3cret' },
    )
    for (let i = 1; i <= 3; i++)
      router.route(alert(i, { type: 'policy.model', scope: { kind: 'agent', id: `agent-${i}` } }))
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(deliveries).toEqual([])
    const up = await receiver(() => ({ status: 200 }), port)
    await router.drain()
    expect(up.received.map((r) => (JSON.parse(r.body) as { alert: Alert }).alert.scope.id)).toEqual(
      ['agent-1', 'agent-2', 'agent-3'],
    )
    // The signature covers timestamp and body.
    const first = up.received[0]!
    const expected = createHmac('sha256', 's3cret')
      .update(`${String(first.headers['x-spendguard-timestamp'])}.${first.body}`)
      .digest('hex')
    expect(first.headers['x-spendguard-signature']).toBe(`sha256=${expected}`)
    expect(deliveries.map((d) => d.status)).toEqual(['delivered', 'delivered', 'delivered'])
    expect(deliveries[0]!.attempts).toBeGreaterThan(1)
  })

  it('a thousand loop alerts of one scope in five minutes: one notification, then the count', async () => {
    const slack = await receiver(() => ({ status: 200 }))
    const { router, advance } = setup(
      { cooldown: '15m', slack: [{ name: 'team', webhook_url: `${slack.url}/hook` }] },
      {},
    )
    for (let i = 0; i < 1000; i++) {
      router.route(
        alert(i, {
          type: 'loop.fingerprint',
          severity: 'warning',
          scope: { kind: 'agent', id: 'a' },
        }),
      )
      advance(300)
    }
    // Another scope is its own notification.
    router.route(
      alert(5000, {
        type: 'loop.fingerprint',
        severity: 'warning',
        scope: { kind: 'agent', id: 'b' },
      }),
    )
    advance(15 * 60_000)
    router.route(
      alert(5001, {
        type: 'loop.fingerprint',
        severity: 'warning',
        scope: { kind: 'agent', id: 'a' },
      }),
    )
    await router.drain()
    const texts = slack.received.map((r) => JSON.stringify(JSON.parse(r.body)))
    expect(texts).toHaveLength(3)
    expect(texts[2]).toContain('and 999 more like it since the last notification')
  })

  it('a refusal for good is recorded with the reason and the queue moves on; info goes to the log', async () => {
    const slack = await receiver((n) => (n === 1 ? { status: 400 } : { status: 200 }))
    const { router, deliveries } = setup(
      { slack: [{ name: 'finops', webhook_url: slack.url }] },
      {},
    )
    router.route(alert(1, { severity: 'warning' }))
    router.route(alert(2, { severity: 'warning', scope: { kind: 'user', id: 'u-8' } }))
    router.route(alert(3, { severity: 'info', scope: { kind: 'user', id: 'u-9' } }))
    await router.drain()
    expect(deliveries.map((d) => [d.alert_id.slice(-1), d.status])).toEqual([
      ['1', 'failed'],
      ['2', 'delivered'],
    ])
    expect(deliveries[0]!.reason).toContain('answered 400')
  })

  it('configuration errors name the field; messages say what, who, how much, when', async () => {
    expect(() =>
      alertRoutingSchema.parse({ routes: [{ severity: 'warning', to: ['nobody'] }] }),
    ).toThrow(/no receiver named .*nobody/)
    expect(() =>
      createReceivers(
        alertRoutingSchema.parse({ slack: [{ name: 'x', webhook_url: '${MISSING_URL}' }] }),
        {},
      ),
    ).toThrow('alerts.slack.0.webhook_url: the environment variable MISSING_URL is not set')
    // A secret can come from a file (a mounted secret), its last newline dropped.
    const dir = mkdtempSync(join(tmpdir(), 'spendguard-secret-'))
    writeFileSync(join(dir, 'pd-key'), 'FROM-A-FILE\n')
    const sent: string[] = []
    const [pd] = createReceivers(
      alertRoutingSchema.parse({
        pagerduty: [{ name: 'oncall', routing_key: `\${file:${join(dir, 'pd-key')}}` }],
      }),
      {},
      (_url, init) => {
        sent.push(init?.body as string)
        return Promise.resolve(new Response('{}', { status: 202 }))
      },
    )
    await pd!.send({ alert: alert(1), suppressed: 0 })
    expect(JSON.parse(sent[0]!)).toMatchObject({ routing_key: 'FROM-A-FILE' })
    expect(() =>
      createReceivers(
        alertRoutingSchema.parse({
          pagerduty: [{ name: 'oncall', routing_key: `\${file:${join(dir, 'missing')}}` }],
        }),
        {},
      ),
    ).toThrow(
      /alerts\.pagerduty\.0\.routing_key: the secret file .*missing cannot be read \(ENOENT\)/,
    )
    rmSync(dir, { recursive: true, force: true })
    const withWho = alert(1)
    withWho.evidence.who = { agent: 'support-bot', user: 'u-7', team: 'care' }
    expect(summaryLines({ alert: withWho, suppressed: 0 })).toEqual([
      '[critical] budget.threshold: user u-7 reached 100 % of budget user-day ($10 of $10, day 2026-03-02)',
      'scope: user u-7 (tenant acme)',
      'who: agent support-bot, user u-7, team care',
      'observed $10 against $10 (day)',
      'rule: budget:user-day@100, at 2026-03-02T12:00:00.000Z',
      `see: spendguard sql "SELECT * FROM alerts FINAL WHERE alert_id = '00000000-0000-4000-8000-000000000001'"`,
    ])
  })

  it('a loop alert is resolved once its repeats stop for the quiet period, not while they go on', async () => {
    const pd = await receiver(() => ({ status: 202 }))
    const { router, advance, deliveries } = setup(
      {
        resolve_after: '30m',
        pagerduty: [{ name: 'oncall', routing_key: 'KEY', events_url: pd.url }],
        routes: [
          { type: 'loop', to: ['oncall'] },
          { type: 'anomaly', to: ['oncall'] },
        ],
      },
      {},
    )
    const loop = (i: number) =>
      alert(i, {
        dedup_key: `acme|loop:fingerprint|agent:a|e-${i}`,
        type: 'loop.fingerprint',
        severity: 'warning',
        scope: { kind: 'agent', id: 'a' },
      })
    const anomaly = alert(900, {
      dedup_key: 'acme|anomaly:window|agent:b|slot',
      type: 'anomaly.window',
      severity: 'warning',
      scope: { kind: 'agent', id: 'b' },
    })
    router.route(loop(1))
    router.route(anomaly)
    // The loop goes on: raised again every minute for 45 minutes (held back by the cooldown).
    for (let minute = 1; minute <= 45; minute++) {
      advance(60_000)
      router.route(loop(1 + minute))
      expect(resolveSubsided(router, T0 + minute * 60_000, 30 * 60_000)).toBe(
        minute === 30 ? 1 : 0, // the anomaly, quiet since the start
      )
    }
    // It stops: 30 minutes later it is resolved, once.
    advance(29 * 60_000)
    expect(resolveSubsided(router, T0 + 74 * 60_000, 30 * 60_000)).toBe(0)
    advance(60_000)
    expect(resolveSubsided(router, T0 + 75 * 60_000, 30 * 60_000)).toBe(1)
    expect(resolveSubsided(router, T0 + 76 * 60_000, 30 * 60_000)).toBe(0)
    await router.drain()
    const bodies = pd.received.map(
      (r) => JSON.parse(r.body) as { event_action: string; dedup_key: string },
    )
    expect(bodies.map((b) => [b.event_action, b.dedup_key])).toEqual([
      ['trigger', 'acme|loop:fingerprint|agent:a|e-1'],
      ['trigger', 'acme|anomaly:window|agent:b|slot'],
      // Repeats the cooldown let through (minutes 15, 30, 45) join the open incident.
      ['trigger', 'acme|loop:fingerprint|agent:a|e-1'],
      ['trigger', 'acme|loop:fingerprint|agent:a|e-1'],
      ['resolve', 'acme|anomaly:window|agent:b|slot'],
      ['trigger', 'acme|loop:fingerprint|agent:a|e-1'],
      ['resolve', 'acme|loop:fingerprint|agent:a|e-1'],
    ])
    // Every alert told under the incident is recorded resolved with it (a restart does not
    // take the repeats back as incidents of their own).
    const resolvedIds = deliveries
      .filter((d) => d.action === 'resolve' && d.status === 'delivered')
      .map((d) => d.alert_id.slice(-3))
    expect(resolvedIds.sort()).toEqual(['001', '016', '031', '046', '900'])
  })

  it('after a restart, the repeats of an open loop stay one incident', async () => {
    const { pd, router } = await withPagerDuty()
    const loop = (i: number, minute: number) =>
      alert(i, {
        dedup_key: `acme|loop:fingerprint|agent:a|e-${i}`,
        type: 'loop.fingerprint',
        severity: 'critical',
        scope: { kind: 'agent', id: 'a' },
        occurred_at: new Date(T0 - (60 - minute) * 60_000).toISOString(),
      })
    // Open before the restart: the first alert, and a repeat told under its key.
    router.reopen([
      { alert: loop(2, 20), receivers: ['oncall'] },
      { alert: loop(1, 0), receivers: ['oncall'] },
    ])
    router.route(loop(3, 60))
    await router.drain()
    const bodies = pd.received.map((r) => JSON.parse(r.body) as { dedup_key: string })
    expect(bodies.map((b) => b.dedup_key)).toEqual(['acme|loop:fingerprint|agent:a|e-1'])
  })

  it('resolving only what it routed leaves alerts taken back at start to the process that clears them', async () => {
    const { pd, router } = await withPagerDuty()
    const block = (i: number, user: string) =>
      alert(i, {
        dedup_key: `acme|budget:user-day@100|user:${user}|2026-03-02@100`,
        scope: { kind: 'user', id: user },
      })
    // Taken back at start (another process may have routed them), then one routed here, and
    // a repeat of a taken-back one routed here too: that one is this process's to resolve.
    router.reopen([
      { alert: block(1, 'u-1'), receivers: ['oncall'] },
      { alert: block(2, 'u-2'), receivers: ['oncall'] },
    ])
    router.route(block(3, 'u-3'))
    router.route(block(4, 'u-2'))
    expect(router.resolve(() => true, 'lifted elsewhere', 'routed')).toBe(2)
    expect(router.resolve(() => true, 'lifted here')).toBe(1)
    await router.drain()
    const resolves = pd.received
      .map((r) => JSON.parse(r.body) as { event_action: string; dedup_key: string })
      .filter((b) => b.event_action === 'resolve')
      .map((b) => b.dedup_key.split('|')[2])
    expect(resolves.sort()).toEqual(['user:u-1', 'user:u-2', 'user:u-3'])
  })

  it('lets a resolve find an incident by any alert told under it, not only its first', async () => {
    const { router, advance } = await withPagerDuty()
    router.route(loopOfAgentA(1))
    advance(16 * 60_000)
    // A repeat past the cooldown joins the open incident; its block is the one lifted.
    const repeat = loopOfAgentA(2)
    router.route(repeat)
    expect(router.resolve((first) => first.alert_id === repeat.alert_id, 'lifted')).toBe(0)
    expect(router.resolve((_first, joined) => joined.has(repeat.alert_id), 'lifted')).toBe(1)
    await router.drain()
  })

  it('leaves an incident open while an alert told under it still has its block in force', async () => {
    const { pd, router } = await withPagerDuty()
    // Taken back at start: the first loop (its block lifted before the restart) and a later
    // one on the same agent whose own block is still in force; they are one incident now.
    const [first, again] = [loopOfAgentA(1), loopOfAgentA(2)]
    router.reopen([
      { alert: first, receivers: ['oncall'] },
      { alert: again, receivers: ['oncall'] },
    ])
    const lifted = new Set([first.alert_id])
    expect(resolveLifted(router, { lifted, blocked: new Set([again.alert_id]) }, 'lifted')).toBe(0)
    // Once that block is lifted too, the incident resolves, once.
    expect(resolveLifted(router, { lifted, blocked: new Set() }, 'lifted')).toBe(1)
    expect(resolveLifted(router, { lifted, blocked: new Set() }, 'lifted')).toBe(0)
    await router.drain()
    const actions = pd.received.map(
      (r) => (JSON.parse(r.body) as { event_action: string }).event_action,
    )
    expect(actions).toEqual(['resolve'])
  })

  it("routes by team reach an agent's alerts through the team of the call that raised them", async () => {
    const care = await receiver(() => ({ status: 200 }))
    const finops = await receiver(() => ({ status: 200 }))
    const { router } = setup(
      {
        slack: [
          { name: 'care', webhook_url: care.url },
          { name: 'finops', webhook_url: finops.url },
        ],
        routes: [
          { team: 'care', to: ['care'] },
          { severity: 'critical', to: ['finops'] },
        ],
      },
      {},
    )
    const raised = alert(1, { severity: 'warning', scope: { kind: 'agent', id: 'support-bot' } })
    raised.evidence.who = { agent: 'support-bot', team: 'care' }
    router.route(raised)
    router.route(alert(2, { severity: 'warning', scope: { kind: 'agent', id: 'other-bot' } }))
    await router.drain()
    expect(care.received).toHaveLength(1)
    expect(care.received[0]!.body).toContain('who: agent support-bot, team care')
    expect(finops.received).toHaveLength(0)
  })
})

describe('budgets near their limit (digests)', () => {
  it('lists day and month budgets at 80 % or more, most used first, exactly', () => {
    const budgets = [
      { id: 'user-day', scope: { kind: 'user', value: '*' }, period: 'day', limit_usd: '10' },
      {
        id: 'team-month',
        scope: { kind: 'team', value: 'care' },
        period: 'month',
        limit_usd: '300',
      },
      { id: 'session', scope: { kind: 'session', value: '*' }, period: 'session', limit_usd: '1' },
    ] as unknown as Parameters<typeof budgetUsage>[0]
    const items: Record<string, Array<{ key: string; cost_usd: string; tenant: string }>> = {
      'user/day': [
        { key: 'u-1', cost_usd: '9.5', tenant: 'default' },
        { key: 'u-2', cost_usd: '7.999999999999999', tenant: 'default' },
        { key: 'u-3', cost_usd: '8', tenant: 'acme' },
      ],
      'team/month': [{ key: 'care', cost_usd: '312.5', tenant: 'default' }],
    }
    const asked: string[] = []
    const lines = budgetsNearLimit(
      budgetUsage(
        budgets,
        (query) => {
          asked.push(`${query.dimension}/${query.window}/${query.key ?? '*'}`)
          return {
            dimension: query.dimension,
            window: query.window,
            as_of: '',
            items: (items[`${query.dimension}/${query.window}`] ?? []) as never,
          }
        },
        T0,
      ),
    )
    expect(asked).toEqual(['user/day/*', 'team/month/care'])
    expect(lines).toEqual([
      'team-month: team care $312.50 of $300.00 (104.1 %) this month',
      'user-day: user u-1 $9.50 of $10.00 (95 %) this day',
      'user-day: user u-3 (tenant acme) $8.00 of $10.00 (80 %) this day',
    ])
  })

  it('a budget of $0 is refused at start, naming the field (nothing to take a share of)', () => {
    expect(() =>
      parseConfig({ budgets: [{ scope: { user: '*' }, period: 'day', limit_usd: '0.00' }] }),
    ).toThrow(/budgets\.0\.limit_usd: must be more than 0/)
  })

  it('a user above most of a daily budget is resolved by the rollover, not by a quiet spell', () => {
    const userBudget = alert(7, { type: 'anomaly.user_budget', severity: 'warning' })
    userBudget.evidence.period = '2026-03-02'
    expect(endsWhenQuiet(userBudget)).toBe(false)
    expect(endsWhenQuiet(alert(8, { type: 'anomaly.window' }))).toBe(true)
    expect(budgetPeriodEnded(userBudget, Date.parse('2026-03-02T23:59:00Z'))).toBe(false)
    expect(budgetPeriodEnded(userBudget, Date.parse('2026-03-03T00:00:00Z'))).toBe(true)
  })
})
