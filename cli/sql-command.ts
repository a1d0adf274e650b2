import type { Config } from '../platform/config.ts'
import { ConfigError, SpendGuardError } from '../platform/errors.ts'
import { createAuditStoreClient } from '../platform/clickhouse.ts'
import { ENGINE_FORMATS } from '../platform/sql/output-formats.ts'
import {
  createReadOnlyQueries,
  type QueryOutput,
  type QueryParams,
} from '../platform/sql/read-only-queries.ts'
import { callPipeline, findRunningPipeline } from './running-pipeline.ts'
import { escapeControlCharacters, renderTable } from './text-table.ts'

export type SqlFormat = 'table' | 'json' | 'tsv' | 'csv'

/** The engine format each CLI format asks for, and its name in a POST /v1/sql body. */
const FORMATS = {
  table: { engine: 'JSONCompact', http: 'json_compact' },
  json: { engine: ENGINE_FORMATS.json, http: 'ndjson' },
  tsv: { engine: ENGINE_FORMATS.tsv, http: 'tsv' },
  csv: { engine: ENGINE_FORMATS.csv, http: 'csv' },
} as const

/**
 * Runs the query where the audit is: through the API of the `spendguard start` that holds the
 * embedded store (it is locked by that process), or on the store itself.
 */
export async function runQuery(
  config: Config,
  query: string,
  format: SqlFormat,
  params: QueryParams,
): Promise<QueryOutput> {
  const running = config.clickhouse.url ? undefined : findRunningPipeline(config.clickhouse.dataDir)
  if (running) {
    try {
      const response = await callPipeline(running, '/v1/sql', {
        method: 'POST',
        body: { query, format: FORMATS[format].http, params },
      })
      return {
        text: await response.text(),
        format: response.headers.get('x-spendguard-format') ?? FORMATS[format].engine,
      }
    } catch (error) {
      // A record left by a killed process whose pid now belongs to another: open the store.
      if (!(error instanceof SpendGuardError && error.code === 'NOT_RUNNING')) throw error
    }
  }
  // Reading must not create a store: a mistyped --data-dir would answer "Unknown table".
  const { client, target } = createAuditStoreClient(config.clickhouse, {
    create: false,
    role: 'reader',
  })
  try {
    const queries = createReadOnlyQueries({ client, kind: target.kind, limits: config.query })
    return await queries.run(query, FORMATS[format].engine, params)
  } finally {
    await client.close()
  }
}

/**
 * `spendguard sql "<query>"`: one read-only query over the audit. Only a read of SpendGuard's
 * tables reaches the engine (see platform/sql), under the configured limits. A FORMAT clause
 * in the query wins over --format; the output is printed as the engine wrote it.
 */
export async function runSql(
  config: Config,
  query: string,
  format: SqlFormat,
  options: { terminal?: boolean; params?: QueryParams } = {},
): Promise<string> {
  const output = await runQuery(config, query, format, options.params ?? {})
  // Machine formats go out as the engine wrote them, unless a person's terminal shows them.
  const raw = (text: string) =>
    options.terminal ? escapeControlCharacters(text, { keepNewlines: true }) : text
  if (format !== 'table' || output.format !== 'JSONCompact') return raw(output.text)
  const body = JSON.parse(output.text) as {
    meta?: Array<{ name: string }>
    data: unknown[][]
  }
  const only = body.data.length === 1 && body.meta?.length === 1 ? body.data[0]![0] : undefined
  // A single value (SHOW CREATE TABLE, a count) prints as itself, newlines and all.
  if (typeof only === 'string') return `${escapeControlCharacters(only, { keepNewlines: true })}\n`
  if (typeof only === 'number') return `${only}\n`
  return renderTable(body.meta?.map((column) => column.name) ?? [], body.data)
}

/** `--param name=value` options as query parameters. */
export function parseParams(values: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {}
  for (const value of values) {
    const match = /^(\w+)=(.*)$/s.exec(value)
    if (!match)
      throw new ConfigError(
        `--param: "${value}" is not name=value (for a {name:Type} in the query)`,
      )
    params[match[1]!] = match[2]!
  }
  return params
}
