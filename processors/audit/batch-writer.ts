import { createHash } from 'node:crypto'
import { isRetriable, SinkUnavailableError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import { retrying } from '../../platform/retry-policy.ts'
import type { AuditRow } from './audit-row.ts'
import { RowRejectedError, type AuditStore } from './audit-store.ts'
import type { RecentIds } from './recent-ids.ts'

/**
 * What became of the distinct event ids of one batch; an id in neither set was already in the
 * store or written by this process, so it is a duplicate.
 */
export interface BatchOutcome {
  written: Set<string>
  /** Refused by the store for good (a value it cannot hold): id -> reason. */
  refused: Map<string, string>
}

export interface BatchWriterOptions {
  store: AuditStore
  recent: RecentIds
  logger: Logger
  retryBaseMs: number
  retryMaxMs: number
  sleep: (ms: number) => Promise<void>
  /** Aborted at a shutdown deadline: retries stop and the batch fails. */
  signal: AbortSignal
  onRetry: () => void
}

/** The insert deduplication token of a batch: a hash of its sorted event ids. */
export function batchToken(rows: readonly AuditRow[]): string {
  const hash = createHash('sha256')
  for (const id of rows.map((row) => row.event_id).sort()) hash.update(id).update('\n')
  return `llm_calls:${hash.digest('hex')}`
}

/**
 * Writes one batch exactly once: drops ids seen in this process or already stored, inserts
 * the rest with a deduplication token, retries what may succeed later, and when the store
 * refuses the batch for good, splits it in halves until the refused rows are isolated, so
 * one bad row never blocks the others.
 */
export function createBatchWriter(options: BatchWriterOptions) {
  const { store, recent, logger, signal } = options

  async function withRetry<T>(action: string, run: () => Promise<T>): Promise<T> {
    try {
      return await retrying(run, {
        policy: { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs },
        sleep: options.sleep,
        giveUp: () => signal.aborted,
        onRetry(error, attempt, delayMs) {
          options.onRetry()
          logger.warn({ err: error, attempt: attempt + 1, delayMs }, `${action} failed; retrying`)
        },
      })
    } catch (error) {
      if (signal.aborted && isRetriable(error))
        throw new SinkUnavailableError(`${action} abandoned at shutdown`, error)
      throw error
    }
  }

  async function insertIsolating(
    rows: AuditRow[],
    refused: Map<string, string>,
  ): Promise<AuditRow[]> {
    try {
      await withRetry('audit insert', () => store.insertCalls(rows, batchToken(rows)))
      return rows
    } catch (error) {
      // Only a refusal that blames a value is narrowed down to its row; anything else (the
      // store itself refuses) fails the batch, which then stays uncommitted.
      if (!(error instanceof RowRejectedError)) throw error
      if (rows.length === 1) {
        refused.set(rows[0]!.event_id, error instanceof Error ? error.message : String(error))
        return []
      }
      const half = Math.ceil(rows.length / 2)
      const left = await insertIsolating(rows.slice(0, half), refused)
      const right = await insertIsolating(rows.slice(half), refused)
      // Every row refused on its own: the cause is not one bad value, hold the batch back.
      if (left.length + right.length === 0) throw error
      return [...left, ...right]
    }
  }

  return async function writeBatch(rows: readonly AuditRow[]): Promise<BatchOutcome> {
    const outcome: BatchOutcome = { written: new Set(), refused: new Map() }
    const candidates = new Map<string, AuditRow>()
    for (const row of rows) {
      if (!recent.has(row.event_id) && !candidates.has(row.event_id))
        candidates.set(row.event_id, row)
    }
    const existing = await withRetry('event id lookup', () =>
      store.existingEventIds([...candidates.keys()]),
    )
    for (const id of existing) candidates.delete(id)
    const written =
      candidates.size > 0 ? await insertIsolating([...candidates.values()], outcome.refused) : []
    for (const row of written) {
      outcome.written.add(row.event_id)
      recent.add(row.event_id)
    }
    for (const id of existing) recent.add(id)
    return outcome
  }
}
