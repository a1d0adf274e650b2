import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { resumeAgent, runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { postEvents } from '../support/live-checks.ts'
import { recordingReceiver } from '../support/recording-receiver.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'

/** A call of a model the policy does not permit for its task category. */
const violation = () =>
  makeLlmCallInput({
    event_id: randomUUID(),
    occurred_at: recentTime(5),
    agent_id: 'blog-outline',
    task_category: 'bulk_generation',
    model: 'gpt-4',
  })

const work = mkdtempSync(join(tmpdir(), 'spendguard-alerts-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('alerts of a running embedded pipeline', () => {
  it('reach Slack and PagerDuty, are recorded as delivered, and a resume after a restart resolves the incident', async () => {
    const slack = await recordingReceiver()
    const pagerduty = await recordingReceiver(() => ({ status: 202 }))
    const messages = () => slack.received.map((request) => request.body)
    const events = () =>
      pagerduty.received.map(
        (request) => JSON.parse(request.body) as { event_action: string; dedup_key: string },
      )
    const dataDir = join(work, 'data')
    const configFile = join(work, 'spendguard.yaml')
    writeFileSync(
      configFile,
      `clickhouse: { dataDir: ${JSON.stringify(dataDir)} }
policy: { mode: strict, categories: { bulk_generation: { models: [llama3-8b] } } }
alerts:
  slack: [{ name: finops, webhook_url: "\${TEST_SLACK_URL}" }]
  pagerduty:
    - { name: oncall, routing_key: test-key, events_url: "http://127.0.0.1:${pagerduty.port}/v2/enqueue" }
  routes: [{ type: policy_violation, to: [finops] }, { severity: critical, to: [oncall] }]
`,
    )
    const port = await freePort()
    const url = `${slack.url}/hook`
    const start = () =>
      startCli(['start', '--config', configFile, '--port', String(port)], {
        TEST_SLACK_URL: url,
      })
    let server = await start()
    expect(server.logs()).not.toContain(url)
    await postEvents(port, [violation()])
    await expect.poll(() => messages().length, { timeout: 10_000, interval: 50 }).toBe(1)
    expect((JSON.parse(messages()[0]!) as { text: string }).text).toContain(
      '[critical] policy.model: agent blog-outline: model gpt-4 is not permitted',
    )
    // The message says what was done about it, and how to undo it.
    expect(messages()[0]).toContain(
      'done: block agent blog-outline until resumed; lift it: spendguard resume --agent blog-outline --tenant acme',
    )
    const recorded = async () =>
      (
        await runCli([
          'sql',
          `SELECT receiver, status, attempts FROM alert_deliveries WHERE action = 'trigger' ORDER BY receiver FORMAT JSONEachRow`,
          '--config',
          configFile,
        ])
      ).stdout.trim()
    await expect
      .poll(recorded, { timeout: 10_000, interval: 200 })
      .toBe(
        '{"receiver":"finops","status":"delivered","attempts":1}\n{"receiver":"oncall","status":"delivered","attempts":1}',
      )
    expect(events().map((e) => e.event_action)).toEqual(['trigger'])

    // After a restart the incident is still open; lifting the rule's block resolves it, once.
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    server = await start()
    const resumed = await resumeAgent('blog-outline', 'acme', configFile)
    expect(resumed.code).toBe(0)
    await expect.poll(() => events().length, { timeout: 10_000, interval: 50 }).toBe(2)
    expect(events()[1]).toEqual({
      routing_key: 'test-key',
      event_action: 'resolve',
      dedup_key: events()[0]!.dedup_key,
    })
    await expect.poll(() => messages().length, { timeout: 10_000, interval: 50 }).toBe(2)
    expect((JSON.parse(messages()[1]!) as { text: string }).text).toMatch(
      /^\[resolved\] policy\.model/,
    )

    // Every scheduled job has its start recorded (a later start catches up from there).
    const jobs = await runCli([
      'sql',
      'SELECT DISTINCT job FROM schedule_runs ORDER BY job FORMAT TSV',
      '--config',
      configFile,
    ])
    expect(jobs.stdout.trim().split('\n')).toEqual([
      'budget-rollover',
      'daily-digest',
      'retention-check',
      'weekly-digest',
    ])
    // What governs spend was recorded once, at the first start, with who started it.
    const changes = await runCli([
      'sql',
      `SELECT section, actor, before = '' AS first
         FROM config_changes ORDER BY section FORMAT JSONEachRow`,
      '--config',
      configFile,
    ])
    const rows = changes.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { section: string; actor: string; first: number })
    expect(rows.map((row) => row.section)).toEqual([
      'agents',
      'alerts',
      'anomalies',
      'budgets',
      'loops',
      'policy',
    ])
    expect(rows.every((row) => row.first === 1 && row.actor.startsWith('spendguard start ('))).toBe(
      true,
    )
    // The Slack URL came from the environment: the table keeps the variable, not its value.
    expect(changes.stdout).not.toContain(url)
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })
})

