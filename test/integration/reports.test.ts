import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAuditStoreClient } from '../../platform/clickhouse.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import { formatUsd } from '../../platform/money.ts'
import { migrate } from '../../processors/audit/migrations.ts'
import {
  REPORT_CONTENT_TYPES,
  type ReportDocument,
} from '../../processors/reports/report-output.ts'
import type { LlmCallInput } from '../../schemas/llm-call.ts'
import { runCli, startPipeline } from '../support/cli-process.ts'
import { postEvents } from '../support/live-checks.ts'
import { makeLlmCallInput } from '../support/make-llm-call.ts'

/**
 * The calls happen from August to October of last year: whole months in the past that the
 * ingest's event-time window (729 days back) always accepts, whatever year the test runs in.
 */
const YEAR = new Date().getUTCFullYear() - 1

const work = mkdtempSync(join(tmpdir(), 'spendguard-reports-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/**
 * The test's own prices (femto-USD per token: $1 / $2 and $15 / $60 per 1M tokens), given to the
 * pipeline as its catalog; in-house-7b has none, so its calls are unpriced.
 */
const RATES: Record<string, { input: bigint; output: bigint }> = {
  'acme-small': { input: 1_000_000_000n, output: 2_000_000_000n },
  'acme-large': { input: 15_000_000_000n, output: 60_000_000_000n },
}
const CATALOG = {
  version: 'report-prices',
  models: [
    { id: 'acme-small', prices: [{ effective_from: '2025-01-01', input: '1', output: '2' }] },
    { id: 'acme-large', prices: [{ effective_from: '2025-01-01', input: '15', output: '60' }] },
  ],
}
/** Only these models may serve the classification category; other categories are violations. */
const POLICY = {
  mode: 'audit',
  categories: { classification: { models: ['acme-small', 'in-house-7b'] } },
}

interface Spec {
  at: string
  tenant: string
  agent: string
  feature?: string | undefined
  user?: string | undefined
  session?: string | undefined
  team?: string | undefined
  category?: string | undefined
  model: string
  tokens: [number, number]
  tags: Record<string, string>
  /** The policy rule the call breaks, as POLICY judges it. */
  violation?: string | undefined
  fingerprint?: string | undefined
}

/** A call as the test knows it: the event posted and what the audit should make of it. */
interface Call {
  spec: Spec
  event: LlmCallInput
  /** The cost as audited, femto-USD; undefined: unpriced. */
  audited: bigint | undefined
}

function call(spec: Spec): Call {
  const rates = RATES[spec.model]
  const [input, output] = spec.tokens
  const event = makeLlmCallInput({
    occurred_at: spec.at,
    tenant_id: spec.tenant,
    agent_id: spec.agent,
    feature_id: spec.feature,
    user_id: spec.user,
    session_id: spec.session,
    team_id: spec.team,
    task_category: spec.category,
    provider: 'acme',
    model: spec.model,
    input_tokens: input,
    output_tokens: output,
    tags: spec.tags,
    ...(spec.fingerprint ? { request_fingerprint: spec.fingerprint } : {}),
  })
  const audited = rates && BigInt(input) * rates.input + BigInt(output) * rates.output
  return { spec, event, audited }
}

const dashless = (value: string) => (value === '-' ? undefined : value)

/** One call a line; `-`: the event does not name it. Tags are `key=value` pairs. */
// prettier-ignore
const TABLE: Array<[string, string, string, string, string, string, string, string, string, number, number, string, string]> = [
  // occurred_at               tenant    agent          feature   user  session team        category          model          input  output tags                      policy rule broken
  [`${YEAR}-08-31T23:59:59.999Z`, 'acme',   'support-bot', 'triage', 'u1', 's0',   'platform', 'classification', 'acme-small',    300,    30, '',                       '-'],
  [`${YEAR}-09-02T09:00:00.000Z`, 'acme',   'support-bot', 'triage', 'u1', 's1',   'platform', 'classification', 'acme-small',   1200,   300, 'project=alpha',          '-'],
  [`${YEAR}-09-02T09:05:00.000Z`, 'acme',   'support-bot', 'triage', 'u1', 's1',   'platform', 'classification', 'acme-small',    800,   200, 'project=alpha,env=prod', '-'],
  [`${YEAR}-09-03T10:00:00.000Z`, 'acme',   'summarizer',  'digest', 'u2', 's2',   'research', 'classification', 'acme-large',   5000,  1000, 'project=beta',           'policy:model'],
  [`${YEAR}-09-03T10:10:00.000Z`, 'acme',   'summarizer',  'digest', 'u2', 's2',   'research', 'classification', 'acme-large',   3000,   800, '',                       'policy:model'],
  [`${YEAR}-09-05T14:00:00.000Z`, 'acme',   'support-bot', 'triage', 'u3', 's3',   'platform', 'classification', 'in-house-7b',  2000,   500, '',                       '-'],
  [`${YEAR}-09-05T14:02:00.000Z`, 'acme',   'support-bot', 'triage', 'u3', 's3',   'platform', 'classification', 'in-house-7b',  1000,   100, '',                       '-'],
  [`${YEAR}-09-08T08:00:00.000Z`, 'acme',   'summarizer',  'digest', 'u2', 's4',   '-',        'translation',    'acme-small',    400,   100, '',                       'policy:unregistered_category'],
  [`${YEAR}-09-08T08:30:00.000Z`, 'acme',   'summarizer',  '-',      'u4', '-',    '-',        '-',              'in-house-7b',   700,    70, '',                       'policy:no_category'],
  [`${YEAR}-09-12T16:00:00.000Z`, 'acme',   'support-bot', 'triage', 'u1', 's5',   'research', 'classification', 'acme-large',  10000,  2000, '',                       'policy:model'],
  [`${YEAR}-09-15T12:00:00.000Z`, 'globex', 'support-bot', 'triage', 'g1', 'g1',   'platform', 'classification', 'acme-small',   1000,   100, '',                       '-'],
  [`${YEAR}-09-15T12:01:00.000Z`, 'globex', 'support-bot', 'triage', 'g1', 'g1',   'platform', 'classification', 'in-house-7b',   300,    30, '',                       '-'],
  [`${YEAR}-09-20T11:00:00.000Z`, 'acme',   'support-bot', 'chat',   'u5', 's6',   'platform', 'classification', 'acme-small',   1500,   500, 'project=alpha',          '-'],
  [`${YEAR}-09-30T23:59:59.999Z`, 'acme',   'support-bot', 'chat',   'u5', 's6',   'platform', 'classification', 'acme-small',    100,    10, '',                       '-'],
  [`${YEAR}-10-01T00:00:00.000Z`, 'acme',   'support-bot', 'triage', 'u1', 's1',   'platform', 'classification', 'acme-small',    900,    90, '',                       '-'],
  [`${YEAR}-10-07T09:00:00.000Z`, 'acme',   'summarizer',  'digest', 'u2', 's9',   'research', 'classification', 'acme-large',   2000,   200, '',                       'policy:model'],
]

const CALLS: Call[] = [
  ...TABLE.map(
    ([
      at,
      tenant,
      agent,
      feature,
      user,
      session,
      team,
      category,
      model,
      input,
      output,
      tags,
      rule,
    ]) =>
      call({
        at,
        tenant,
        agent,
        feature: dashless(feature),
        user: dashless(user),
        session: dashless(session),
        team: dashless(team),
        category: dashless(category),
        model,
        tokens: [input, output],
        tags: Object.fromEntries(
          tags ? tags.split(',').map((pair) => pair.split('=')) : [],
        ) as Record<string, string>,
        violation: dashless(rule),
      }),
  ),
  // A retry loop: the same request seven times in 30 s; the loop rule fires on the sixth.
  ...Array.from({ length: 7 }, (_, i) =>
    call({
      at: `${YEAR}-09-10T12:00:${String(i * 5).padStart(2, '0')}.000Z`,
      tenant: 'acme',
      agent: 'retry-bot',
      feature: 'sync',
      user: 'u6',
      session: 'loop-1',
      team: 'platform',
      category: 'classification',
      model: 'acme-small',
      tokens: [500, 50],
      tags: {},
      fingerprint: 'fp-1',
    }),
  ),
]
const byAt = (at: string) => CALLS.find((c) => c.spec.at === at)!

/**
 * Repricing rows, as `spendguard reprice` appends them (femto-USD): an unpriced call priced, a
 * call repriced twice (its latest row counts), and an October call.
 */
// prettier-ignore
const ADJUSTMENTS = [
  { of: byAt(`${YEAR}-09-05T14:00:00.000Z`), previous: null,              version: 'report-prices-2', cost: 500_000_000_000_000n, at: `${YEAR}-10-02 00:00:00.000` },
  { of: byAt(`${YEAR}-09-12T16:00:00.000Z`), previous: 'report-prices',   version: 'report-prices-2', cost: 200_000_000_000_000n, at: `${YEAR}-10-02 00:00:00.000` },
  { of: byAt(`${YEAR}-09-12T16:00:00.000Z`), previous: 'report-prices-2', version: 'report-prices-3', cost: 135_000_000_000_000n, at: `${YEAR}-10-03 00:00:00.000` },
  { of: byAt(`${YEAR}-10-07T09:00:00.000Z`), previous: 'report-prices',   version: 'report-prices-2', cost:  60_000_000_000_000n, at: `${YEAR}-10-08 00:00:00.000` },
].map((a, i, all) => {
  // Each row's delta is its cost less what the call cost before it.
  const before = all.slice(0, i).filter((b) => b.of === a.of).at(-1)?.cost ?? a.of.audited ?? 0n
  return { ...a, id: `00000000-0000-4000-8000-00000000000${i}`, delta: a.cost - before }
})

/** What each call costs now: its latest adjustment, or its audited cost. */
const costOf = (c: Call): bigint | undefined =>
  ADJUSTMENTS.filter((a) => a.of === c).at(-1)?.cost ?? c.audited

const SEPTEMBER = CALLS.filter((c) => c.spec.at.startsWith(`${YEAR}-09`))
const usd = (femtos: bigint | undefined) => (femtos === undefined ? null : formatUsd(femtos))
const sumOf = (values: Array<bigint | undefined>): bigint | undefined =>
  values.some((v) => v !== undefined)
    ? values.reduce<bigint>((sum, v) => sum + (v ?? 0n), 0n)
    : undefined
const iso = (c: Call) => new Date(c.spec.at).toISOString()

/** Calls, unpriced calls, tokens and cost of a group, as the spend reports show them. */
function totals(calls: Call[]) {
  return {
    calls: String(calls.length),
    unpriced_calls: String(calls.filter((c) => costOf(c) === undefined).length),
    input_tokens: String(calls.reduce((n, c) => n + c.spec.tokens[0], 0)),
    output_tokens: String(calls.reduce((n, c) => n + c.spec.tokens[1], 0)),
    cost_usd: usd(sumOf(calls.map(costOf))),
  }
}

function groups<K extends readonly (string | null)[]>(calls: Call[], key: (c: Call) => K) {
  const found = new Map<string, { key: K; calls: Call[] }>()
  for (const c of calls) {
    const k = key(c)
    const entry = found.get(JSON.stringify(k)) ?? { key: k, calls: [] }
    entry.calls.push(c)
    found.set(JSON.stringify(k), entry)
  }
  return [...found.values()]
}

/** ORDER BY cost DESC NULLS LAST, calls DESC, then the keys (NULL last), as the reports sort. */
function byCostThenKeys<K extends readonly (string | null)[]>(
  a: { key: K; calls: Call[] },
  b: { key: K; calls: Call[] },
): number {
  const [ca, cb] = [sumOf(a.calls.map(costOf)), sumOf(b.calls.map(costOf))]
  if (ca !== cb) {
    if (ca === undefined) return 1
    if (cb === undefined) return -1
    return ca > cb ? -1 : 1
  }
  if (a.calls.length !== b.calls.length) return b.calls.length - a.calls.length
  for (let i = 0; i < a.key.length; i++) {
    const [x, y] = [a.key[i], b.key[i]]
    if (x === y) continue
    if (x === null) return 1
    if (y === null) return -1
    return x! < y! ? -1 : 1
  }
  return 0
}

/** The rows of a spend report: per tenant and key, by cost. */
function spendBy(
  column: string,
  key: (c: Call) => string | null,
  calls = SEPTEMBER,
): Array<Record<string, string | null>> {
  return groups(calls, (c) => [c.spec.tenant, key(c)] as const)
    .sort(byCostThenKeys)
    .map(({ key: [tenant, value], calls: members }) => ({
      tenant_id: tenant,
      [column]: value,
      ...totals(members),
    }))
}

const seconds = (c: Call) => Date.parse(c.spec.at)
const uniqueSorted = (values: Array<string | undefined>) =>
  [...new Set(values.filter((v): v is string => v !== undefined))].sort().join(',')

/** quantileExact: the value at position floor(level * n) of the sorted costs. */
function quantile(sorted: bigint[], level: number): string | null {
  if (sorted.length === 0) return null
  return formatUsd(sorted[Math.min(Math.floor(level * sorted.length), sorted.length - 1)]!)
}

/** What each report should say about the calls above. */
const EXPECTED: Record<string, { params: string[]; rows: unknown[] }> = {
  'spend-by-agent': { params: [`month=${YEAR}-09`], rows: spendBy('agent', (c) => c.spec.agent) },
  'spend-by-feature': {
    params: [`month=${YEAR}-09`],
    rows: spendBy('feature', (c) => c.spec.feature ?? null),
  },
  'spend-by-user': {
    params: [`month=${YEAR}-09`],
    rows: spendBy('user', (c) => c.spec.user ?? null),
  },
  'spend-by-team': {
    params: [`month=${YEAR}-09`],
    rows: spendBy('team', (c) => c.spec.team ?? null),
  },
  'spend-by-model': {
    params: [`from=${YEAR}-09-01`, `to=${YEAR}-10-01T00:00:00Z`],
    rows: groups(SEPTEMBER, (c) => [c.spec.tenant, 'acme', c.spec.model] as const)
      .sort(byCostThenKeys)
      .map(({ key: [tenant, provider, model], calls }) => ({
        tenant_id: tenant,
        provider,
        model,
        ...totals(calls),
      })),
  },
  'spend-by-tag': {
    params: [`month=${YEAR}-09`, 'tag=project', 'tenant=acme'],
    rows: spendBy(
      'value',
      (c) => c.spec.tags?.project ?? null,
      SEPTEMBER.filter((c) => c.spec.tenant === 'acme'),
    ).map(({ tenant_id, value, ...rest }) => ({ tenant_id, tag: 'project', value, ...rest })),
  },
  'top-sessions': {
    params: [`month=${YEAR}-09`, 'limit=3'],
    rows: groups(
      SEPTEMBER.filter((c) => c.spec.session),
      (c) => [c.spec.tenant, c.spec.session!] as const,
    )
      .sort(byCostThenKeys)
      .slice(0, 3)
      .map(({ key: [tenant, session], calls }) => ({
        tenant_id: tenant,
        session,
        agents: uniqueSorted(calls.map((c) => c.spec.agent)),
        users: uniqueSorted(calls.map((c) => c.spec.user)),
        first_call: iso(calls.reduce((a, b) => (seconds(b) < seconds(a) ? b : a))),
        last_call: iso(calls.reduce((a, b) => (seconds(b) > seconds(a) ? b : a))),
        ...totals(calls),
      })),
  },
  'cost-quantiles-by-model': {
    params: [`month=${YEAR}-09`],
    rows: groups(SEPTEMBER, (c) => ['acme', c.spec.model] as const)
      .sort(byCostThenKeys)
      .map(({ key: [provider, model], calls }) => {
        const costs = calls
          .map(costOf)
          .filter((v): v is bigint => v !== undefined)
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        return {
          provider,
          model,
          calls: String(calls.length),
          unpriced_calls: String(calls.length - costs.length),
          min_usd: quantile(costs, 0),
          p50_usd: quantile(costs, 0.5),
          p90_usd: quantile(costs, 0.9),
          p99_usd: quantile(costs, 0.99),
          max_usd: costs.length ? formatUsd(costs.at(-1)!) : null,
          cost_usd: usd(sumOf(costs)),
        }
      }),
  },
  'chargeback-by-team': {
    params: [`month=${YEAR}-09`],
    rows: groups(SEPTEMBER, (c) => [c.spec.tenant, c.spec.team ?? null] as const)
      .sort(byCostThenKeys)
      .map(({ key: [tenant, team], calls }) => {
        const repriced = calls.filter((c) => ADJUSTMENTS.some((a) => a.of === c))
        return {
          month: `${YEAR}-09`,
          tenant_id: tenant,
          team,
          calls: String(calls.length),
          unpriced_calls: String(calls.filter((c) => costOf(c) === undefined).length),
          repriced_calls: String(repriced.length),
          audited_usd: usd(sumOf(calls.map((c) => c.audited))),
          adjustments_usd: formatUsd(
            repriced.reduce((sum, c) => sum + costOf(c)! - (c.audited ?? 0n), 0n),
          ),
          cost_usd: usd(sumOf(calls.map(costOf))),
        }
      }),
  },
  violations: {
    params: [`month=${YEAR}-09`],
    rows: groups(
      SEPTEMBER.filter((c) => c.spec.violation),
      (c) =>
        [
          c.spec.tenant,
          c.spec.agent,
          c.spec.category ?? null,
          c.spec.model,
          c.spec.violation!,
        ] as const,
    )
      .sort((a, b) => b.calls.length - a.calls.length || byCostThenKeys(a, b))
      .map(({ key: [tenant, agent, category, model, rule], calls }) => ({
        tenant_id: tenant,
        agent,
        task_category: category,
        model,
        rule,
        first_call: iso(calls[0]!),
        last_call: iso(calls.at(-1)!),
        calls: String(calls.length),
        unpriced_calls: String(calls.filter((c) => costOf(c) === undefined).length),
        cost_usd: usd(sumOf(calls.map(costOf))),
      })),
  },
  loops: {
    params: [`month=${YEAR}-09`],
    rows: [
      {
        tenant_id: 'acme',
        loop: 'loop.fingerprint',
        scope_kind: 'agent',
        scope_id: 'retry-bot',
        severity: 'warning',
        alerts: '1',
        first_alert: `${YEAR}-09-10T12:00:25.000Z`,
        last_alert: `${YEAR}-09-10T12:00:25.000Z`,
        scope_calls: '7',
        scope_unpriced_calls: '0',
        scope_cost_usd: usd(
          sumOf(SEPTEMBER.filter((c) => c.spec.agent === 'retry-bot').map(costOf)),
        ),
      },
    ],
  },
  'unpriced-models': {
    params: [`month=${YEAR}-09`],
    rows: (() => {
      const unpriced = SEPTEMBER.filter((c) => c.audited === undefined)
      const still = unpriced.filter((c) => costOf(c) === undefined)
      return [
        {
          provider: 'acme',
          model: 'in-house-7b',
          unpriced_calls: String(unpriced.length),
          still_unpriced_calls: String(still.length),
          repriced_calls: String(unpriced.length - still.length),
          repriced_usd: usd(sumOf(unpriced.map(costOf))),
          still_unpriced_input_tokens: String(still.reduce((n, c) => n + c.spec.tokens[0], 0)),
          still_unpriced_output_tokens: String(still.reduce((n, c) => n + c.spec.tokens[1], 0)),
          first_call: `${YEAR}-09-05T14:00:00.000Z`,
          last_call: `${YEAR}-09-15T12:01:00.000Z`,
          reasons: expect.stringMatching(/\S/) as unknown,
        },
      ]
    })(),
  },
  'budget-burn-down': {
    params: [`month=${YEAR}-09`, 'scope=team', 'key=platform', 'budget_usd=1', 'tenant=acme'],
    rows: (() => {
      const budget = 1_000_000_000_000_000n
      let spent = 0n
      let unpricedSoFar = 0
      return Array.from({ length: 30 }, (_, i) => {
        const day = `${YEAR}-09-${String(i + 1).padStart(2, '0')}`
        const calls = SEPTEMBER.filter(
          (c) =>
            c.spec.tenant === 'acme' && c.spec.team === 'platform' && c.spec.at.startsWith(day),
        )
        const cost = calls.length === 0 ? 0n : sumOf(calls.map(costOf))
        const unpriced = calls.filter((c) => costOf(c) === undefined).length
        spent += cost ?? 0n
        unpricedSoFar += unpriced
        return {
          day,
          calls: String(calls.length),
          unpriced_calls: String(unpriced),
          cost_usd: usd(cost),
          spent_usd: formatUsd(spent),
          unpriced_calls_so_far: String(unpricedSoFar),
          remaining_usd: formatUsd(budget - spent),
          // divideDecimal to 2 places: the percentage truncated to cents of a percent.
          used_percent: formatUsd(((spent * 10_000n) / budget) * 10n ** 13n),
        }
      })
    })(),
  },
  adjustments: {
    params: [`month=${YEAR}-09`],
    rows: ADJUSTMENTS.filter((a) => a.of.spec.at.startsWith(`${YEAR}-09`))
      .sort((a, b) =>
        a.of.spec.model < b.of.spec.model
          ? -1
          : a.of.spec.model > b.of.spec.model
            ? 1
            : a.at < b.at
              ? -1
              : 1,
      )
      .map((a) => ({
        tenant_id: 'acme',
        model: a.of.spec.model,
        previous_price_version: a.previous,
        price_version: a.version,
        reason: 'catalog update',
        actor: 'reprice',
        adjustments: '1',
        calls: '1',
        newly_priced: a.previous === null ? '1' : '0',
        delta_usd: formatUsd(a.delta),
        first_adjusted: `${a.at.replace(' ', 'T')}Z`,
        last_adjusted: `${a.at.replace(' ', 'T')}Z`,
      })),
  },
}

/** Writes the adjustments into a new store before the pipeline opens it (repricing's rows). */
async function seedAdjustments(dataDir: string): Promise<void> {
  const { client } = createAuditStoreClient(parseConfig({ clickhouse: { dataDir } }).clickhouse)
  try {
    await migrate(client, silentLogger())
    await client.insert({
      table: 'llm_call_adjustments',
      format: 'JSONEachRow',
      values: ADJUSTMENTS.map((a) => ({
        adjustment_id: a.id,
        event_id: a.of.event.event_id,
        occurred_at: a.of.spec.at.replace('T', ' ').replace('Z', ''),
        tenant_id: a.of.spec.tenant,
        agent_id: a.of.spec.agent,
        feature_id: a.of.spec.feature ?? null,
        user_id: a.of.spec.user ?? null,
        team_id: a.of.spec.team ?? null,
        model: a.of.spec.model,
        previous_price_version: a.previous,
        price_version: a.version,
        priced_model: a.of.spec.model,
        cost_usd: formatUsd(a.cost),
        cost_delta_usd: formatUsd(a.delta),
        reason: 'catalog update',
        actor: 'reprice',
        adjusted_at: a.at,
      })),
    })
  } finally {
    await client.close()
  }
}

/** The query string of GET /v1/reports/NAME for `name=value` parameters. */
const query = (params: string[], format: string): string =>
  new URLSearchParams([
    ...params.map((p) => p.split('=') as [string, string]),
    ['format', format],
  ]).toString()

/** Expected rows as the engine writes csv or tsv: NULL as \N, csv quoting text but not numbers. */
function delimited(rows: Array<Record<string, string | null>>, format: 'csv' | 'tsv'): string {
  const csvCell = (v: string) => (/^-?\d+(\.\d+)?$/.test(v) ? v : `"${v}"`)
  const cell = (v: string | null) => (v === null ? '\\N' : format === 'tsv' ? v : csvCell(v))
  const header = Object.keys(rows[0]!).map((name) => (format === 'csv' ? `"${name}"` : name))
  const separator = format === 'csv' ? ',' : '\t'
  return [header, ...rows.map((row) => Object.values(row).map(cell))]
    .map((line) => `${line.join(separator)}\n`)
    .join('')
}

/** Each report's CLI format; json unless it shows one of the others (all are checked over HTTP). */
const CLI_FORMATS: Record<string, 'json' | 'csv' | 'tsv'> = {
  'spend-by-team': 'csv',
  'chargeback-by-team': 'tsv',
}

describe('spendguard report and GET /v1/reports/NAME', () => {
  it('give every named report with the numbers of the posted events, through the CLI and HTTP alike', async () => {
    const dataDir = join(work, 'data')
    const configFile = join(work, 'spendguard.json')
    const catalogFile = join(work, 'prices.json')
    writeFileSync(catalogFile, JSON.stringify(CATALOG))
    writeFileSync(configFile, JSON.stringify({ pricing: { catalogFile }, policy: POLICY }))
    await seedAdjustments(dataDir)
    const { port, running } = await startPipeline(dataDir, configFile)
    await postEvents(
      port,
      CALLS.map((c) => c.event),
    )
    const api = (path: string) => fetch(`http://127.0.0.1:${port}${path}`)

    const list = (await (await api('/v1/reports')).json()) as { reports: Array<{ name: string }> }
    expect(list.reports.map((r) => r.name).sort()).toEqual(Object.keys(EXPECTED).sort())

    // The embedded store is locked by the running pipeline: the CLI's answers come through its API.
    const reports = Object.entries(EXPECTED).map(([name, expected]) => ({
      name,
      ...expected,
      format: CLI_FORMATS[name] ?? 'json',
    }))
    const cli = await Promise.all(
      reports.map(({ name, params, format }) =>
        runCli([
          'report',
          name,
          ...params.flatMap((p) => ['--param', p]),
          '--format',
          format,
          '--data-dir',
          dataDir,
        ]),
      ),
    )
    for (const [i, { name, params, rows, format }] of reports.entries()) {
      const { code, stdout, stderr } = cli[i]!
      expect({ name, code, stderr }).toEqual({ name, code: 0, stderr: '' })
      if (format === 'json') {
        const document = JSON.parse(stdout) as ReportDocument
        expect({ name, rows: document.rows }).toEqual({ name, rows })
      } else {
        expect({ name, text: stdout }).toEqual({
          name,
          text: delimited(rows as Array<Record<string, string | null>>, format),
        })
      }
      const http = await api(`/v1/reports/${name}?${query(params, format)}`)
      expect({ name, status: http.status, text: await http.text() }).toEqual({
        name,
        status: 200,
        text: stdout,
      })
      expect(http.headers.get('content-type')).toBe(REPORT_CONTENT_TYPES[format])
    }

    // The default format, for a person; the period it ran with heads it.
    const table = await runCli([
      'report',
      'spend-by-user',
      '--param',
      `month=${YEAR}-09`,
      '--data-dir',
      dataDir,
    ])
    expect(table.stdout).toMatch(
      new RegExp(
        `^spend-by-user {2}month=${YEAR}-09 {2}from=${YEAR}-09-01 00:00:00\\.000 {2}to=${YEAR}-10-01 00:00:00\\.000 {2}tenant=''\\n\\ntenant_id +user +calls`,
      ),
    )
    const u3 = (EXPECTED['spend-by-user']!.rows as Array<Record<string, string>>).find(
      (row) => row.user === 'u3',
    )!
    expect(table.stdout).toMatch(
      new RegExp(`\\nacme +u3 +2 +1 +3000 +600 +${u3.cost_usd!.replace('.', '\\.')}\\n`),
    )

    // A missing or ill-typed parameter: exit 2, or 400, naming it.
    const missing = await runCli(['report', 'chargeback-by-team', '--data-dir', dataDir])
    expect([missing.code, missing.stderr]).toEqual([
      2,
      `spendguard: report chargeback-by-team: month: is required (YYYY-MM, e.g. 2026-09)\n`,
    ])
    const refused = await api(
      `/v1/reports/budget-burn-down?month=${YEAR}-09&scope=team&key=platform&budget_usd=lots`,
    )
    expect(refused.status).toBe(400)
    expect(await refused.json()).toEqual({
      error:
        'report budget-burn-down: budget_usd: "lots" is not a decimal number such as 500 or 12.5',
    })
    expect((await api('/v1/reports/spend-by-planet')).status).toBe(404)

    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
  })

  it('has its own --help, and lists the reports with their parameters without any store', async () => {
    const [help, listed] = await Promise.all([
      runCli(['report', '--help']),
      runCli(['report', '--list', 'budget-burn-down']),
    ])
    expect(help.code).toBe(0)
    expect(help.stdout.startsWith('usage: spendguard report NAME')).toBe(true)
    expect(listed.code).toBe(0)
    expect(listed.stdout).toMatch(/^budget-burn-down\n {2}Day by day spend/)
    expect(listed.stdout).toMatch(
      /\n {4}budget_usd +Decimal\(38, 15\) +required +The month's budget/,
    )
  })
})
