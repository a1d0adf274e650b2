/**
 * `npm run bench`: (a) per-event paths measured against plain avsc decoding of the same events
 * in the same process, a baseline round before each measured round (machines here are noisy;
 * the ratio is the figure to compare between runs), batches of 1,000 held as the processor
 * holds them on both sides; (c) the heap of the live windows for a million active sessions;
 * (b) sustained embedded ingest from HTTP to rows, per segment of the table's growth.
 * Writes bench/RESULTS.md.
 */
import { execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import avro from 'avsc'
import { createEventCodec, readReleasedSchemas } from '../schemas/avro-codec.ts'
import { fingerprintBytes } from '../schemas/fingerprint.ts'
import type { LlmCallInput } from '../schemas/llm-call.ts'
import { checkLlmCall, parseLlmCall } from '../schemas/validate.ts'
import { toAuditRow } from '../processors/audit/audit-row.ts'
import { createPricing } from '../processors/pricing/pricing-setup.ts'
import { parseConfig } from '../platform/config.ts'
import { createDemoTraffic, seededRandom } from '../cli/demo-traffic.ts'
import { createEvaluationCore } from '../processors/evaluation/evaluation-core.ts'
import { runDetectionDelay } from './detection-delay.ts'
import { measureBlockDelay, measureChecks, measureOvershoot, type Overshoot } from './guard.ts'
import { runEmbeddedIngestApart } from './embedded-ingest.ts'
import { measureWindowMemory } from './window-memory.ts'

const EVENTS = Number(process.env.BENCH_EVENTS ?? 20_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
/** Records the processor holds at once (one Kafka fetch, one in-process batch). */
const BATCH = 1000
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1_000_000)
const INGEST_ROWS = Number(process.env.BENCH_INGEST_ROWS ?? 5_000_000)
const INGEST_CLIENTS = Number(process.env.BENCH_INGEST_CLIENTS ?? 64)

const next = createDemoTraffic({
  random: seededRandom(7),
  now: () => Date.UTC(2026, 2, 2, 12),
  newId: randomUUID,
})
// JSON round trip: the hot path sees what arrives over HTTP or from a replay file.
const inputs: LlmCallInput[] = Array.from(
  { length: EVENTS },
  () => JSON.parse(JSON.stringify(next())) as LlmCallInput,
)
const codec = await createEventCodec()
const { pricer } = await createPricing(parseConfig({}).pricing)
const encoded = inputs.map((input) => codec.encode(parseLlmCall(input)))
const bodies = encoded.map((bytes) => bytes.subarray(10))
// The baseline decodes each body with the schema it was written with (events that use no v2
// field are written under v1), without the framing or a resolver.
const writerTypes = new Map(
  readReleasedSchemas().map((schema) => {
    const type = avro.Type.forSchema(schema)
    return [fingerprintBytes(JSON.stringify(type.schema())).toString('hex'), type] as const
  }),
)
const plainType = writerTypes.get(encoded[0]!.subarray(2, 10).toString('hex'))!
if (!encoded.every((bytes) => writerTypes.get(bytes.subarray(2, 10).toString('hex')) === plainType))
  throw new Error('bench events must share one writer schema')

let sink = 0
async function measureOnce(run: () => void | Promise<void>): Promise<number> {
  const start = performance.now()
  await run()
  return EVENTS / ((performance.now() - start) / 1000)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const validated = inputs.map((input) => parseLlmCall(input))
const live = createEvaluationCore({ pricer, allowedLatenessMs: 120_000 })
const judged = createEvaluationCore({ pricer, allowedLatenessMs: 120_000 })
const liveNow = Date.UTC(2026, 2, 2, 12)
// Cold resolution: every event of every round carries a model id never seen before.
const coldIds = [
  'gpt-4o-mini-2024-07-18',
  'claude-sonnet-4-5-20250929',
  'gemini-2.5-flash',
  'groq/llama-3.3-70b-versatile',
  'us.anthropic.claude-3-7-sonnet-20250219-v1:0',
]
let coldRound = 0

const cases: Array<{ name: string; what: string; run: () => void | Promise<void> }> = [
  {
    name: 'baseline: avsc decode',
    what: 'plain `Type.fromBuffer` of the Avro body, no framing, no validation; each batch of 1,000 records held',
    run: () => {
      for (let at = 0; at < bodies.length; at += BATCH) {
        const held = bodies
          .slice(at, at + BATCH)
          .map((body) => plainType.fromBuffer(body) as unknown)
        sink += held.length
      }
    },
  },
  {
    name: 'live hot path: decode + validate + price + every window',
    what: 'what the processor does per Kafka message before the audit row: framed decode, the fast contract check (zod for anything doubtful), exact pricing, lateness, and the count into every window (1-minute to month) of all nine dimensions; batches of 1,000 held',
    run: async () => {
      for (let at = 0; at < encoded.length; at += BATCH) {
        const marks = live.watermarks.batch()
        const records: Array<Record<string, unknown>> = []
        for (const bytes of encoded.slice(at, at + BATCH))
          records.push(codec.readRecord(bytes) ?? (await codec.decodeRecord(bytes)))
        for (const record of records) {
          const evaluation = live.evaluate({ record }, 'kafka:0', marks, liveNow)
          if (!evaluation.ok) throw new Error('bench input must be valid')
          live.count(evaluation.value, liveNow)
        }
        marks.commit()
      }
    },
  },
  {
    name: 'live hot path + detectors (default rules)',
    what: 'the live hot path with every call judged before it is counted, as the processor judges it: anomalies against the agent x feature baseline, the loop rules, the (empty) budgets and policy; batches of 1,000 held and judged as one batch',
    run: async () => {
      for (let at = 0; at < encoded.length; at += BATCH) {
        const marks = judged.watermarks.batch()
        const judging = judged.judge(liveNow)
        const records: Array<Record<string, unknown>> = []
        for (const bytes of encoded.slice(at, at + BATCH))
          records.push(codec.readRecord(bytes) ?? (await codec.decodeRecord(bytes)))
        const settled = []
        for (const record of records) {
          const evaluation = judged.evaluate({ record }, 'kafka:0', marks, liveNow)
          if (!evaluation.ok) throw new Error('bench input must be valid')
          sink += judging.judge(evaluation.value).flags.length
          settled.push(evaluation.value)
        }
        judging.commit()
        for (const evaluated of settled) judged.count(evaluated, liveNow)
        marks.commit()
      }
    },
  },
  {
    name: 'hot path: validate + price + encode',
    what: 'the contract check of a JSON event (the fast copy; zod for anything doubtful), exact pricing, framed Avro encoding',
    run: () => {
      for (const input of inputs) {
        const checked = checkLlmCall(input)
        if (!checked.ok) throw new Error('bench input must be valid')
        const price = pricer.price(checked.value)
        if (price.status === 'priced') sink += Number(price.cost.total % 7n)
        sink += codec.encode(checked.value).length
      }
    },
  },
  {
    name: 'pricing alone (cached resolution)',
    what: '`pricer.price` of validated events: a map lookup of (provider, model), the period, exact integer cost',
    run: () => {
      for (const call of validated) {
        const price = pricer.price(call)
        if (price.status === 'priced') sink += Number(price.cost.total % 7n)
      }
    },
  },
  {
    name: 'pricing, every event a model id never seen before',
    what: 'the uncached resolution (every layer, provider inference, curated match rules) on ids that match nothing: the worst case, paid once per distinct id',
    run: () => {
      coldRound++
      validated.forEach((call, i) => {
        const model = `${coldIds[i % coldIds.length]!}-r${coldRound}e${i}`
        sink += pricer.price({ ...call, model }).status.length
      })
    },
  },
  {
    name: 'processor path: decode + validate + price + audit row',
    what: 'what a Kafka consumer does per message before the ClickHouse insert: `codec.decode` (framing, nulls dropped), the contract check, pricing, audit row',
    run: async () => {
      const rows = []
      for (const bytes of encoded) {
        // The processor's own decode: reads the framing, picks the writer schema's resolver
        // and turns Avro nulls into absent fields, awaited as the processor awaits it.
        const checked = checkLlmCall(await codec.decode(bytes))
        if (!checked.ok) throw new Error('bench input must be valid')
        rows.push(
          toAuditRow(checked.value, {
            price: pricer.price(checked.value),
            source: { kind: 'kafka' },
            late: false,
            ingestedAt: 0,
          }),
        )
      }
      sink += rows.length
    },
  },
]

// Warm-up so the JIT has compiled every path before any round is timed.
for (const c of cases) await c.run()
const heapBefore = process.memoryUsage().heapUsed
const [baselineCase, ...others] = cases
const baselineRates: number[] = []
const results = []
// Each case's rounds are interleaved with baseline rounds, and its ratio is the median of the
// per-round ratios: a noisy machine moves both sides of a ratio together.
for (const c of others) {
  const rates: number[] = []
  const ratios: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const base = await measureOnce(baselineCase!.run)
    const rate = await measureOnce(c.run)
    baselineRates.push(base)
    rates.push(rate)
    ratios.push(rate / base)
  }
  results.push({ ...c, rate: median(rates), ratio: median(ratios) })
}
const heapAfter = process.memoryUsage().heapUsed
results.unshift({ ...baselineCase!, rate: median(baselineRates), ratio: 1 })

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`
const memory = measureWindowMemory(SESSIONS)
const memoryReport = `${memory.sessions.toLocaleString('en-US')} active sessions (each with a call in the last 15 minutes; 10,000 users, 50 agents, 5 features, 2 models), every dimension's windows: ${mib(memory.heapBytes)} of heap after a full collection, ${Math.round(memory.bytesPerSession)} bytes per session, ${memory.keys.toLocaleString('en-US')} keys in all, ${Math.round(memory.bytesPerKey)} bytes per key (BENCH_SESSIONS).`
process.stdout.write(`${memoryReport}\n`)

const ingest = await runEmbeddedIngestApart({
  rows: INGEST_ROWS,
  segments: 10,
  clients: INGEST_CLIENTS,
  batch: 1000,
  port: Number(process.env.BENCH_INGEST_PORT ?? 18_899),
})
/**
 * How the audit was written (from the server's metrics) and the CPU per event of server and
 * clients over the same run: at a given CPU cost per event, two cores cannot take more than
 * 2 s / cost events a second, however well the stages overlap. A figure that could not be read
 * is left out.
 */
function ingestDetail(result: typeof ingest): string {
  const inserts = Number.isFinite(result.rowsPerInsert)
    ? ` The audit took ${result.inserts.toLocaleString('en-US')} inserts of ${Math.round(result.rowsPerInsert).toLocaleString('en-US')} rows on average, ${Math.round(result.secondsPerInsert * 1000).toLocaleString('en-US')} ms each with its id lookup (the server's \`spendguard_audit_batch_*\` metrics).`
    : ''
  if (!Number.isFinite(result.serverCpuSeconds)) return inserts
  const perEvent = (seconds: number) => (seconds / result.rows) * 1e6
  const server = perEvent(result.serverCpuSeconds)
  const client = perEvent(result.clientCpuSeconds)
  return `${inserts} CPU per event over the run: ${server.toFixed(0)} us in the server (every thread: HTTP, processor, chDB's inserts and merges), ${client.toFixed(1)} us in the clients; at ${(server + client).toFixed(0)} us, two cores take at most ${Math.round(2e6 / (server + client)).toLocaleString('en-US')} events/s.`
}
const segmentRates = ingest.segments.map((segment) => segment.eventsPerSecond)
const percent = (ratio: number) => `${(ratio * 100).toFixed(1)} %`
const ingestReport = `\`spendguard start\` on a fresh data directory, ${ingest.clients} concurrent HTTP clients on the same machine posting NDJSON bodies of ${ingest.batch.toLocaleString('en-US')} demo events, each answered after its events are audited (BENCH_INGEST_ROWS, BENCH_INGEST_CLIENTS). ${ingest.rows.toLocaleString('en-US')} rows in ${ingest.seconds.toFixed(1)} s: **${Math.round(ingest.eventsPerSecond).toLocaleString('en-US')} events/s** from the first request to the last row. Per segment of the table's growth (slowest ${Math.round(Math.min(...segmentRates)).toLocaleString('en-US')}, fastest ${Math.round(Math.max(...segmentRates)).toLocaleString('en-US')} events/s: the slowest is ${percent(Math.min(...segmentRates) / Math.max(...segmentRates))} of the fastest, the last ${percent(segmentRates.at(-1)! / segmentRates[0]!)} of the first).${ingestDetail(ingest)}

| rows in the table | events/s |
| --- | ---: |
${ingest.segments.map((segment) => `| ${segment.rowsFrom.toLocaleString('en-US')} to ${segment.rowsTo.toLocaleString('en-US')} | ${Math.round(segment.eventsPerSecond).toLocaleString('en-US')} |`).join('\n')}`

const delay = await runDetectionDelay({
  probes: Number(process.env.BENCH_DELAY_PROBES ?? 200),
  clients: Number(process.env.BENCH_DELAY_CLIENTS ?? 4),
  port: Number(process.env.BENCH_DELAY_PORT ?? 18_898),
})
const ms = (value: number) => `${Math.round(value).toLocaleString('en-US')} ms`
const delayReport = `\`spendguard start\` (embedded) with a strict model policy for one tenant, ${delay.clients} clients posting demo traffic in bodies of 200 events (${Math.round(delay.backgroundEventsPerSecond).toLocaleString('en-US')} events/s while probed), and ${delay.probes} probe events posted one at a time, each a policy violation of a new agent (BENCH_DELAY_PROBES, BENCH_DELAY_CLIENTS). The embedded pipeline records a batch's alerts before its audit rows and answers "accepted" after the rows, so each alert exists by the answer; the delay is from sending the probe to the answer: **p99 ${ms(delay.p99Ms)}** (p50 ${ms(delay.p50Ms)}, p95 ${ms(delay.p95Ms)}, max ${ms(delay.maxMs)}). Alerts found in the alerts table afterwards: ${delay.alerts} of ${delay.probes}.`
process.stdout.write(`${delayReport}\n`)

const checks = measureChecks()
const trials = Number(process.env.BENCH_GUARD_TRIALS ?? 200)
const blockDelays = [
  await measureBlockDelay(trials, Number(process.env.BENCH_GUARD_PORT ?? 18_897)),
  await measureBlockDelay(trials, Number(process.env.BENCH_GUARD_PORT ?? 18_897) - 1, 'kafka'),
]
const overshoots: Overshoot[] = []
for (const callsPerSecond of [50, 200])
  for (const estimates of [false, true])
    overshoots.push(
      await measureOvershoot({
        callers: 8,
        callsPerSecond,
        budgetUsd: '5',
        port: Number(process.env.BENCH_GUARD_PORT ?? 18_897) - 2,
        estimates,
      }),
    )
const usd = (text: string) => (text.startsWith('-') ? `-$${text.slice(1)}` : `$${text}`)
const guardReport = `In-process \`check()\` with ${checks.commands.toLocaleString('en-US')} commands in force (blocks, throttles, downgrades on users and agents), over 4,096 different calls: **${Math.round(checks.checksPerSecond).toLocaleString('en-US')} checks/s**.

From sending an event that breaks a strict model policy (\`POST /v1/events\`) to a guard in this process blocking that agent's next call, ${trials} trials, each a new agent (BENCH_GUARD_TRIALS):

| transport | guard follows | p50 | p99 | max |
| --- | --- | ---: | ---: | ---: |
${blockDelays.map((d) => `| ${d.transport === 'kafka' ? 'Kafka protocol (Mokapi 0.52 on this machine; input topic, then the compacted control topic)' : 'embedded'} | ${d.transport === 'kafka' ? '`kafkaControlSource`' : '`GET /v1/controls/stream`'} | ${ms(d.p50Ms)} | ${ms(d.p99Ms)} | ${ms(d.maxMs)} |`).join('\n')}

Overshoot: ${overshoots[0]!.callers} concurrent callers of one agent against a $${overshoots[0]!.budgetUsd} daily budget with \`on_exceed: block\` (caps at 50, 80 and 90 %), embedded, each call GPT-4o with 2,000 tokens in and 500 out ($${overshoots[0]!.callUsd}); each caller asks the guard before every call and, when allowed, emits the call through the SDK emitter over HTTP. The estimate is the input tokens and \`max_tokens\` = 1,000, priced with the guard's \`prices\` ($0.015, over the real cost). Spend is read back from the audit once every caller has been blocked:

| calls/s | pre-call estimate | spent | past the budget | last caller blocked after |
| ---: | --- | ---: | ---: | ---: |
${overshoots.map((o) => `| ${o.callsPerSecond} | ${o.estimates ? 'yes' : 'no'} | ${usd(o.spentUsd)} | ${usd(o.overshootUsd)} | ${ms(o.blockedAfterMs)} |`).join('\n')}`
process.stdout.write(`${guardReport}\n`)

const lines = results.map(
  (r) =>
    `| ${r.name} | ${Math.round(r.rate).toLocaleString('en-US')} | ${r.ratio.toFixed(3)} | ${r.what} |`,
)
/** The commit measured, with "+ changes" when the work tree differs from it. */
function commit(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8' }).trim()
    const changed = git(
      'status',
      '--porcelain',
      '--untracked-files=no',
      '--',
      '.',
      ':!bench/RESULTS.md',
    )
    return git('rev-parse', '--short', 'HEAD') + (changed ? ' + changes' : '')
  } catch {
    return 'unknown (not a git checkout)'
  }
}

const report = `# Benchmark results

Command: \`npm run bench\` (\`tsx bench/run.ts\`; BENCH_EVENTS=${EVENTS}, BENCH_ROUNDS=${ROUNDS}, median round).
Run: ${new Date().toISOString()}, commit ${commit()}, Node ${process.version}, ${process.platform}/${process.arch}.

Events are the demo traffic generator's (five agents, realistic token counts), after a JSON
round trip. The ratio compares each path with plain avsc decoding of the same events measured
in the same process, a baseline round right before each measured round, and both sides hold
each batch of 1,000 records as the processor does: the figure to compare across machines.

| path | events/s | ratio to baseline (median of per-round ratios, baseline interleaved) | what it does |
| --- | ---: | ---: | --- |
${lines.join('\n')}

Heap used across the timed rounds: ${((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)} MiB (after ${EVENTS.toLocaleString('en-US')} pre-built inputs).

## Live window memory

${memoryReport}

## Sustained embedded ingest

${ingestReport}

## Detection delay

${delayReport}

## Guard

${guardReport}
`
writeFileSync(new URL('./RESULTS.md', import.meta.url), report)
process.stdout.write(report)
if (sink === Number.MIN_SAFE_INTEGER) process.stdout.write('\n')