describe('the alert outbox of the embedded pipeline', () => {
  it('an alert still queued when the process stops is delivered by the next start', async () => {
    const port = await freePort()
    const slackPort = await freePort()
    const dataDir = join(work, 'outbox-data')
    const configFile = join(work, 'outbox.yaml')
    writeFileSync(
      configFile,
      `clickhouse: { dataDir: ${JSON.stringify(dataDir)} }
policy: { mode: audit, categories: { bulk_generation: { models: [llama3-8b] } } }
alerts:
  slack: [{ name: finops, webhook_url: "http://127.0.0.1:${slackPort}/hook" }]
  routes: [{ type: policy_violation, to: [finops] }]
`,
    )
    // The receiver is down: the alert is retried until the process stops.
    let server = await startCli(['start', '--config', configFile, '--port', String(port)])
    await postEvents(port, [violation()])
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)

    const slack = await recordingReceiver(undefined, slackPort)
    const messages = () => slack.received.map((request) => request.body)
    server = await startCli(['start', '--config', configFile, '--port', String(port)])
    await expect.poll(() => messages().length, { timeout: 15_000, interval: 50 }).toBe(1)
    expect((JSON.parse(messages()[0]!) as { text: string }).text).toContain('policy.model')
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    // A third start finds nothing left to send.
    server = await startCli(['start', '--config', configFile, '--port', String(port)])
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(messages()).toHaveLength(1)
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })

  it('a resolve still queued when the process dies is sent by the next start, once', async () => {
    const port = await freePort()
    const dataDir = join(work, 'resolve-data')
    const configFile = join(work, 'resolve.yaml')
    // PagerDuty takes the trigger, then is down while the resume is served.
    let down = false
    const pagerduty = await recordingReceiver(() => ({ status: down ? 503 : 202 }))
    writeFileSync(
      configFile,
      `clickhouse: { dataDir: ${JSON.stringify(dataDir)} }
policy: { mode: strict, categories: { bulk_generation: { models: [llama3-8b] } } }
alerts:
  pagerduty:
    - { name: oncall, routing_key: test-key, events_url: "http://127.0.0.1:${pagerduty.port}/v2/enqueue" }
  routes: [{ severity: critical, to: [oncall] }]
`,
    )
    const start = () => startCli(['start', '--config', configFile, '--port', String(port)])
    let server = await start()
    await postEvents(port, [violation()])
    const actions = () =>
      pagerduty.received.map(
        (request) => (JSON.parse(request.body) as { event_action: string }).event_action,
      )
    await expect.poll(actions, { timeout: 10_000, interval: 50 }).toEqual(['trigger'])
    down = true
    const resumed = await resumeAgent('blog-outline', 'acme', configFile)
    expect(resumed.code).toBe(0)
    await expect.poll(() => actions().length, { timeout: 10_000, interval: 50 }).toBe(2)
    // Killed while the resolve waits for its next try: nothing but memory held it.
    server.child.kill('SIGKILL')
    await server.exited
    down = false
    const tried = actions().length
    server = await start()
    await expect.poll(() => actions().length, { timeout: 15_000, interval: 50 }).toBe(tried + 1)
    expect(actions().slice(tried)).toEqual(['resolve'])
    const dedupKeys = new Set(
      pagerduty.received.map(
        (request) => (JSON.parse(request.body) as { dedup_key: string }).dedup_key,
      ),
    )
    expect(dedupKeys.size).toBe(1)
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    // Resolved for good: a third start tells nobody anything.
    server = await start()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    expect(actions()).toHaveLength(tried + 1)
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })
})
