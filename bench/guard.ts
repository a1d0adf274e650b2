/**
 * The guard: `check()` calls per second in-process with commands in force, and, on the live
 * embedded pipeline, the time from sending an event that breaks a strict policy to a guard
 * (following the server-sent-event stream in this process) blocking that agent's next call.
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Kafka, logLevel } from 'kafkajs'
import { createLogger } from '../platform/logger.ts'
import { createCommandSigner } from '../processors/control/command-signer.ts'
import { createEmitter } from '../producers/emitter.ts'
import { createGuard } from '../producers/guard/guard.ts'
import { GuardState } from '../producers/guard/guard-state.ts'
import { kafkaControlSource } from '../producers/guard/kafka-control-source.ts'
import { createHttpTransport } from '../producers/http-transport.ts'
import { startMokapi } from '../test/support/mokapi-broker.ts'
import { pipelineTopics } from '../test/support/test-services.ts'
import { quantile, violatingEvent } from './detection-delay.ts'
import { waitReady } from './embedded-ingest.ts'

const BIN = fileURLToPath(new URL('../bin/spendguard.js', import.meta.url))

export interface CheckRate {
  checksPerSecond: number
  commands: number
}

/** check() over varied calls while 1,000 commands (blocks, throttles, downgrades) are in force. */
export function measureChecks(calls = 2_000_000): CheckRate {
  const { privateKey } = generateKeyPairSync('ed25519')
  const signer = createCommandSigner('bench', privateKey)
  const guard = new GuardState([{ id: 'bench', publicKey: signer.publicKeyPem }])
  const now = Date.now()
  const actions = ['block', 'throttle', 'downgrade'] as const
  for (let i = 0; i < 1000; i++) {
    const action = actions[i % 3]!
    guard.apply(
      signer.sign({
        command_id: `c-${i}`,
        action,
        tenant: 'acme',
        scope: { kind: i % 2 === 0 ? 'user' : 'agent', id: `key-${i}` },
        ...(action === 'throttle' ? { calls_per_minute: 1_000_000_000 } : {}),
        ...(action === 'downgrade' ? { model: 'small' } : {}),
        issuer: 'bench',
        reason: 'bench',
        issued_at: new Date(now).toISOString(),
        expires_at: null,
      }),
      now,
    )
  }
  const contexts = Array.from({ length: 4096 }, (_, i) => ({
    tenant: 'acme',
    agent: `key-${(i * 7) % 2000}`,
    user: `key-${(i * 13) % 2000}`,
    session: `s-${i}`,
    model: 'gpt-4o',
  }))
  let blocked = 0
  // Warm-up, then the timed run.
  for (let i = 0; i < 200_000; i++) guard.check(contexts[i & 4095]!, now)
  const started = performance.now()
  for (let i = 0; i < calls; i++)
    if (guard.check(contexts[i & 4095]!, now).action !== 'allow') blocked++
  const seconds = (performance.now() - started) / 1000
  if (blocked === 0) throw new Error('the bench commands must apply')
  return { checksPerSecond: calls / seconds, commands: 1000 }
}

