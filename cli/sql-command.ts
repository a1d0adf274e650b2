import type { Config } from '../platform/config.ts'
import { clickHouseErrorCode, createAuditStoreClient } from '../platform/clickhouse.ts'
import { SpendGuardError } from '../platform/errors.ts'
import { renderTable } from './text-table.ts'

/**
 * `spendguard sql "<query>"`: runs one read-only query over the audit and returns its text.
 * The session is read-only (`readonly = 1`), so nothing typed here can change the audit.
 */
export async function runSql(
  config: Config,
  query: string,
  format: 'table' | 'json' | 'tsv',
): Promise<string> {
  // Reading must not create a store: a mistyped --data-dir would answer "Unknown table".
  const { client } = createAuditStoreClient(config.clickhouse, { create: false })
  try {
    const settings = { readonly: '1' } as const
    if (format === 'json') {
      return await (
        await client.query({ query, format: 'JSONEachRow', clickhouse_settings: settings })
      ).text()
    }
    if (format === 'tsv') {
      return await (
        await client.query({
          query,
          format: 'TabSeparatedWithNames',
          clickhouse_settings: settings,
        })
      ).text()
    }
    const result = await client.query({
      query,
      format: 'JSONCompact',
      clickhouse_settings: settings,
    })
    const body = await result.json<unknown[]>()
    const only =
      body.data.length === 1 && body.meta?.length === 1 ? (body.data[0] as unknown[])[0] : undefined
    // A single value (SHOW CREATE TABLE, a count) prints as itself, newlines and all.
    if (typeof only === 'string' || typeof only === 'number') return `${only}\n`
    return renderTable(body.meta?.map((column) => column.name) ?? [], body.data)
  } catch (error) {
    const code = clickHouseErrorCode(error)
    if (code !== undefined) {
      throw new SpendGuardError(`query failed: ${(error as Error).message}`, {
        code: `CLICKHOUSE_${code}`,
        cause: error,
      })
    }
    throw error
  } finally {
    await client.close()
  }
}
