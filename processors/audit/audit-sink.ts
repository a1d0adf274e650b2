import { createHash } from 'node:crypto'
import type { Logger } from '../../platform/logger.ts'
import { isRetriable } from '../../platform/errors.ts'
import type { AuditRow } from './audit-row.ts'
import type { AuditStore } from './audit-store.ts'
import { RecentIds } from './recent-ids.ts'

/**
 * Buffers audit rows and writes them in batches, on size or on time. `write` resolves only
 * when its rows are persisted, so a caller that commits input offsets after `await write()`
 * never commits what the store does not hold.
 *
 * Exactly-once rows, three layers (docs/adr/0002-dedup.md):
 * 1. ids written or pending in this process are dropped at once (bounded memory);
 * 2. before each insert the store is asked which ids of the batch it already has (covers a
 *    restart that replays uncommitted input in different batch boundaries);
 * 3. each insert carries a deduplication token derived from its event ids, so a retried
 *    insert whose first attempt landed is not written twice.
 */
export interface AuditSink {
  /** Resolves when all `rows` are persisted (or known duplicates); rejects on a fault that retrying will not fix. */
  write(rows: readonly AuditRow[]): Promise<WriteResult>
  /** Writes what is buffered now. */
  flush(): Promise<void>
  /** Flushes and stops the timer; later writes are refused. */
  close(): Promise<void>
  stats(): AuditSinkStats
}

export interface WriteResult {
  written: number
  duplicates: number
}

export interface AuditSinkStats {
  rowsWritten: number
  duplicatesDropped: number
  batchesWritten: number
  insertRetries: number
  buffered: number
}

export interface AuditSinkOptions {
  store: AuditStore
  logger: Logger
  batchSize?: number
  flushIntervalMs?: number
  recentIdsCapacity?: number
  /** Backoff between retries of a retriable failure: base, doubling, capped. */
  retryBaseMs?: number
  retryMaxMs?: number
  /** Injected for tests: how the sink waits. */
  sleep?: (ms: number) => Promise<void>
}

interface Pending {
  rows: readonly AuditRow[]
  resolve: (result: WriteResult) => void
  reject: (error: unknown) => void
  result: WriteResult
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The insert deduplication token of a batch: a hash of its sorted event ids. */
export function batchToken(rows: readonly AuditRow[]): string {
  const hash = createHash('sha256')
  for (const id of rows.map((row) => row.event_id).sort()) hash.update(id).update('\n')
  return `llm_calls:${hash.digest('hex')}`
}

export function createAuditSink(options: AuditSinkOptions): AuditSink {
  const { store, logger } = options
  const batchSize = options.batchSize ?? 1000
  const flushIntervalMs = options.flushIntervalMs ?? 1000
  const retryBaseMs = options.retryBaseMs ?? 200
  const retryMaxMs = options.retryMaxMs ?? 30_000
  const sleep = options.sleep ?? defaultSleep
  const recent = new RecentIds(options.recentIdsCapacity ?? 200_000)
  const stats: AuditSinkStats = {
    rowsWritten: 0,
    duplicatesDropped: 0,
    batchesWritten: 0,
    insertRetries: 0,
    buffered: 0,
  }
  let queue: Pending[] = []
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()
  let closed = false

  async function withRetry<T>(action: string, run: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await run()
      } catch (error) {
        if (!isRetriable(error) || closed) throw error
        const delay = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(attempt, 16))
        stats.insertRetries++
        logger.warn(
          { err: error, attempt: attempt + 1, delayMs: delay },
          `${action} failed; retrying`,
        )
        await sleep(delay)
      }
    }
  }

  async function writeBatch(batch: Pending[]): Promise<void> {
    const seen = new Set<string>()
    const candidates: AuditRow[] = []
    for (const pending of batch) {
      for (const row of pending.rows) {
        if (seen.has(row.event_id) || recent.has(row.event_id)) {
          pending.result.duplicates++
          continue
        }
        seen.add(row.event_id)
        candidates.push(row)
      }
    }
    const existing = await withRetry('event id lookup', () =>
      store.existingEventIds(candidates.map((row) => row.event_id)),
    )
    const rows = candidates.filter((row) => !existing.has(row.event_id))
    if (existing.size > 0) {
      for (const pending of batch) {
        for (const row of pending.rows) if (existing.has(row.event_id)) pending.result.duplicates++
      }
    }
    if (rows.length > 0) {
      const token = batchToken(rows)
      await withRetry('audit insert', () => store.insertCalls(rows, token))
      stats.batchesWritten++
    }
    for (const row of candidates) recent.add(row.event_id)
    stats.rowsWritten += rows.length
    for (const pending of batch) {
      pending.result.written = pending.rows.length - pending.result.duplicates
      stats.duplicatesDropped += pending.result.duplicates
    }
  }

  function takeBatch(): Pending[] {
    const batch = queue
    queue = []
    stats.buffered = 0
    if (timer) clearTimeout(timer)
    timer = undefined
    return batch
  }

  function scheduleFlush(): Promise<void> {
    const batch = takeBatch()
    if (batch.length === 0) return flushing
    flushing = flushing.then(async () => {
      try {
        await writeBatch(batch)
        for (const pending of batch) pending.resolve(pending.result)
      } catch (error) {
        logger.error(
          { err: error, rows: batch.reduce((n, p) => n + p.rows.length, 0) },
          'audit batch not written',
        )
        for (const pending of batch) pending.reject(error)
      }
    })
    return flushing
  }

  return {
    write(rows) {
      if (closed) return Promise.reject(new Error('audit sink is closed'))
      if (rows.length === 0) return Promise.resolve({ written: 0, duplicates: 0 })
      return new Promise<WriteResult>((resolve, reject) => {
        queue.push({ rows, resolve, reject, result: { written: 0, duplicates: 0 } })
        stats.buffered += rows.length
        if (stats.buffered >= batchSize) void scheduleFlush()
        else timer ??= setTimeout(() => void scheduleFlush(), flushIntervalMs)
      })
    },
    flush: scheduleFlush,
    async close() {
      await scheduleFlush()
      closed = true
    },
    stats: () => ({ ...stats }),
  }
}
