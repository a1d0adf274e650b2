import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { postEvents } from '../support/live-checks.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-alerts-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('alerts of a running embedded pipeline', () => {
  it('reach a Slack webhook (its secret from the environment) and are recorded as delivered', async () => {
    const messages: string[] = []
    const slack = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        messages.push(body)
        response.end('ok')
      })
    })
    await new Promise<void>((resolve) => slack.listen(0, '127.0.0.1', resolve))
    try {
      const dataDir = join(work, 'data')
      const configFile = join(work, 'spendguard.yaml')
      writeFileSync(
        configFile,
        `clickhouse: { dataDir: ${JSON.stringify(dataDir)} }
policy: { mode: audit, categories: { bulk_generation: { models: [llama3-8b] } } }
alerts:
  slack: [{ name: finops, webhook_url: "\${TEST_SLACK_URL}" }]
  routes: [{ type: policy_violation, to: [finops] }]
`,
      )
      const port = await freePort()
      const url = `http://127.0.0.1:${(slack.address() as AddressInfo).port}/hook`
      const server = await startCli(['start', '--config', configFile, '--port', String(port)], {
        TEST_SLACK_URL: url,
      })
      expect(server.logs()).not.toContain(url)
      await postEvents(port, [
        makeLlmCallInput({
          event_id: randomUUID(),
          occurred_at: recentTime(5),
          agent_id: 'blog-outline',
          task_category: 'bulk_generation',
          model: 'gpt-4',
        }),
      ])
      await expect.poll(() => messages.length, { timeout: 10_000, interval: 50 }).toBe(1)
      expect((JSON.parse(messages[0]!) as { text: string }).text).toContain(
        '[critical] policy.model: agent blog-outline: model gpt-4 is not permitted',
      )
      const recorded = async () =>
        (
          await runCli([
            'sql',
            'SELECT receiver, status, attempts FROM alert_deliveries FORMAT JSONEachRow',
            '--config',
            configFile,
          ])
        ).stdout.trim()
      await expect
        .poll(recorded, { timeout: 10_000, interval: 200 })
        .toBe('{"receiver":"finops","status":"delivered","attempts":1}')
      server.child.kill('SIGTERM')
      expect(await server.exited).toBe(0)
    } finally {
      await new Promise((resolve) => slack.close(resolve))
    }
  })
})
