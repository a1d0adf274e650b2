import type { ClickHouseClient } from '@clickhouse/client'
import type { Config } from '../../platform/config.ts'
import { toClickHouseTime } from './audit-row.ts'

/** The sections of the configuration that govern spend, audited when they change. */
export const GOVERNED_SECTIONS = [
  'budgets',
  'anomalies',
  'loops',
  'policy',
  'agents',
  'alerts',
] as const

/** JSON with keys sorted, so the same section always reads the same. */
function stable(value: unknown): string {
  const order = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(order)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((key) => [key, order((v as Record<string, unknown>)[key])]),
          )
        : v
  return JSON.stringify(order(value))
}

/**
 * Records each governed section of `config` that differs from the last one recorded (the
 * first start records them all), with `actor` and the section before and after. Secrets stay
 * as written (`${VARIABLE}`): the values from the environment never reach the table.
 */
export async function recordConfigChanges(
  client: ClickHouseClient,
  config: Config,
  actor: string,
  now: number,
): Promise<string[]> {
  const result = await client.query({
    query: `SELECT section, argMax(after, at) AS last FROM config_changes GROUP BY section`,
    format: 'JSONEachRow',
  })
  const last = new Map(
    (await result.json<{ section: string; last: string }>()).map((row) => [row.section, row.last]),
  )
  const changed = GOVERNED_SECTIONS.flatMap((section) => {
    const after = stable(config[section])
    const before = last.get(section)
    return before === after ? [] : [{ section, before: before ?? '', after }]
  })
  if (changed.length > 0)
    await client.insert({
      table: 'config_changes',
      format: 'JSONEachRow',
      values: changed.map((change) => ({ ...change, at: toClickHouseTime(now), actor })),
    })
  return changed.map((change) => change.section)
}
