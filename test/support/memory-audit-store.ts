import { SinkUnavailableError } from '../../platform/errors.ts'
import type { AuditRow } from '../../processors/audit/audit-row.ts'
import { RowRejectedError, type AuditStore } from '../../processors/audit/audit-store.ts'

/**
 * An in-memory AuditStore that behaves like ClickHouse insert deduplication: an insert whose
 * token was seen before is a no-op. Faults can be scripted per call.
 */
export class MemoryAuditStore implements AuditStore {
  readonly rows: AuditRow[] = []
  readonly tokens: string[] = []
  readonly #seenTokens = new Set<string>()
  /** Scripted outcomes of the next inserts: 'fail' throws before writing, 'lose-ack' writes then throws. */
  readonly insertFaults: Array<'fail' | 'lose-ack' | 'reject'> = []
  /** While true every insert fails as if the store were down. */
  down = false
  /** Rows the store refuses for good, as ClickHouse refuses a value it cannot hold. */
  poison: (row: AuditRow) => boolean = () => false

  insertCalls(rows: readonly AuditRow[], dedupToken: string): Promise<void> {
    this.tokens.push(dedupToken)
    if (this.down) return Promise.reject(new SinkUnavailableError('store down'))
    if (rows.some(this.poison))
      return Promise.reject(new RowRejectedError('Decimal value is too big'))
    const fault = this.insertFaults.shift()
    if (fault === 'fail') return Promise.reject(new SinkUnavailableError('store down'))
    if (fault === 'reject') return Promise.reject(new Error('column type mismatch'))
    if (!this.#seenTokens.has(dedupToken)) {
      this.#seenTokens.add(dedupToken)
      this.rows.push(...rows)
    }
    if (fault === 'lose-ack')
      return Promise.reject(new SinkUnavailableError('connection reset after insert'))
    return Promise.resolve()
  }

  existingEventIds(eventIds: readonly string[]): Promise<Set<string>> {
    const present = new Set(this.rows.map((row) => row.event_id))
    return Promise.resolve(new Set(eventIds.filter((id) => present.has(id))))
  }
}
