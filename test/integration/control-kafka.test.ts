import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createLogger } from '../../platform/logger.ts'
import { createEmitter } from '../../producers/emitter.ts'
import { createKafkaTransport } from '../../producers/kafka-transport.ts'
import { createEventCodec } from '../../schemas/avro-codec.ts'
import { runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { recordingReceiver } from '../support/recording-receiver.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'
import {
  pipelineConfigFor,
  pipelineTopics,
  startTestServices,
  type TestServices,
} from '../support/test-services.ts'

/**
 * The kill switch end to end over the Kafka protocol: an agent's emitter produces to the input
 * topic, `spendguard start` decides and publishes a signed block on the compacted control
 * topic, and a guard in another process, following that topic, blocks the session's next call
 * until `spendguard resume` lifts it.
 */
const prefix = `ctl-${randomUUID().slice(0, 8)}.`
const work = mkdtempSync(join(tmpdir(), 'spendguard-control-kafka-'))
let services: TestServices

beforeAll(async () => {
  services = await startTestServices(pipelineTopics(prefix))
})

afterAll(async () => {
  await services?.[Symbol.asyncDispose]()
  rmSync(work, { recursive: true, force: true })
})

/** A guard process: one JSON call context per line in, one decision per line out. */
async function startGuardProcess(env: Record<string, string>) {
  const script = fileURLToPath(new URL('../support/guard-process.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
  })
  onTestFinished(() => {
    if (child.exitCode === null) child.kill('SIGKILL')
  })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async () => {
    const line = await lines.next()
    if (line.done) throw new Error(`the guard process ended:\n${stderr}`)
    return JSON.parse(line.value) as {
      ready?: boolean
      action?: string
      commandId?: string
      reason?: string
      counters?: { applied: number; ignored: Record<string, number> }
    }
  }
  expect(await next()).toEqual({ ready: true })
  return {
    async check(context: Record<string, string>) {
      child.stdin.write(`${JSON.stringify(context)}\n`)
      return next()
    },
  }
}

describe('the kill switch over the Kafka protocol', () => {
  it('a guard in another process blocks a session once its budget is crossed; resume lifts it', async () => {
    // Alerts reach Slack through the alerts topic (its consumer commits after delivery).
    const slack = await recordingReceiver()
    const dataDir = join(work, 'data')
    const configFile = join(work, 'spendguard.json')
    writeFileSync(
      configFile,
      JSON.stringify({
        ...pipelineConfigFor(services, prefix, { flushIntervalMs: 100 }),
        clickhouse: { ...services.store.clickhouse, dataDir },
        budgets: [
          {
            id: 'session-cap',
            scope: { session: '*' },
            period: 'session',
            limit_usd: '0.05',
            on_exceed: 'block',
          },
        ],
        alerts: {
          slack: [
            {
              name: 'finops',
              webhook_url: `${slack.url}/hook`,
            },
          ],
        },
      }),
    )
    const port = await freePort()
    const server = await startCli(['start', '--config', configFile, '--port', String(port)])
    const guard = await startGuardProcess({
      BROKERS: services.broker.brokers.join(','),
      TOPIC: `${prefix}control`,
      PUBLIC_KEY_FILE: join(dataDir, 'control-signing-key.pem.pub'),
    })
    const call = { tenant: 'acme', agent: 'researcher', session: 's-loop' }
    expect(await guard.check(call)).toMatchObject({ action: 'allow' })

    // The agent's emitter: three calls of $0.045 in one session (Sonnet 4, 10k in, 1k out).
    const kafka = new Kafka({
      clientId: 'agent',
      brokers: services.broker.brokers,
      logLevel: logLevel.NOTHING,
    })
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await producer.connect()
    const emitter = createEmitter({
      transport: createKafkaTransport({
        producer,
        codec: await createEventCodec(),
        topic: `${prefix}llm-calls`,
      }),
      logger: createLogger({ level: 'silent' }),
    })
    for (let i = 0; i < 3; i++)
      emitter.emit(
        makeLlmCallInput({
          occurred_at: recentTime(3 - i),
          tenant_id: 'acme',
          agent_id: 'researcher',
          session_id: 's-loop',
          provider: 'anthropic',
          model: 'claude-sonnet-4-20250514',
          input_tokens: 10_000,
          output_tokens: 1_000,
        }),
      )
    await emitter.close() // and its producer

    await expect
      .poll(async () => (await guard.check(call)).action, { timeout: 60_000, interval: 100 })
      .toBe('block')
    const blocked = await guard.check(call)
    expect(blocked.reason).toMatch(/session-cap/)
    // The crossing is critical: Slack hears of it (warning and critical go to Slack by default).
    await expect
      .poll(() => slack.received.map((r) => (JSON.parse(r.body) as { text: string }).text), {
        timeout: 30_000,
        interval: 100,
      })
      .toContainEqual(
        expect.stringMatching(/^\[critical\] budget\.threshold: session s-loop reached 100 %/),
      )
    expect(await guard.check({ ...call, session: 's-other' })).toMatchObject({ action: 'allow' })

    // A command nobody signed, put on the topic by hand: ignored by the guard, audited as refused.
    const forged = {
      command_id: 'forged-1',
      action: 'block',
      tenant: 'acme',
      scope: { kind: 'agent', id: 'billing-agent' },
      issuer: 'mallory',
      reason: 'forged',
      issued_at: new Date().toISOString(),
      expires_at: null,
      key_id: 'spendguard-1',
      signature: Buffer.alloc(64, 7).toString('base64'),
    }
    const mallory = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
    await mallory.connect()
    await mallory.send({
      topic: `${prefix}control`,
      messages: [{ key: 'acme/agent/billing-agent#forged-1', value: JSON.stringify(forged) }],
    })
    await expect
      .poll(
        async () => (await guard.check({ ...call, agent: 'billing-agent' })).counters?.ignored,
        {
          timeout: 30_000,
          interval: 100,
        },
      )
      .toMatchObject({ forged: 1 })
    expect((await guard.check({ tenant: 'acme', agent: 'billing-agent' })).action).toBe('allow')
    await mallory.disconnect()

    const resumed = await runCli([
      'resume',
      '--session',
      's-loop',
      '--tenant',
      'acme',
      '--config',
      configFile,
    ])
    expect(resumed.stderr).toBe('')
    expect(resumed.code).toBe(0)
    await expect
      .poll(async () => (await guard.check(call)).action, { timeout: 30_000, interval: 100 })
      .toBe('allow')

    const audit = await runCli([
      'sql',
      `SELECT status, action, issuer, refusal FROM control_commands ORDER BY status, seq`,
      '--format',
      'json',
      '--config',
      configFile,
    ])
    expect(audit.code).toBe(0)
    const rows = audit.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>)
    // The first call took the session to 90 %: one cap (the headroom, for pre-call estimates).
    expect(rows.map((row) => `${row.status} ${row.action} ${row.issuer}`)).toEqual([
      'issued cap spendguard-detector',
      'issued block spendguard-detector',
      expect.stringMatching(/^issued resume local CLI/),
      'refused block control topic (position 3)',
    ])
    expect(rows[3]!.refusal).toBe('not obeyed: forged')
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })
})
