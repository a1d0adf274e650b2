import { scryptSync } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { SECRET_FIELDS } from '../../alerts/routing.ts'
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
 * A secret that is only references the configuration resolves (`${VARIABLE}`,
 * `${file:PATH}`, as `resolveSecret` reads them): it can be kept as is.
 */
const REFERENCES_ONLY = /^(\$\{(file:[^}]+|[A-Za-z_][A-Za-z0-9_]*)\})+$/
const FINGERPRINT = '(written in the file; scrypt '

/**
 * A slow, stable fingerprint: the same secret reads the same in every process and at every
 * start (so a rotation shows), and guessing a weak secret from it costs a reader about 0.1 s
 * of CPU per guess, not a hash's nanoseconds.
 */
function fingerprint(secret: string, field: string): string {
  return scryptSync(secret, `spendguard config_changes ${field}`, 16, {
    N: 2 ** 15,
    maxmem: 64 * 1024 * 1024,
  }).toString('hex')
}

/**
 * The alerts section as the table may keep it: a secret written as references stays as
 * written; one written literally becomes a short fingerprint, so a change of it still shows
 * and its value does not reach a table every reader can query.
 */
function withoutSecrets(alerts: unknown): unknown {
  const copy = structuredClone<Record<string, Array<Record<string, unknown>>>>(alerts as never)
  for (const [list, fields] of Object.entries(SECRET_FIELDS))
    for (const receiver of copy[list] ?? [])
      for (const field of fields) {
        const value = receiver[field]
        if (typeof value !== 'string' || REFERENCES_ONLY.test(value)) continue
        if (value.startsWith(FINGERPRINT)) continue
        receiver[field] = `${FINGERPRINT}${fingerprint(value, `${list}.${field}`)})`
      }
  return copy
}

/**
 * Records each governed section of `config` that differs from the last one recorded (the
 * first start records them all), with `actor` and the section before and after. Secrets stay
 * as written when they are references (`${VARIABLE}`): the values from the environment never
 * reach the table; a secret written literally is kept as a fingerprint.
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
    const after = stable(section === 'alerts' ? withoutSecrets(config.alerts) : config[section])
    // A section recorded before secrets were fingerprinted reads as it would be recorded now.
    const recorded = last.get(section)
    const before =
      section === 'alerts' && recorded ? stable(withoutSecrets(JSON.parse(recorded))) : recorded
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
