/**
 * The guard: `check()` calls per second in-process with commands in force, and, on the live
 * embedded pipeline, the time from sending an event that breaks a strict policy to a guard
 * (following the server-sent-event stream in this process) blocking that agent's next call.
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createCommandSigner } from '../processors/control/command-signer.ts'
import { createGuard } from '../producers/guard/guard.ts'
import { GuardState } from '../producers/guard/guard-state.ts'
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
  trials: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

/** Send a violating event, then poll the guard until it blocks that agent: per trial. */
export async function measureBlockDelay(trials: number, port: number): Promise<BlockDelay> {
  const dir = mkdtempSync(join(tmpdir(), 'spendguard-bench-guard-'))
  const dataDir = join(dir, 'data')
  const configFile = join(dir, 'spendguard.json')
  writeFileSync(
    configFile,
    JSON.stringify({
      clickhouse: { dataDir },
      policy: { mode: 'strict', categories: { bulk: { models: ['llama3-8b'] } } },
    }),
  )
  const child = spawn(
    process.execPath,
    [BIN, 'start', '--port', String(port), '--config', configFile],
    {
      env: { ...process.env, SPENDGUARD_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  const url = `http://127.0.0.1:${port}`
  try {
    await waitReady(url)
    const guard = createGuard({
      url,
      trustedKeys: [
        {
          id: 'spendguard-1',
          publicKey: readFileSync(join(dataDir, 'control-signing-key.pem.pub'), 'utf8'),
        },
      ],
      failMode: 'open',
    })
    await guard.ready
    const delays: number[] = []
    for (let i = 0; i < trials; i++) {
      const agent = `bench-agent-${i}`
      const sent = performance.now()
      void fetch(`${url}/v1/events`, {
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
    await guard.close()
    const sorted = [...delays].sort((a, b) => a - b)
    return {
      trials,
      p50Ms: quantile(sorted, 0.5),
      p99Ms: quantile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1]!,
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.on('close', resolve))
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${JSON.stringify(measureChecks())}\n`)
  process.stdout.write(
    `${JSON.stringify(await measureBlockDelay(Number(process.env.BENCH_GUARD_TRIALS ?? 200), 18_897))}\n`,
  )
}
