/**
 * Sustained embedded ingest: `spendguard start` on a fresh data directory (chDB), driven over
 * HTTP by concurrent clients that post batches of events, until the audit holds
 * BENCH_INGEST_ROWS rows. Reports events/s from the first request to the rows in ClickHouse,
 * per segment of the table's growth, so a slowdown as the table grows shows.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { createDemoTraffic, seededRandom } from '../cli/demo-traffic.ts'

export interface IngestSegment {
  rowsFrom: number
  rowsTo: number
  eventsPerSecond: number
}

export interface IngestOptions {
  rows: number
  segments: number
  clients: number
  /** Events per request body. */
  batch: number
  port: number
}

export interface IngestResult {
  rows: number
  seconds: number
  eventsPerSecond: number
  segments: IngestSegment[]
  clients: number
  batch: number
  /** CPU time of this process (the clients) during the run. */
  clientCpuSeconds: number
  /** CPU time of the server process during the run, every thread (NaN where /proc is absent). */
  serverCpuSeconds: number
  /** Audit inserts made (id lookup and insert), from the server's /metrics. */
  inserts: number
  rowsPerInsert: number
  /** Mean time to write one insert, its id lookup included. */
  secondsPerInsert: number
}

const BIN = fileURLToPath(new URL('../bin/spendguard.js', import.meta.url))

/** CPU seconds (user + system, every thread) a process has used, read from /proc. */
function cpuSecondsOf(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name, in parentheses, may hold spaces and parentheses: read after the last.
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return Number.NaN
  }
}

export async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      if ((await fetch(`${url}/readyz`)).ok) return
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error('spendguard did not become ready')
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

export async function runEmbeddedIngest(options: IngestOptions): Promise<IngestResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'spendguard-bench-'))
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_PROF] : []),
      BIN,
      'start',
      '--port',
      String(options.port),
      '--data-dir',
      dataDir,
    ],
    {
      env: { ...process.env, SPENDGUARD_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  const url = `http://127.0.0.1:${options.port}`
  try {
    await waitReady(url)
    const next = createDemoTraffic({
      random: seededRandom(3),
      now: () => Date.now() - 60_000,
      newId: randomUUID,
    })
    // One body is made ahead; each request copies it and writes fresh event ids over the old
    // ones in place, so the clients (on the same machine) spend their time sending, not
    // generating, and the CPU they take from the server stays small.
    const lines = Array.from({ length: options.batch }, () => JSON.stringify(next()))
    const template = Buffer.from(lines.join('\n'))
    const idAt: number[] = []
    let offset = 0
    for (const line of lines) {
      const at = line.indexOf('"event_id":"') + '"event_id":"'.length
      idAt.push(offset + Buffer.byteLength(line.slice(0, at)))
      offset += Buffer.byteLength(line) + 1
    }
    const body = () => {
      const copy = Buffer.from(template)
      for (const at of idAt) copy.write(randomUUID(), at, 'latin1')
      return copy
    }
    const bodyCount = Math.ceil(options.rows / options.batch)
    let sent = 0
    const segmentSize = Math.ceil(options.rows / options.segments)
    const segments: IngestSegment[] = []
    let segmentStart = performance.now()
    let segmentFrom = 0
    const started = performance.now()
    const clientCpu = process.cpuUsage()
    const serverCpu = cpuSecondsOf(child.pid)
    const client = async () => {
      for (;;) {
        if (sent >= bodyCount * options.batch) return
        sent += options.batch
        const response = await fetch(`${url}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body: body(),
        })
        if (response.status !== 200)
          throw new Error(`ingest answered ${response.status}: ${await response.text()}`)
        await response.arrayBuffer()
        const done = Math.min(sent, options.rows)
        if (done - segmentFrom >= segmentSize) {
          const now = performance.now()
          segments.push({
            rowsFrom: segmentFrom,
            rowsTo: done,
            eventsPerSecond: ((done - segmentFrom) / (now - segmentStart)) * 1000,
          })
          segmentFrom = done
          segmentStart = now
        }
      }
    }
    await Promise.all(Array.from({ length: options.clients }, client))
    const seconds = (performance.now() - started) / 1000
    const clientUsage = process.cpuUsage(clientCpu)
    const serverSeconds = cpuSecondsOf(child.pid) - serverCpu
    // "accepted" is said after the write: every answered event is a row already.
    const counted = await fetch(`${url}/v1/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'SELECT count() AS n FROM llm_calls', format: 'ndjson' }),
    })
    const rows = Number((JSON.parse(await counted.text()) as { n: string }).n)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    const metric = (name: string) =>
      Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? Number.NaN)
    const inserts = metric('spendguard_audit_batch_rows_count')
    return {
      rows,
      seconds,
      eventsPerSecond: rows / seconds,
      segments,
      clients: options.clients,
      batch: options.batch,
      clientCpuSeconds: (clientUsage.user + clientUsage.system) / 1e6,
      serverCpuSeconds: serverSeconds,
      inserts,
      rowsPerInsert: metric('spendguard_audit_batch_rows_sum') / inserts,
      secondsPerInsert: metric('spendguard_audit_batch_seconds_sum') / inserts,
    }
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.on('close', resolve))
    rmSync(dataDir, { recursive: true, force: true })
  }
}

/**
 * Runs the ingest case in a process of its own, so its clients start with a small heap: in
 * the process of the other benchmarks (hundreds of MiB of inputs and windows), their
 * collections took over 3 times the CPU per event, CPU taken from the server on the same cores.
 */
export async function runEmbeddedIngestApart(options: IngestOptions): Promise<IngestResult> {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), fileURLToPath(import.meta.url)],
    {
      env: {
        ...process.env,
        BENCH_INGEST_ROWS: String(options.rows),
        BENCH_INGEST_SEGMENTS: String(options.segments),
        BENCH_INGEST_CLIENTS: String(options.clients),
        BENCH_INGEST_BATCH: String(options.batch),
        BENCH_INGEST_PORT: String(options.port),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (code !== 0) throw new Error(`the ingest benchmark exited with ${code}`)
  // JSON writes NaN (a figure that could not be read) as null: read it back as NaN.
  return JSON.parse(output, (_key, value: unknown) => value ?? Number.NaN) as IngestResult
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await runEmbeddedIngest({
    rows: Number(process.env.BENCH_INGEST_ROWS ?? 200_000),
    segments: Number(process.env.BENCH_INGEST_SEGMENTS ?? 5),
    clients: Number(process.env.BENCH_INGEST_CLIENTS ?? 8),
    batch: Number(process.env.BENCH_INGEST_BATCH ?? 1000),
    port: Number(process.env.BENCH_INGEST_PORT ?? 18_899),
  })
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`)
}
