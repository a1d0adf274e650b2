import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { replayReportSchema } from '../../processors/replay/replay-report.ts'
import { runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'
import { badLines, gpt4IncidentLines } from '../support/replay-files.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-cli-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('spendguard CLI on the embedded store (chDB)', () => {
  it('start, POST events, SIGTERM, then sql counts every accepted event', async () => {
    const dataDir = join(work, 'data')
    const port = await freePort()
    const env = { SPENDGUARD_LOG_LEVEL: 'info' }
    const running = await startCli(['start', '--port', String(port), '--data-dir', dataDir], env)

    const events = Array.from({ length: 40 }, (_, i) =>
      makeLlmCallInput({
        occurred_at: recentTime(),
        model: i % 4 === 0 ? 'model-nobody-priced' : 'gpt-4',
        input_tokens: 1800,
        output_tokens: 600,
      }),
    )
    const arrayResponse = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events.slice(0, 30)),
    })
    expect(arrayResponse.status).toBe(200)
    const ndjson = [
      ...events.slice(30).map((e) => JSON.stringify(e)),
      '{not json',
      JSON.stringify(events[0]),
    ].join('\n')
    const ndjsonResponse = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: ndjson,
    })
    expect(ndjsonResponse.status).toBe(207)
    // The re-sent first event was accepted by the first request: answered duplicate, audited once.
    expect(await ndjsonResponse.json()).toMatchObject({ accepted: 10, rejected: 1, duplicates: 1 })

    // SIGTERM right away: what was accepted must still reach the audit.
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)

    const count = await runCli(['sql', 'SELECT count() FROM llm_calls', '--data-dir', dataDir])
    expect(count.stderr).toBe('')
    expect(count.stdout.trim()).toBe('40')

    const money = await runCli([
      'sql',
      "SELECT toString(sum(cost_usd)) AS usd, countIf(price_status = 'unpriced') AS unpriced, countIf(cost_usd IS NULL) AS no_cost FROM llm_calls",
      '--data-dir',
      dataDir,
      '--format',
      'json',
    ])
    // 30 GPT-4 calls at $0.09 each; the 10 unknown-model calls are unpriced, not free.
    expect(JSON.parse(money.stdout)).toEqual({ usd: '2.7', unpriced: '10', no_cost: '10' })

    const ddl = await runCli(['sql', 'SHOW CREATE TABLE llm_calls', '--data-dir', dataDir])
    expect(ddl.stdout).toMatch(/PARTITION BY toYYYYMM\(occurred_at\)/)
    expect(ddl.stdout).toMatch(/TTL toDateTime\(occurred_at\) \+ toIntervalYear\(2\)/)
  })

  it('sql explains, without a stack trace, that a process it cannot reach holds the store', async () => {
    const dataDir = join(work, 'locked')
    const running = await startCli([
      'start',
      '--port',
      String(await freePort()),
      '--data-dir',
      dataDir,
    ])
    try {
      // Without the record of the running process (removed by hand, or a foreign process),
      // the CLI cannot reach it and opens the store, which is locked.
      rmSync(join(dataDir, 'running.json'))
      const result = await runCli(['sql', 'SELECT 1', '--data-dir', dataDir])
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/in use by another process/)
      expect(result.stderr).not.toMatch(/\n\s+at /)
    } finally {
      running.child.kill('SIGTERM')
      await running.exited
    }
  })

  it('start refuses to listen beyond loopback without tokens, saying why and how to fix it', async () => {
    const dataDir = join(work, 'exposed')
    const result = await runCli([
      'start',
      '--host',
      '0.0.0.0',
      '--port',
      '0',
      '--data-dir',
      dataDir,
    ])
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      /refusing to serve the HTTP API on 0\.0\.0\.0 without access tokens/,
    )
    expect(result.stderr).toMatch(/auth\.tokens.*SPENDGUARD_TOKENS_FILE.*127\.0\.0\.1/s)
    expect(result.stderr).not.toMatch(/\n\s+at /)
  })

  it('replay reports $1,260 for 14,000 GPT-4 calls, and bad lines by number', async () => {
    const file = join(work, 'incident.ndjson')
    writeFileSync(file, gpt4IncidentLines(14_000).join('\n') + '\n')
    const result = await runCli(['replay', file, '--format', 'json'])
    expect(result.code).toBe(0)
    const report = replayReportSchema.parse(JSON.parse(result.stdout))
    expect(report.cost_usd).toBe('1260')
    expect(report.events.accepted).toBe(14_000)

    const mixed = [gpt4IncidentLines(1)[0]!, ...badLines().map((b) => b.text)].join('\n')
    const fromStdin = await runCli(['replay', '-', '--format', 'json'], { input: mixed })
    const mixedReport = replayReportSchema.parse(JSON.parse(fromStdin.stdout))
    expect(mixedReport.rejected.map((r) => r.line)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 11])
    expect(mixedReport.events.accepted).toBe(2)

    const table = await runCli(['replay', file])
    expect(table.stdout).toMatch(/total cost: \$1260 /)
  })
})
