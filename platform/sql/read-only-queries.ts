import type { ClickHouseClient, ClickHouseSettings } from '@clickhouse/client'
import { clickHouseErrorCode } from '../clickhouse.ts'
import { SpendGuardError } from '../errors.ts'
import {
  checkStatement,
  deniedFunctionNames,
  RefusedStatement,
  type RuleContext,
} from './read-only-rules.ts'
import { parseAstDump } from './statement-ast.ts'

/**
 * The one read-only query surface over the audit, shared by `spendguard sql`, the HTTP API and
 * every later reader. A statement reaches the engine only after ClickHouse itself has parsed
 * it as exactly one statement and its parse passed the read-only rules; it then runs under the
 * configured limits in a read-only session.
 */

/** Resource limits of one query; 0 means no limit of that kind. */
export interface QueryLimits {
  maxExecutionTimeSeconds: number
  maxResultRows: number
  maxMemoryUsageBytes: number
  maxRowsToRead: number
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxExecutionTimeSeconds: 30,
  maxResultRows: 100_000,
  maxMemoryUsageBytes: 1024 * 1024 * 1024,
  maxRowsToRead: 0,
}

/** A statement refused by the read-only rules; the message says why. */
export class QueryRefusedError extends SpendGuardError {
  constructor(message: string) {
    super(`query refused: ${message}`, { code: 'QUERY_REFUSED', retriable: false })
  }
}

/** The engine answered with an error (unknown table, syntax error, a limit reached). */
export class QueryFailedError extends SpendGuardError {
  constructor(message: string, clickHouseCode: string, cause: unknown) {
    super(`query failed: ${message}`, { code: `CLICKHOUSE_${clickHouseCode}`, cause })
  }
}

export interface CheckedStatement {
  /** ClickHouse's own single-line rendering of the statement: what is executed. */
  statement: string
  /** The FORMAT the statement names, if any; it wins over the caller's default. */
  format?: string
}

export interface QueryOutput {
  text: string
  /** The ClickHouse output format of `text`. */
  format: string
}

/** Values of `{name:Type}` placeholders, as text; the engine converts them to their types. */
export type QueryParams = Readonly<Record<string, string>>

export interface ReadOnlyQueries {
  /** Checks the statement with its parameters bound (the rules see what will run). */
  check(query: string, params?: QueryParams): Promise<CheckedStatement>
  /** Checks and runs; `defaultFormat` applies when the statement names no FORMAT. */
  run(query: string, defaultFormat: string, params?: QueryParams): Promise<QueryOutput>
}

// A placeholder that names a table or column would let a value choose what is read.
const IDENTIFIER_PLACEHOLDER = /\{\s*[\w]+\s*:\s*Identifier\s*\}/i

export interface ReadOnlyQueriesOptions {
  /** A client used for nothing else: on chDB its session is made read-only for good. */
  client: ClickHouseClient
  kind: 'server' | 'embedded'
  limits?: QueryLimits
}

function limitSettings(limits: QueryLimits): ClickHouseSettings {
  const settings: ClickHouseSettings = {}
  if (limits.maxExecutionTimeSeconds > 0)
    settings.max_execution_time = limits.maxExecutionTimeSeconds
  if (limits.maxResultRows > 0) {
    settings.max_result_rows = String(limits.maxResultRows)
    settings.result_overflow_mode = 'throw'
  }
  if (limits.maxMemoryUsageBytes > 0) settings.max_memory_usage = String(limits.maxMemoryUsageBytes)
  if (limits.maxRowsToRead > 0) settings.max_rows_to_read = String(limits.maxRowsToRead)
  return settings
}

async function streamText(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks).toString('utf8')
}

function engineError(error: unknown): never {
  const code = clickHouseErrorCode(error)
  if (code !== undefined) throw new QueryFailedError((error as Error).message, code, error)
  throw error
}

