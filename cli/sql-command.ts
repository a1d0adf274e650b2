import type { Config } from '../platform/config.ts'
import { createAuditStoreClient } from '../platform/clickhouse.ts'
import { ENGINE_FORMATS } from '../platform/sql/output-formats.ts'
import { createReadOnlyQueries } from '../platform/sql/read-only-queries.ts'
import { escapeControlCharacters, renderTable } from './text-table.ts'

export type SqlFormat = 'table' | 'json' | 'tsv' | 'csv'

/**
 * `spendguard sql "<query>"`: one read-only query over the audit. Only a read of SpendGuard's
 * tables reaches the engine (see platform/sql), under the configured limits. A FORMAT clause
 * in the query wins over --format; the output is printed as the engine wrote it.
 */
export async function runSql(
  config: Config,
  query: string,
  format: SqlFormat,
  options: { terminal?: boolean } = {},
): Promise<string> {
  // Reading must not create a store: a mistyped --data-dir would answer "Unknown table".
  const { client, target } = createAuditStoreClient(config.clickhouse, {
    create: false,
    role: 'reader',
  })
  try {
    const queries = createReadOnlyQueries({ client, kind: target.kind, limits: config.query })
    // Machine formats go out as the engine wrote them, unless a person's terminal shows them.
    const raw = (text: string) =>
      options.terminal ? escapeControlCharacters(text, { keepNewlines: true }) : text
    if (format !== 'table') return raw((await queries.run(query, ENGINE_FORMATS[format])).text)
    const output = await queries.run(query, 'JSONCompact')
    if (output.format !== 'JSONCompact') return raw(output.text)
    const body = JSON.parse(output.text) as {
      meta?: Array<{ name: string }>
      data: unknown[][]
    }
    const only = body.data.length === 1 && body.meta?.length === 1 ? body.data[0]![0] : undefined
    // A single value (SHOW CREATE TABLE, a count) prints as itself, newlines and all.
    if (typeof only === 'string')
      return `${escapeControlCharacters(only, { keepNewlines: true })}\n`
    if (typeof only === 'number') return `${only}\n`
    return renderTable(body.meta?.map((column) => column.name) ?? [], body.data)
  } finally {
    await client.close()
  }
}
