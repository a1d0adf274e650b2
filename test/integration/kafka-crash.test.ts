import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SpendView } from '../../processors/windows/spend-windows.ts'
import type { LlmCallInput } from '../../schemas/llm-call.ts'
import { runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { postEvents, replayedTotals, totalsOf } from '../support/live-checks.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'
import {
  pipelineConfigFor,
  pipelineTopics,
  startTestServices,
  type TestServices,
} from '../support/test-services.ts'

const prefix = `crash-${randomUUID().slice(0, 8)}.`
const work = mkdtempSync(join(tmpdir(), 'spendguard-kafka-crash-'))
let services: TestServices

beforeAll(async () => {
  services = await startTestServices(pipelineTopics(prefix))
})

afterAll(async () => {
  await services?.[Symbol.asyncDispose]()
  rmSync(work, { recursive: true, force: true })
})

function traffic(count: number): LlmCallInput[] {
  return Array.from({ length: count }, (_, i) =>
    makeLlmCallInput({
      occurred_at: recentTime(5 + (i % 300)),
      agent_id: `agent-${i % 3}`,
      user_id: `user-${i % 5}`,
      model: i % 4 === 0 ? 'gpt-4' : 'gpt-4o-mini',
      input_tokens: 800 + i,
      output_tokens: 90 + (i % 7),
    }),
  )
}

const audited = async (port: number) => {
  const body = (await (await fetch(`http://127.0.0.1:${port}/v1/status`)).json()) as {
    audit: { rowsWritten: number }
  }
  return body.audit.rowsWritten
}

describe('a processor on Kafka killed with kill -9 mid-stream', () => {
  it('ends, once restarted, with exactly N audit rows and exact live totals', async () => {
    const dataDir = join(work, 'data')
    const configFile = join(work, 'spendguard.json')
    writeFileSync(
      configFile,
      JSON.stringify({
        ...pipelineConfigFor(services, prefix, { batchSize: 20, flushIntervalMs: 100 }),
        clickhouse: { ...services.store.clickhouse, dataDir },
      }),
    )
    const events = traffic(240)
    const port = await freePort()
    const args = ['start', '--config', configFile, '--port', String(port)]
    const first = await startCli(args)
    await postEvents(port, events.slice(0, 120))
    await postEvents(port, events.slice(120, 200))
    // Mid-stream: some rows audited, the rest still on the topic.
    await expect.poll(() => audited(port), { timeout: 60_000, interval: 20 }).toBeGreaterThan(0)
    first.child.kill('SIGKILL')
    await first.exited

    const second = await startCli(args)
    await postEvents(port, events.slice(200))
    const count = async () =>
      (await runCli(['sql', 'SELECT count() FROM llm_calls', '--config', configFile])).stdout.trim()
    await expect.poll(count, { timeout: 120_000, interval: 500 }).toBe('240')

    const expected = await replayedTotals(work, events, 'by_user')
    const live = async () => {
      const result = await runCli([
        'status',
        '--dimension',
        'user',
        '--window',
        'day',
        '--format',
        'json',
        '--config',
        configFile,
      ])
      return totalsOf(JSON.parse(result.stdout) as SpendView)
    }
    // The owners follow spend-deltas a moment behind the audit.
    await expect.poll(live, { timeout: 60_000, interval: 500 }).toEqual(expected)
    const reconcile = await runCli(['reconcile', '--config', configFile])
    expect(reconcile.stdout).toMatch(/0 differences/)
    expect(reconcile.code).toBe(0)

    second.child.kill('SIGTERM')
    expect(await second.exited).toBe(0)
  })
})