export function createReadOnlyQueries(options: ReadOnlyQueriesOptions): ReadOnlyQueries {
  const { client } = options
  const limits = limitSettings(options.limits ?? DEFAULT_QUERY_LIMITS)
  // A server takes readonly per request, limits beside it. chDB applies settings as SET on a
  // session that outlives the query, so its session is put in readonly = 2 once (reads and
  // setting changes only; `readonly` itself can no longer be lowered).
  const perQuery: ClickHouseSettings =
    options.kind === 'server' ? { ...limits, readonly: '1' } : limits
  let ready: Promise<Omit<RuleContext, 'tables'>> | undefined

  async function prepare(): Promise<Omit<RuleContext, 'tables'>> {
    if (options.kind === 'embedded') await client.command({ query: 'SET readonly = 2' })
    // The engine's own list of table functions joins the built-in one, so a table function
    // added by a newer ClickHouse is refused too. SpendGuard's database is the session's.
    const result = await client.query({
      query:
        "SELECT currentDatabase() AS database, arrayStringConcat((SELECT groupArray(name) FROM system.table_functions), ',') AS names",
      format: 'JSONEachRow',
      clickhouse_settings: perQuery,
    })
    const [row] = await result.json<{ database: string; names: string }>()
    return { database: row!.database, deniedFunctions: deniedFunctionNames(row!.names.split(',')) }
  }

  /** SpendGuard's tables, read for each statement so a table added by a migration is known. */
  async function tablesOf(database: string): Promise<Set<string>> {
    const result = await client.query({
      query: 'SELECT name FROM system.tables WHERE database = {database:String}',
      query_params: { database },
      format: 'JSONEachRow',
      clickhouse_settings: perQuery,
    })
    return new Set((await result.json<{ name: string }>()).map((row) => row.name))
  }

  async function check(query: string, params: QueryParams = {}): Promise<CheckedStatement> {
    ready ??= prepare().catch((error: unknown) => {
      ready = undefined
      return engineError(error)
    })
    const base = await ready
    const context: RuleContext = {
      ...base,
      tables: await tablesOf(base.database).catch(engineError),
    }
    if (query.trim() === '') throw new QueryRefusedError('the query is empty')
    let statement: string
    try {
      // The text goes to the parser as a bound value, never spliced into SQL; a second
      // statement, or anything that is not one valid statement, fails here.
      const parsed = await client.query({
        query: 'SELECT formatQuerySingleLine({query:String}) AS statement',
        query_params: { query },
        format: 'JSONEachRow',
        clickhouse_settings: perQuery,
      })
      statement = (await parsed.json<{ statement: string }>())[0]!.statement
    } catch (error) {
      const code = clickHouseErrorCode(error)
      if (code === undefined) throw error
      throw new QueryRefusedError(`not one valid statement: ${(error as Error).message}`)
    }
    if (IDENTIFIER_PLACEHOLDER.test(statement))
      throw new QueryRefusedError(
        'a parameter of type Identifier is not allowed: parameters may only stand for values',
      )
    // ClickHouse's own parse, with the parameters substituted. Only parsing happens here; the engine refuses what it cannot
    // even explain in a read-only session (a SETTINGS clause that lowers readonly).
    const dump = await client
      .exec({
        query: `EXPLAIN AST ${statement}`,
        query_params: params,
        clickhouse_settings: { ...perQuery, default_format: 'TabSeparated' },
      })
      .catch((error: unknown) => {
        if (clickHouseErrorCode(error) === undefined) throw error
        throw new QueryRefusedError((error as Error).message)
      })
    const root = parseAstDump(await streamText(dump.stream))
    try {
      const shape = checkStatement(root, statement, context)
      return shape.format === undefined ? { statement } : { statement, format: shape.format }
    } catch (error) {
      if (error instanceof RefusedStatement) throw new QueryRefusedError(error.message)
      throw error
    }
  }

  return {
    check,
    async run(query, defaultFormat, params = {}) {
      const checked = await check(query, params)
      const format = checked.format ?? defaultFormat
      const result = await client
        .exec({
          query: checked.statement,
          query_params: params,
          // Any engine format name may come from the statement; the engine checks it.
          clickhouse_settings: { ...perQuery, default_format: format as 'JSON' },
        })
        .catch(engineError)
      return { text: await streamText(result.stream), format }
    },
  }
}
