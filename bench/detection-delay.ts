/**
 * Detection delay on the live embedded pipeline: while background clients keep it busy, probe
 * events that break the model policy (each from a new agent, so each is a new alert) are posted
 * one at a time. The embedded pipeline records a batch's alerts before its audit rows and
 * answers "accepted" after the rows, so the alert exists by the answer: the delay measured is
 * from sending the probe to that answer. The alerts table is then read to confirm every one.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createDemoTraffic, seededRandom } from '../cli/demo-traffic.ts'
import { waitReady } from './embedded-ingest.ts'

/** A call of a new agent that breaks a policy whose category `bulk` permits only llama3-8b. */
export function violatingEvent(agent: string, tenant = 'default') {
  return {
    event_id: randomUUID(),
    occurred_at: new Date().toISOString(),
    tenant_id: tenant,
    agent_id: agent,
    task_category: 'bulk',
    provider: 'openai',
    model: 'gpt-4',
    input_tokens: 1800,
    output_tokens: 600,
    status: 'ok',
  }
}

export interface DelayResult {
  probes: number
  alerts: number
  p50Ms: number
  p95Ms: number
  p99Ms: number
  maxMs: number
  backgroundEventsPerSecond: number
  clients: number
}

const BIN = fileURLToPath(new URL('../bin/spendguard.js', import.meta.url))

export const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!

export async function runDetectionDelay(options: {
  probes: number
  clients: number
  port: number
}): Promise<DelayResult> {
  const dir = mkdtempSync(join(tmpdir(), 'spendguard-bench-delay-'))
  const configFile = join(dir, 'spendguard.json')
  writeFileSync(
    configFile,
    JSON.stringify({
      clickhouse: { dataDir: join(dir, 'data') },
      policy: {
        mode: 'off',
        tenants: { probe: { mode: 'strict', categories: { bulk: { models: ['llama3-8b'] } } } },
      },
    }),
  )
  const child = spawn(
    process.execPath,
    [BIN, 'start', '--port', String(options.port), '--config', configFile],
    {
      env: { ...process.env, SPENDGUARD_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  const url = `http://127.0.0.1:${options.port}`
  const post = async (body: string) => {
    const response = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body,
    })
    if (response.status !== 200) throw new Error(`ingest answered ${response.status}`)
    await response.arrayBuffer()
  }
  try {
    await waitReady(url)
    const next = createDemoTraffic({
      random: seededRandom(5),
      now: () => Date.now() - 30_000,
      newId: randomUUID,
    })
    let stop = false
    let background = 0
    const started = performance.now()
    const clients = Array.from({ length: options.clients }, async () => {
      while (!stop) {
        const events = Array.from({ length: 200 }, () => JSON.stringify(next()))
        await post(events.join('\n'))
        background += events.length
      }
    })
    const delays: number[] = []
    for (let i = 0; i < options.probes; i++) {
      const probe = violatingEvent(`probe-agent-${i}`, 'probe')
      const sent = performance.now()
      await post(JSON.stringify(probe))
      delays.push(performance.now() - sent)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    stop = true
    await Promise.all(clients)
    const seconds = (performance.now() - started) / 1000
    const counted = await fetch(`${url}/v1/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query:
          "SELECT count() AS n FROM alerts FINAL WHERE tenant_id = 'probe' AND type = 'policy.model'",
        format: 'ndjson',
      }),
    })
    const alerts = Number((JSON.parse(await counted.text()) as { n: string }).n)
    const sorted = [...delays].sort((a, b) => a - b)
    return {
      probes: options.probes,
      alerts,
      p50Ms: quantile(sorted, 0.5),
      p95Ms: quantile(sorted, 0.95),
      p99Ms: quantile(sorted, 0.99),
      maxMs: sorted[sorted.length - 1]!,
      backgroundEventsPerSecond: background / seconds,
      clients: options.clients,
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.on('close', resolve))
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runDetectionDelay({
    probes: Number(process.env.BENCH_DELAY_PROBES ?? 200),
    clients: Number(process.env.BENCH_DELAY_CLIENTS ?? 4),
    port: Number(process.env.BENCH_DELAY_PORT ?? 18_898),
  })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
