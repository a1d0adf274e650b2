import { readdirSync, readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import type { Logger } from '../../platform/logger.ts'

/**
 * Versioned migrations: sql/migrations/NNNN_name.sql, applied in order, each once. Applied
 * versions are recorded in `schema_migrations` (append-only, like everything else).
 */

export const MIGRATIONS_DIR = new URL('../../sql/migrations/', import.meta.url)

export interface Migration {
  version: number
  name: string
  statements: string[]
  checksum: string
}

/** Splits a file into statements at semicolons that end a line; drops comment-only lines. */
export function splitStatements(sql: string): string[] {
  return sql
    .split('\n')
    .filter((line) => !line.trim().startsWith('--'))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter(Boolean)
}

export function readMigrations(dir: URL = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const text = readFileSync(new URL(file, dir), 'utf8')
      return {
        version: Number(file.slice(0, 4)),
        name: file.replace(/\.sql$/, ''),
        statements: splitStatements(text),
        checksum: createHash('sha256').update(text).digest('hex'),
      }
    })
}

/** Applies the migrations the store has not seen yet; returns the versions applied now. */
export async function migrate(
  client: ClickHouseClient,
  logger: Logger,
  migrations: Migration[] = readMigrations(),
): Promise<number[]> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations
      (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
      ENGINE = MergeTree ORDER BY version`,
  })
  const result = await client.query({
    query: 'SELECT version FROM schema_migrations',
    format: 'JSONEachRow',
  })
  const applied = new Set(
    (await result.json<{ version: number | string }>()).map((row) => Number(row.version)),
  )
  const done: number[] = []
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue
    for (const statement of migration.statements) await client.command({ query: statement })
    await client.insert({
      table: 'schema_migrations',
      values: [{ version: migration.version, name: migration.name, checksum: migration.checksum }],
      format: 'JSONEachRow',
    })
    logger.info({ version: migration.version, name: migration.name }, 'applied migration')
    done.push(migration.version)
  }
  return done
}
