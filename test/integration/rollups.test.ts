import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAuditStoreClient } from '../../platform/clickhouse.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import { formatUsd, parseUsd } from '../../platform/money.ts'
import { toAuditRow } from '../../processors/audit/audit-row.ts'
import { batchToken } from '../../processors/audit/audit-sink.ts'
import { createClickHouseAuditStore } from '../../processors/audit/audit-store.ts'
import { migrate } from '../../processors/audit/migrations.ts'
import { repairDerivedTables } from '../../processors/audit/derived-tables-repair.ts'
import { KEY_EXPRESSIONS } from '../../processors/windows/reconcile.ts'
import { DIMENSIONS, SpendWindows } from '../../processors/windows/spend-windows.ts'
import { auditedKeySpend } from '../../alerts/alert-jobs.ts'
import { budgetUsage, budgetUsageFrom } from '../../processors/detection/budget-usage.ts'
import type { Budget } from '../../processors/detection/rules.ts'
import { seededRandom } from '../../cli/demo-traffic.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'
import { testPricing } from '../support/pricing.ts'
import type { Pricer } from '../../processors/pricing/pricer.ts'
import type { ClickHouseClient } from '@clickhouse/client'

const work = mkdtempSync(join(tmpdir(), 'spendguard-rollups-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4', 'a-model-nobody-prices']
const STATUSES = ['ok', 'ok', 'ok', 'error', 'timeout', 'blocked'] as const

/** A migrated embedded audit in its own directory, with the test prices. */
async function openAudit(name: string) {
  const config = parseConfig({ clickhouse: { dataDir: join(work, name) } })
  const { client } = createAuditStoreClient(config.clickhouse)
  await migrate(client, silentLogger())
  return {
    client,
    store: createClickHouseAuditStore(client),
    pricer: (await testPricing()).pricer,
  }
}

/** Calls over three days around two midnights, some keys missing, some calls unpriced. */
function generatedRows(pricer: Pricer, count: number, seed: number) {
  const random = seededRandom(seed)
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!
  const maybe = (value: string) => (random() < 0.2 ? undefined : value)
  const start = Date.UTC(2026, 10, 22, 22)
  return Array.from({ length: count }, () => {
    const call = makeLlmCall({
      occurred_at: new Date(start + Math.floor(random() * 50 * 3_600_000)).toISOString(),
      tenant_id: pick(['default', 'acme']),
      agent_id: `agent-${Math.floor(random() * 4)}`,
      feature_id: maybe(`feature-${Math.floor(random() * 3)}`),
      user_id: maybe(`user-${Math.floor(random() * 20)}`),
      session_id: maybe(`session-${Math.floor(random() * 200)}`),
      team_id: maybe(`team-${Math.floor(random() * 2)}`),
      task_category: maybe(pick(['chat', 'bulk'])),
      model: pick(MODELS),
      provider: undefined,
      input_tokens: Math.floor(random() * 20_000),
      output_tokens: Math.floor(random() * 2_000),
      status: pick(STATUSES),
      latency_ms: random() < 0.1 ? undefined : Math.floor(random() * 5000),
    })
    return toAuditRow(call, {
      price: pricer.price(call),
      source: { kind: 'replay' },
      late: random() < 0.05,
      ingestedAt: start,
    })
  })
}

async function readRows(
  client: ClickHouseClient,
  query: string,
  params: Record<string, string | string[]> = {},
) {
  const result = await client.query({ query, query_params: params, format: 'JSONEachRow' })
  return result.json<Record<string, string>>()
}

/** An audit holding the first 1,000 of 1,250 generated calls, and how to insert more. */
async function auditOf1000(name: string, seed: number) {
  const { client, store, pricer } = await openAudit(name)
  const rows = generatedRows(pricer, 1250, seed)
  const insert = (batch: typeof rows) => store.insertCalls(batch, batchToken(batch))
  await insert(rows.slice(0, 1000))
  return { client, store, rows, insert }
}

/** Audited ids missing from the id index, and indexed ids missing from the audit. */
const ANTI_JOIN = {
  idsMissing:
    'SELECT count() AS n FROM llm_calls WHERE event_id NOT IN (SELECT event_id FROM llm_call_ids)',
  idsExtra:
    'SELECT count() AS n FROM llm_call_ids WHERE event_id NOT IN (SELECT event_id FROM llm_calls)',
}

/** Compares both rollups with the audit for every dimension, key and bucket; returns how many. */
async function expectRollupsAgree(client: ClickHouseClient): Promise<number> {
  const measures = `count() AS calls, countIf(status IN ('error', 'timeout')) AS failures,
    countIf(price_status = 'unpriced') AS unpriced, countIf(late) AS late,
    sum(input_tokens) AS input, sum(output_tokens) AS output,
    toString(sum(ifNull(cost_usd, 0))) AS cost`
  const rolled = `sum(calls) AS calls, sum(failures) AS failures, sum(unpriced_calls) AS unpriced,
    sum(late_calls) AS late, sum(input_tokens) AS input, sum(output_tokens) AS output,
    toString(sum(cost_usd)) AS cost`
  const read = (query: string, params: Record<string, string> = {}) =>
    readRows(client, query, params)
  let compared = 0
  for (const dimension of DIMENSIONS) {
    for (const [table, time, bucket] of [
      ['spend_by_day', 'day', 'toDate(occurred_at)'],
      ['spend_by_minute', 'minute', 'toStartOfMinute(occurred_at)'],
    ] as const) {
      const key = KEY_EXPRESSIONS[dimension]
      const fromAudit = await read(
        `SELECT tenant_id, ${key} AS key, toString(${bucket}) AS t, ${measures}
         FROM llm_calls WHERE key IS NOT NULL GROUP BY tenant_id, key, t ORDER BY tenant_id, key, t`,
      )
      const fromRollup = await read(
        `SELECT tenant_id, key, toString(${time}) AS t, ${rolled} FROM ${table}
         WHERE dimension = {dimension:String} GROUP BY tenant_id, key, t ORDER BY tenant_id, key, t`,
        { dimension },
      )
      expect(fromRollup).toEqual(fromAudit)
      compared += fromAudit.length
    }
  }
  return compared
}

describe('ClickHouse rollups by minute and by day', () => {
  it('agree with the audit for every dimension, on generated calls, after a retried insert', async () => {
    const { client, store, pricer } = await openAudit('store')
    const rows = generatedRows(pricer, 3000, 11)
    for (let at = 0; at < rows.length; at += 500) {
      const batch = rows.slice(at, at + 500)
      await store.insertCalls(batch, batchToken(batch))
    }
    // A retried insert whose first attempt landed: deduplicated, and so is the rollup.
    await store.insertCalls(rows.slice(0, 500), batchToken(rows.slice(0, 500)))

    const compared = await expectRollupsAgree(client)
    expect(compared).toBeGreaterThan(3000)
    const read = (query: string) => readRows(client, query)
    const [{ n }] = (await read('SELECT count() AS n FROM llm_calls')) as [{ n: string }]
    expect(n).toBe('3000')
    // The older daily rollup too (migration 0008 gave it a deduplication window).
    const [{ daily }] = (await read('SELECT sum(calls) AS daily FROM llm_calls_daily')) as [
      { daily: string },
    ]
    expect(daily).toBe('3000')
    await client.close()
  })

  it('catch up at start with an insert that reached the audit and not its views', async () => {
    const { client, store, rows, insert } = await auditOf1000('audit-only', 23)
    // Killed after the audit's part and before the views' parts: the views miss these rows.
    const views = ['llm_call_ids_mv', 'spend_by_minute_mv', 'llm_calls_daily_mv']
    for (const view of views) await client.command({ query: `DETACH TABLE ${view}` })
    const auditOnly = rows.slice(1000)
    await insert(auditOnly)
    for (const view of views) await client.command({ query: `ATTACH TABLE ${view}` })
    const count = async (query: string) => Number((await readRows(client, query))[0]!.n)
    expect(await count(ANTI_JOIN.idsMissing)).toBe(250)
    // A resend would be written twice: the index does not know the ids.
    expect((await store.existingEventIds(auditOnly.map((row) => row.event_id))).size).toBe(0)

    const repaired = await repairDerivedTables(client, silentLogger(), Date.UTC(2026, 10, 25))
    expect(repaired.map((entry) => [entry.table, entry.excess])).toEqual([
      ['llm_call_ids', []],
      ['spend_by_minute', []],
      ['llm_calls_daily', []],
    ])
    expect(await count(ANTI_JOIN.idsMissing)).toBe(0)
    expect(await count('SELECT sum(calls) AS n FROM llm_calls_daily')).toBe(1250)
    expect(await expectRollupsAgree(client)).toBeGreaterThan(1250)
    expect((await store.existingEventIds(auditOnly.map((row) => row.event_id))).size).toBe(250)
    // Nothing differs any more: a second start changes nothing.
    expect(await repairDerivedTables(client, silentLogger(), Date.UTC(2026, 10, 25))).toEqual([])
    await client.close()
  })

  it('stay ahead of the audit after an insert that reached only the views, and lose no resent event', async () => {
    const { client, store, rows, insert } = await auditOf1000('views-only', 29)
    // Killed after the views' parts and before the audit's: the views hold rows it does not,
    // and only the views saw that insert's token.
    const viewsOnly = rows.slice(1000)
    await insert(viewsOnly)
    await client.command({
      query: 'ALTER TABLE llm_calls DELETE WHERE event_id IN {ids:Array(UUID)}',
      query_params: { ids: viewsOnly.map((row) => row.event_id) },
      clickhouse_settings: { mutations_sync: '2' },
    })
    for (const size of [0, 10_000])
      await client.command({
        query: `ALTER TABLE llm_calls MODIFY SETTING non_replicated_deduplication_window = ${size}`,
      })
    const count = async (query: string) => Number((await readRows(client, query))[0]!.n)
    expect(await count(ANTI_JOIN.idsExtra)).toBe(250)

    // Nothing is taken out of an append-only table: the days are reported.
    const repaired = await repairDerivedTables(client, silentLogger(), Date.UTC(2026, 10, 25))
    expect(repaired.map((entry) => entry.table)).toEqual([
      'llm_call_ids',
      'spend_by_minute',
      'spend_by_day',
      'llm_calls_daily',
    ])
    expect(repaired.every((entry) => entry.excess.length > 0)).toBe(true)
    // The index holds their ids, but the audit does not: they are not called duplicates.
    expect((await store.existingEventIds(viewsOnly.map((row) => row.event_id))).size).toBe(0)
    // The sender resends them, not told "accepted": the same events make the same token,
    // which the views drop as the repeat it is, and the audit takes.
    await insert(viewsOnly)
    expect(await count('SELECT count() AS n FROM llm_calls')).toBe(1250)
    expect(await count(ANTI_JOIN.idsExtra)).toBe(0)
    expect(await count('SELECT sum(calls) AS n FROM llm_calls_daily')).toBe(1250)
    expect(await expectRollupsAgree(client)).toBeGreaterThan(1250)
    expect(await repairDerivedTables(client, silentLogger(), Date.UTC(2026, 10, 25))).toEqual([])
    await client.close()
  })

  it('give the budgets of a digest the same use as the live windows, for the day and the month', async () => {
    const { client, store, pricer } = await openAudit('budgets')
    const windows = new SpendWindows()
    // A call every 6 minutes from 20:00 on the last day of November to 20:00 on December 3rd,
    // and one on the 4th; asked at noon on the 3rd (calls later that day count, as live).
    const start = Date.UTC(2026, 10, 30, 20)
    const now = Date.UTC(2026, 11, 3, 12)
    const random = seededRandom(5)
    const times = [
      ...Array.from({ length: 800 }, (_, i) => start + i * 360_000),
      Date.UTC(2026, 11, 4, 1),
    ]
    const rows = times.map((time, i) => {
      // The call of the 4th is care's, in the default tenant: its month counts it.
      const last = i === times.length - 1
      const call = makeLlmCall({
        occurred_at: new Date(time).toISOString(),
        tenant_id: i % 5 === 0 && !last ? 'acme' : 'default',
        user_id: `user-${i % 7}`,
        team_id: i % 3 === 0 || last ? 'care' : 'sales',
        model: 'gpt-4o',
        provider: undefined,
        input_tokens: Math.floor(random() * 50_000),
        output_tokens: Math.floor(random() * 5_000),
      })
      const price = pricer.price(call)
      windows.add(call, price.status === 'priced' ? price.cost.total : undefined, false, now)
      return toAuditRow(call, { price, source: { kind: 'replay' }, late: false, ingestedAt: now })
    })
    await store.insertCalls(rows, batchToken(rows))
    const budgets = [
      { id: 'user-day', scope: { kind: 'user', value: '*' }, period: 'day', limit_usd: '2' },
      { id: 'care-month', scope: { kind: 'team', value: 'care' }, period: 'month', limit_usd: '5' },
    ] as unknown as Budget[]

    // At most 5 keys per budget, of the 14 users (7 in each tenant).
    const fromAudit = await budgetUsageFrom(budgets, auditedKeySpend(client), now, 5)
    const live = budgetUsage(budgets, (query) => windows.view(query), now, 5)
    // Decimal strings may differ in trailing zeros; the amounts and shares may not.
    const comparable = (usage: typeof live) =>
      usage.map((use) => ({ ...use, spent_usd: formatUsd(parseUsd(use.spent_usd)) }))
    expect(comparable(fromAudit)).toEqual(comparable(live))
    expect(fromAudit.filter((use) => use.budget === 'user-day')).toHaveLength(5)

    // By hand: the month is all of December (the 4th included), the day only the 3rd.
    const spentBy = (keep: (row: (typeof rows)[number]) => boolean) =>
      rows.filter(keep).reduce((sum, row) => sum + parseUsd(row.cost_usd!), 0n)
    const care = fromAudit.find((use) => use.budget === 'care-month' && use.tenant === 'default')!
    const careDecember = spentBy(
      (row) =>
        row.team_id === 'care' && row.tenant_id === 'default' && row.occurred_at >= '2026-12',
    )
    expect(parseUsd(care.spent_usd)).toBe(careDecember)
    expect(care.used_permille).toBe(Number((careDecember * 1000n) / parseUsd('5')))
    const late = rows.at(-1)!
    const lateUserDay = spentBy(
      (row) =>
        row.user_id === late.user_id &&
        row.tenant_id === late.tenant_id &&
        row.occurred_at.startsWith('2026-12-03'),
    )
    const [asked] = await auditedKeySpend(client)({
      dimension: 'user',
      window: 'day',
      asOf: now,
      tenant: late.tenant_id,
      key: late.user_id!,
    })
    expect(parseUsd(asked!.cost_usd)).toBe(lateUserDay)

    // One tenant's keys, as the live view lists them.
    const query = { dimension: 'user', window: 'day', asOf: now, tenant: 'acme', limit: 3 } as const
    const acme = await auditedKeySpend(client)(query)
    expect(
      acme.map(({ key, tenant, cost_usd }) => [key, tenant, formatUsd(parseUsd(cost_usd))]),
    ).toEqual(
      windows
        .view(query)
        .items.map(({ key, tenant, cost_usd }) => [key, tenant, formatUsd(parseUsd(cost_usd))]),
    )
    expect(acme).toHaveLength(3)
    await client.close()
  })
})
