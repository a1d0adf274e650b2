import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-gzip-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('a gzip NDJSON body into the embedded pipeline (chDB)', () => {
  it('is audited with its tokens and exact cost', async () => {
    const dataDir = join(work, 'data')
    const port = await freePort()
    const running = await startCli(['start', '--port', String(port), '--data-dir', dataDir])
    // gpt-4o at $2.50 per 1M input and $10 per 1M output tokens.
    const events = [
      { input_tokens: 1000, output_tokens: 300 }, // $0.0025 + $0.003
      { input_tokens: 123_457, output_tokens: 7 }, // $0.3086425 + $0.00007
    ].map((tokens, i) =>
      makeLlmCallInput({
        occurred_at: recentTime(30 - i),
        agent_id: `shipper-${i}`,
        provider: 'openai',
        model: 'gpt-4o',
        ...tokens,
      }),
    )
    const body = gzipSync(events.map((event) => JSON.stringify(event)).join('\n') + '\n')
    const answer = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' },
      body,
    })
    expect(answer.status).toBe(200)
    expect(await answer.json()).toMatchObject({ accepted: 2, rejected: 0, duplicates: 0 })
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)

    const rows = await runCli([
      'sql',
      'SELECT agent_id, input_tokens, output_tokens, toString(cost_usd) AS usd FROM llm_calls ORDER BY agent_id FORMAT JSONEachRow',
      '--data-dir',
      dataDir,
    ])
    expect(rows.stderr).toBe('')
    expect(
      rows.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      { agent_id: 'shipper-0', input_tokens: '1000', output_tokens: '300', usd: '0.0055' },
      { agent_id: 'shipper-1', input_tokens: '123457', output_tokens: '7', usd: '0.3087125' },
    ])
  })
})