export interface BlockDelay {
  transport: 'embedded' | 'kafka'
  trials: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

/** A `spendguard start` of its own on a fresh data directory, ready, with its guard key. */
async function runSpendguard(config: Record<string, unknown>, port: number) {
  const dir = mkdtempSync(join(tmpdir(), 'spendguard-bench-guard-'))
  const dataDir = join(dir, 'data')
  const configFile = join(dir, 'spendguard.json')
  writeFileSync(configFile, JSON.stringify({ ...config, clickhouse: { dataDir } }))
  const child = spawn(
    process.execPath,
    [BIN, 'start', '--port', String(port), '--config', configFile],
    {
      env: { ...process.env, SPENDGUARD_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    child.kill('SIGTERM')
    if (child.exitCode === null) await new Promise((resolve) => child.on('close', resolve))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await waitReady(url)
  } catch (error) {
    await stop()
    throw error
  }
  const trustedKeys = [
    {
      id: 'spendguard-1',
      publicKey: readFileSync(join(dataDir, 'control-signing-key.pem.pub'), 'utf8'),
    },
  ]
  return { url, trustedKeys, stop }
}

const POLICY = { mode: 'strict', categories: { bulk: { models: ['llama3-8b'] } } }

/**
 * Send an event that breaks a strict policy, then poll a guard in this process until it blocks
 * that agent, per trial. Embedded, the guard follows the SSE stream; on Kafka (a Mokapi broker
 * started here), the compacted control topic, while the event goes through the input topic.
 */
export async function measureBlockDelay(
  trials: number,
  port: number,
  transport: 'embedded' | 'kafka' = 'embedded',
): Promise<BlockDelay> {
  const prefix = `bench-${randomUUID().slice(0, 8)}.`
  const broker = transport === 'kafka' ? await startMokapi(pipelineTopics(prefix)) : undefined
  const kafka = broker
    ? new Kafka({ clientId: 'bench-guard', brokers: broker.brokers, logLevel: logLevel.NOTHING })
    : undefined
  const server = await runSpendguard(
    {
      policy: POLICY,
      ...(broker
        ? {
            kafka: {
              brokers: broker.brokers,
              topicPrefix: prefix,
              groupId: `${prefix}processor`,
              partitions: 2,
              idempotent: false,
            },
          }
        : {}),
    },
    port,
  ).catch(async (error: unknown) => {
    await broker?.stop()
    throw error
  })
  const guard = createGuard({
    ...(kafka
      ? { source: kafkaControlSource({ kafka, topic: `${prefix}control` }) }
      : { url: server.url }),
    trustedKeys: server.trustedKeys,
    failMode: 'open',
  })
  try {
    await guard.ready
    const delays: number[] = []
    for (let i = 0; i < trials; i++) {
      const agent = `bench-agent-${i}`
      const sent = performance.now()
      void fetch(`${server.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(violatingEvent(agent)),
      }).then((response) => response.arrayBuffer())
      while (guard.check({ agent }).action !== 'block') {
        if (performance.now() - sent > 10_000) throw new Error(`no block for ${agent} in 10 s`)
        await new Promise((resolve) => setImmediate(resolve))
      }
      delays.push(performance.now() - sent)
    }
    const sorted = [...delays].sort((a, b) => a - b)
    return {
      transport,
      trials,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1]!,
    }
  } finally {
    await guard.close()
    await server.stop()
    await broker?.stop()
  }
}

export interface Overshoot {
  estimates: boolean
  callers: number
  callsPerSecond: number
  budgetUsd: string
  callUsd: string
  /** Spend audited for the agent once every caller was blocked, USD. */
  spentUsd: string
  /** Spend past the budget (negative: stopped short of it), USD. */
  overshootUsd: string
  blockedAfterMs: number
}

/** One agent's calls as the bench makes them: GPT-4o, 2,000 tokens in, 500 out ($0.01). */
const CALL = { model: 'gpt-4o', input: 2000, output: 500, maxTokens: 1000 }
const GPT_4O = { inputPerMTokUsd: 2.5, outputPerMTokUsd: 10 }

/**
 * Overshoot past a blocking budget: `callers` concurrent callers of one agent make
 * `callsPerSecond` calls in all, each asking the guard first (with or without a pre-call
 * estimate of its input tokens and `max_tokens`) and, when allowed, emitting its event through
 * the SDK emitter over HTTP. Once every caller has been blocked, the agent's spend is read back
 * from the audit and compared with the budget.
 */
export async function measureOvershoot(options: {
  callers: number
  callsPerSecond: number
  budgetUsd: string
  port: number
  estimates: boolean
}): Promise<Overshoot> {
  const agent = `overshoot-${options.estimates ? 'estimated' : 'plain'}`
  const server = await runSpendguard(
    {
      budgets: [
        {
          id: 'agent-day',
          scope: { agent: '*' },
          period: 'day',
          limit_usd: options.budgetUsd,
          on_exceed: 'block',
          alert_at: [50, 80, 90],
        },
      ],
    },
    options.port,
  )
  const guard = createGuard({
    url: server.url,
    trustedKeys: server.trustedKeys,
    failMode: 'open',
    prices: { [CALL.model]: GPT_4O },
  })
  const emitter = createEmitter({
    transport: createHttpTransport({ url: server.url }),
    logger: createLogger({ level: 'silent' }),
    lingerMs: 5,
  })
  try {
    await guard.ready
    const started = performance.now()
    const interval = (1000 * options.callers) / options.callsPerSecond
    const context = { tenant: 'default', agent, model: CALL.model }
    const estimate = { inputTokens: CALL.input, maxTokens: CALL.maxTokens }
    const caller = async (offset: number) => {
      await new Promise((resolve) => setTimeout(resolve, offset))
      for (let n = 0; ; n++) {
        const decision = guard.check(context, options.estimates ? estimate : undefined)
        if (decision.action === 'block') return performance.now() - started
        emitter.emit({
          event_id: randomUUID(),
          occurred_at: new Date().toISOString(),
          tenant_id: 'default',
          agent_id: agent,
          provider: 'openai',
          model: CALL.model,
          input_tokens: CALL.input,
          output_tokens: CALL.output,
          status: 'ok',
        })
        if (performance.now() - started > 60_000) throw new Error('no block within 60 s')
        const due = started + offset + (n + 1) * interval
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())))
      }
    }
    const blockedAt = await Promise.all(
      Array.from({ length: options.callers }, (_, i) => caller((i * interval) / options.callers)),
    )
    await emitter.close()
    const answer = await fetch(`${server.url}/v1/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `SELECT toString(sum(cost_usd)) AS spent, toString(sum(cost_usd) - toDecimal128({budget:String}, 12)) AS over FROM llm_calls WHERE agent_id = {agent:String}`,
        params: { agent, budget: options.budgetUsd },
        format: 'ndjson',
      }),
    })
    const row = JSON.parse(await answer.text()) as { spent: string; over: string }
    return {
      estimates: options.estimates,
      callers: options.callers,
      callsPerSecond: options.callsPerSecond,
      budgetUsd: options.budgetUsd,
      callUsd: '0.01',
      spentUsd: row.spent,
      overshootUsd: row.over,
      blockedAfterMs: Math.max(...blockedAt),
    }
  } finally {
    await guard.close()
    await server.stop()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const trials = Number(process.env.BENCH_GUARD_TRIALS ?? 200)
  process.stdout.write(`${JSON.stringify(measureChecks())}\n`)
  process.stdout.write(`${JSON.stringify(await measureBlockDelay(trials, 18_897))}\n`)
  process.stdout.write(`${JSON.stringify(await measureBlockDelay(trials, 18_896, 'kafka'))}\n`)
  for (const callsPerSecond of [50, 200])
    for (const estimates of [false, true])
      process.stdout.write(
        `${JSON.stringify(await measureOvershoot({ callers: 8, callsPerSecond, budgetUsd: '5', port: 18_895, estimates }))}\n`,
      )
}
