import { existsSync, mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import {
  ClickHouseLogLevel,
  createClient,
  type ClickHouseClient,
  type ClickHouseClientConfigOptions as ClientOptions,
  type ClickHouseSettings,
} from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import type { Config } from './config.ts'
import { StoreLockedError, StoreMissingError, SpendGuardError } from './errors.ts'

export type { ClickHouseClient }

/**
 * Settings every SpendGuard connection uses: decimals and 64-bit integers come back as
 * strings so money and counts are never squeezed through a float.
 */
export const CLICKHOUSE_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_decimals: 1,
  output_format_json_quote_64bit_integers: 1,
  date_time_output_format: 'iso',
}

/** chDB's raw insert of a payload already in an insert format. */
export type RawInsert = (params: {
  table: string
  values: Buffer | string
  format: 'JSONCompactEachRow' | 'JSONEachRow'
  columns?: readonly string[]
  settings?: Record<string, string | number | boolean>
}) => Promise<unknown>

export interface AuditStoreTarget {
  /** 'server' for a ClickHouse URL, 'embedded' for chDB under a data directory. */
  kind: 'server' | 'embedded'
  /** URL or absolute data directory, for log lines and messages. */
  location: string
}

export interface AuditStoreClientOptions {
  /**
   * Create the embedded store's data directory when it is missing. Default true; readers pass
   * false so a mistyped path fails with StoreMissingError instead of leaving an empty store.
   */
  create?: boolean
  /**
   * Whose credentials a server connection uses: the writer (username/password, the default),
   * the reader or the admin (each falling back to the writer's). chDB has no users.
   */
  role?: 'writer' | 'reader' | 'admin'
}

/**
 * Creates the @clickhouse/client for the audit store: a server when `clickhouse.url` is set,
 * otherwise chDB in-process under `clickhouse.dataDir`. Everything downstream uses the same
 * client API, so the two share one code path.
 */
export function createAuditStoreClient(
  config: Config['clickhouse'],
  options: AuditStoreClientOptions = {},
): {
  client: ClickHouseClient
  target: AuditStoreTarget
  /**
   * Embedded only: chDB's own insert, which hands the payload to the engine's parser without
   * the client's per-row encoding (several times faster for the audit's inserts).
   */
  rawInsert?: RawInsert
} {
  if (config.url) {
    const role = options.role ?? 'writer'
    const user =
      (role === 'reader' ? config.reader : role === 'admin' ? config.admin : undefined) ?? config
    return {
      client: createClient({
        url: config.url,
        username: user.username,
        password: user.password,
        database: config.database,
        clickhouse_settings: CLICKHOUSE_SETTINGS,
        // Every failed request is thrown to its caller, which says what failed and why: the
        // client's own console log would print it a second time, with its settings.
        log: { level: ClickHouseLogLevel.OFF },
      }),
      target: { kind: 'server', location: config.url },
    }
  }
  const dataDir = resolve(config.dataDir)
  if (options.create ?? true) mkdirSync(dataDir, { recursive: true })
  else if (!existsSync(dataDir)) throw new StoreMissingError(dataDir)
  let connection: ReturnType<typeof createChdbConnection>
  try {
    connection = createChdbConnection({ path: dataDir })
  } catch (cause) {
    if (isChdbConnectionFailure(cause)) throw new StoreLockedError(dataDir, cause)
    throw new SpendGuardError(`cannot open the embedded audit store in ${dataDir}`, {
      code: 'STORE_OPEN_FAILED',
      cause,
    })
  }
  return {
    client: createClient({
      // chdb types the connection against its own copy of @clickhouse/client-common; the
      // shapes are the same at run time.
      connection: connection as unknown as NonNullable<ClientOptions['connection']>,
      clickhouse_settings: CLICKHOUSE_SETTINGS,
    }),
    target: { kind: 'embedded', location: dataDir },
    rawInsert: (params) => connection.chdb.rawInsert(params),
  }
}

/**
 * ClickHouse's numeric error code ("60") carried by an engine error, server or chDB alike;
 * undefined for anything else (socket errors carry Node's "ECONNREFUSED" and the like).
 */
export function clickHouseErrorCode(error: unknown): string | undefined {
  const carrier = error as { code?: unknown; clickhouseCode?: unknown } | null
  // chDB's own calls (its raw insert) carry the engine's code as a number.
  if (typeof carrier?.clickhouseCode === 'number') return String(carrier.clickhouseCode)
  const code = carrier?.code
  return typeof code === 'string' && /^\d+$/.test(code) ? code : undefined
}

/**
 * chDB reports a data directory held by another process as a connection failure with the
 * stable code CHDB_CONNECTION (the engine prints "Cannot lock file .../status").
 */
function isChdbConnectionFailure(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === 'CHDB_CONNECTION'
  )
}
