import type { ClickHouseClient } from '@clickhouse/client'
import { clickHouseErrorCode, type RawInsert } from '../../platform/clickhouse.ts'
import { SinkUnavailableError, SpendGuardError } from '../../platform/errors.ts'
import type { AuditRow } from './audit-row.ts'

/** The audit store as the sink sees it: append rows, ask which ids are already there. */
export interface AuditStore {
  /**
   * Appends rows. The same `dedupToken` with the same rows is written once, however often
   * it is retried (ClickHouse insert deduplication).
   */
  insertCalls(rows: readonly AuditRow[], dedupToken: string): Promise<void>
  /** The subset of `eventIds` that already have a row. */
  existingEventIds(eventIds: readonly string[]): Promise<Set<string>>
}

/**
 * ClickHouse error codes worth retrying: the server is overloaded, slow or briefly unable.
 * Anything else from the server (a bad column, a type error) will fail the same way again.
 */
const RETRIABLE_CLICKHOUSE_CODES = new Set([
  '3', // UNEXPECTED_END_OF_FILE
  '159', // TIMEOUT_EXCEEDED
  '164', // READONLY
  '202', // TOO_MANY_SIMULTANEOUS_QUERIES
  '203', // NO_FREE_CONNECTION
  '209', // SOCKET_TIMEOUT
  '210', // NETWORK_ERROR
  '241', // MEMORY_LIMIT_EXCEEDED
  '242', // TABLE_IS_READ_ONLY
  '252', // TOO_MANY_PARTS
  '319', // UNKNOWN_STATUS_OF_INSERT
  '425', // SYSTEM_ERROR
])

/**
 * ClickHouse error codes that blame the data of an insert, not the store: one bad value among
 * good rows. Only these make the sink look for the bad row; any other refusal (disk full,
 * access denied, a missing column) holds the whole batch back.
 */
const ROW_DATA_CLICKHOUSE_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '25', // CANNOT_PARSE_ESCAPE_SEQUENCE
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '53', // TYPE_MISMATCH
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '321', // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  '407', // DECIMAL_OVERFLOW
])

/** The store refused an insert because of a value in it; retrying the same rows fails again. */
export class RowRejectedError extends SpendGuardError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'AUDIT_ROW_REJECTED', retriable: false, cause })
  }
}

/** Maps a thrown value from the client to our error tree, by ClickHouse's numeric code. */
export function classifyStoreError(error: unknown, action: string): SpendGuardError {
  if (error instanceof SpendGuardError) return error
  const code = clickHouseErrorCode(error)
  if (code === undefined || RETRIABLE_CLICKHOUSE_CODES.has(code)) {
    return new SinkUnavailableError(`audit store unavailable (${action})`, error)
  }
  const message = error instanceof Error ? error.message : String(error)
  if (ROW_DATA_CLICKHOUSE_CODES.has(code)) {
    return new RowRejectedError(`audit store refused a value (${action}): ${message}`, error)
  }
  return new SpendGuardError(`audit store refused to ${action}: ${message}`, {
    code: `CLICKHOUSE_${code}`,
    retriable: false,
    cause: error,
  })
}

/** A payload buffer grown past this is not kept for the next insert. */
const KEPT_BYTES = 32 << 20

/**
 * The text of an embedded insert, one JSONCompactEachRow line per row, written row by row into
 * a buffer kept from one insert to the next. Joining the lines into one string first made a
 * string of megabytes per insert, then a copy of it: twice the work, and garbage the collector
 * had to move out of the large-object space. Inserts run one at a time (the sink's lane), and
 * the buffer is not touched until the engine has read it.
 */
class PayloadBuffer {
  #bytes = Buffer.allocUnsafe(1 << 20)
  #busy = false

  fill(rows: readonly AuditRow[]): Buffer {
    if (this.#busy) throw new Error('an embedded insert is already in flight')
    this.#busy = true
    let at = 0
    for (const row of rows) {
      const line = JSON.stringify(Object.values(row))
      // Three bytes per UTF-16 unit is the most UTF-8 can take, and one for the newline.
      if (at + line.length * 3 + 1 > this.#bytes.length) {
        const grown = Buffer.allocUnsafe(Math.max(this.#bytes.length * 2, at + line.length * 3 + 1))
        this.#bytes.copy(grown, 0, 0, at)
        this.#bytes = grown
      }
      at += this.#bytes.write(line, at, 'utf8')
      this.#bytes[at++] = 0x0a
    }
    return this.#bytes.subarray(0, at)
  }

  release(): void {
    this.#busy = false
    // One batch far larger than the others does not keep its buffer for good.
    if (this.#bytes.length > KEPT_BYTES) this.#bytes = Buffer.allocUnsafe(1 << 20)
  }
}

/**
 * The audit store over `@clickhouse/client` (server or chDB). Embedded, `rawInsert` (chDB's
 * own insert) writes the rows as JSONCompactEachRow straight to the engine's parser, several
 * times faster than the client's per-row encoding; reads and every server stay on the client.
 */
export function createClickHouseAuditStore(
  client: ClickHouseClient,
  rawInsert?: RawInsert,
): AuditStore {
  const payload = new PayloadBuffer()
  return {
    async insertCalls(rows, dedupToken) {
      if (rows.length === 0) return
      const settings = {
        insert_deduplication_token: dedupToken,
        insert_deduplicate: 1,
        // The rollups and the id index are fed by materialized views: a deduplicated
        // insert must not reach them either.
        deduplicate_blocks_in_dependent_materialized_views: 1,
      } as const
      try {
        if (rawInsert) {
          // Every row comes from toAuditRow, so every row has the same keys in the same order.
          const values = payload.fill(rows)
          try {
            await rawInsert({
              table: 'llm_calls',
              format: 'JSONCompactEachRow',
              columns: Object.keys(rows[0]!),
              values,
              settings: {
                ...settings,
                // One parser thread: the two cores are busy with the pipeline, and handing
                // chunks between threads cost 3 us of CPU per row more (measured on chDB).
                input_format_parallel_parsing: 0,
                // The views on llm_calls take the block in parallel, not one after the other:
                // shorter inserts for the same CPU (ADR 0006; measured on chDB only).
                parallel_view_processing: 1,
              },
            })
          } finally {
            payload.release()
          }
        } else {
          await client.insert({
            table: 'llm_calls',
            values: rows as AuditRow[],
            format: 'JSONEachRow',
            clickhouse_settings: settings,
          })
        }
      } catch (error) {
        throw classifyStoreError(error, 'insert llm_calls')
      }
    },
    async existingEventIds(eventIds) {
      if (eventIds.length === 0) return new Set()
      const lookUp = async (table: string, ids: readonly string[]) => {
        const result = await client.query({
          query: `SELECT DISTINCT toString(event_id) AS id FROM ${table} WHERE event_id IN {ids:Array(UUID)}`,
          query_params: { ids },
          format: 'JSONEachRow',
        })
        return (await result.json<{ id: string }>()).map((row) => row.id)
      }
      try {
        // llm_call_ids is ordered by id: the lookup stays cheap as the audit grows. It says
        // "no" for sure; an id it holds is confirmed in the audit itself, since an insert cut
        // short can leave an id in the index whose row never reached llm_calls (found ids are
        // few: resends).
        const indexed = await lookUp('llm_call_ids', eventIds)
        return new Set(indexed.length === 0 ? [] : await lookUp('llm_calls', indexed))
      } catch (error) {
        throw classifyStoreError(error, 'look up event ids')
      }
    },
  }
}
