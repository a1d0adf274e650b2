import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../platform/config.ts'
import { replay } from '../../processors/replay/replay.ts'
import { startCli } from '../support/cli-process.ts'
import { combinedScenario } from '../support/detection-scenarios.ts'
import { freePort } from '../support/free-port.ts'
import { postEvents } from '../support/live-checks.ts'
import { testPricing } from '../support/pricing.ts'
import { pipelineConfigFor, pipelineTopics, startTestServices } from '../support/test-services.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-detection-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** The scenarios' stream, and what replay (the evaluation core on event time) decides on it. */
async function expected() {
  const combined = combinedScenario(Date.now() - 60_000)
  const { pricer } = await testPricing()
  const lines = combined.events.map((event) => JSON.stringify(event)).join('\n')
  const report = await replay(Readable.from([lines]), {
    pricer,
    allowedLatenessMs: 120_000,
    rules: parseConfig(combined.rules),
  })
  return { combined, report }
}

async function sql<T>(port: number, query: string): Promise<T[]> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/sql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, format: 'ndjson' }),
  })
  expect(response.status).toBe(200)
  return (await response.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T)
}

const liveAlerts = (port: number) =>
  sql<{ id: string; type: string }>(
    port,
    'SELECT toString(alert_id) AS id, type FROM alerts FINAL ORDER BY occurred_at, id',
  )
const liveCommands = (port: number) =>
  sql<{ id: string }>(
    port,
    'SELECT toString(command_id) AS id FROM command_requests FINAL ORDER BY id',
  )

/** Posts the stream in event-time order, a few events per request, as agents would. */
async function postAll(port: number, events: Parameters<typeof postEvents>[1]) {
  for (let at = 0; at < events.length; at += 7) await postEvents(port, events.slice(at, at + 7))
}

async function checkPipeline(port: number, run: Awaited<ReturnType<typeof expected>>) {
  const { combined, report } = run
  await postAll(port, combined.events)
  const want = report.alerts.map((alert) => ({ id: alert.alert_id, type: alert.type }))
  expect(want.length).toBeGreaterThan(10)
  await expect
    .poll(async () => (await liveAlerts(port)).length, { timeout: 60_000, interval: 200 })
    .toBe(want.length)
  const sortedIds = (rows: Array<{ id: string }>) => rows.map((row) => row.id).sort()
  expect(sortedIds(await liveAlerts(port))).toEqual(sortedIds(want))
  // A batch's command requests are written after its alerts: they may trail them a moment.
  await expect
    .poll(async () => sortedIds(await liveCommands(port)), { timeout: 10_000, interval: 100 })
    .toEqual(report.commands.map((command) => command.command_id).sort())
  // The audit rows of the strict-policy tenant all carry the violation. On Kafka a batch's
  // decisions are recorded before its rows, so the rows may follow the alerts by an insert.
  const flagged = async () => {
    const [row] = await sql<{ n: string }>(
      port,
      "SELECT count() AS n FROM llm_calls WHERE has(detection_flags, 'policy:model') AND tenant_id = 'scenario-0'",
    )
    return Number(row!.n)
  }
  await expect
    .poll(flagged, { timeout: 10_000, interval: 100 })
    .toBe(combined.events.filter((e) => e.tenant_id === 'scenario-0').length)
}

describe('the detection scenarios on a live pipeline give the alerts replay gives', () => {
  it('embedded (in-process transport, chDB)', async () => {
    const run = await expected()
    const configFile = join(work, 'embedded.json')
    writeFileSync(
      configFile,
      JSON.stringify({ ...run.combined.rules, clickhouse: { dataDir: join(work, 'embedded') } }),
    )
    const port = await freePort()
    const running = await startCli(['start', '--config', configFile, '--port', String(port)])
    await checkPipeline(port, run)
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
  })

  it('on the Kafka-protocol broker', async () => {
    const prefix = `detect-${randomUUID().slice(0, 8)}.`
    await using services = await startTestServices(pipelineTopics(prefix))
    const run = await expected()
    const configFile = join(work, 'kafka.json')
    writeFileSync(
      configFile,
      JSON.stringify({
        ...pipelineConfigFor(services, prefix, { batchSize: 50, flushIntervalMs: 100 }),
        clickhouse: { ...services.store.clickhouse, dataDir: join(work, 'kafka') },
        ...run.combined.rules,
      }),
    )
    const port = await freePort()
    const running = await startCli(['start', '--config', configFile, '--port', String(port)])
    await checkPipeline(port, run)
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
  })
})
