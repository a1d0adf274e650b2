import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'
import {
  pipelineConfigFor,
  pipelineTopics,
  startTestServices,
  type TestServices,
} from '../support/test-services.ts'

/**
 * `spendguard start` with Kafka configured: the HTTP ingest produces to the llm-calls topic,
 * the processor consumes it from there and audits, SIGTERM drains; `sql` then counts.
 */
const prefix = `cli-${randomUUID().slice(0, 8)}.`
const work = mkdtempSync(join(tmpdir(), 'spendguard-cli-kafka-'))
let services: TestServices

beforeAll(async () => {
  services = await startTestServices(pipelineTopics(prefix))
})

afterAll(async () => {
  await services?.[Symbol.asyncDispose]()
  rmSync(work, { recursive: true, force: true })
})

describe('spendguard start on Kafka', () => {
  it('takes events over HTTP through the Kafka topic into the audit, and drains on SIGTERM', async () => {
    const configFile = join(work, 'spendguard.json')
    writeFileSync(
      configFile,
      JSON.stringify(pipelineConfigFor(services, prefix, { flushIntervalMs: 200 })),
    )
    const port = await freePort()
    const running = await startCli(['start', '--config', configFile, '--port', String(port)])
    // Open on loopback (no tokens): the status details are served without a token.
    const status = (await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as {
      transport: string
    }
    expect(status.transport).toBe('kafka')

    const events = Array.from({ length: 25 }, () =>
      makeLlmCallInput({
        occurred_at: recentTime(),
        provider: 'anthropic',
        model: 'claude-sonnet-4-20250514',
        input_tokens: 10_000,
        output_tokens: 1_000,
      }),
    )
    const response = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(events),
    })
    expect(response.status).toBe(200)

    // Accepted means the broker holds the events; wait until the processor has audited them.
    await expect
      .poll(
        async () => {
          const body = (await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as {
            pipeline: { audited: number }
          }
          return body.pipeline.audited
        },
        { timeout: 60_000, interval: 250 },
      )
      .toBe(25)
    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)

    const result = await runCli([
      'sql',
      'SELECT count(), toString(sum(cost_usd)), any(source) FROM llm_calls',
      '--config',
      configFile,
      '--format',
      'tsv',
    ])
    // Claude Sonnet 4 at $3 / $15 per 1M: 10,000 in + 1,000 out = $0.045 a call.
    expect(result.stdout.trim().split('\n').pop()).toBe('25\t1.125\tkafka')
  })
})
