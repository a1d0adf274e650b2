import type { Logger } from '../../platform/logger.ts'
import type { AuditRow } from './audit-row.ts'
import type { AuditStore } from './audit-store.ts'
import { createBatchWriter, type BatchOutcome } from './batch-writer.ts'
import { RecentIds } from './recent-ids.ts'

export { batchToken } from './batch-writer.ts'

/**
 * Buffers audit rows and writes them in batches, on size or on time. `write` resolves only
 * when its rows are persisted, known duplicates, or refused for good, so a caller that
 * commits input offsets after `await write()` never commits what the store does not hold.
 *
 * Exactly-once rows, three layers (docs/adr/0002-dedup.md):
 * 1. ids written or pending in this process are dropped at once (bounded memory);
 * 2. before each insert the store is asked which ids of the batch it already has (covers a
 *    restart that replays uncommitted input in different batch boundaries);
 * 3. each insert carries a deduplication token derived from its event ids, so a retried
 *    insert whose first attempt landed is not written twice.
 */
export interface AuditSink {
  /** Resolves when every row is settled; rejects when the store stays unavailable past shutdown. */
  write(rows: readonly AuditRow[]): Promise<WriteResult>
  /** Writes what is buffered now; resolves when nothing is buffered or being written. */
  flush(): Promise<void>
  /** True when this process wrote (or found in the store) a row of this event id lately. */
  audited(eventId: string): boolean
  /** Starts writing what is buffered (after the insert in flight, if any); does not wait. */
  requestFlush(): void
  /**
   * From now on a write that meets an unavailable store fails at once (and one waiting in a
   * retry fails now) instead of retrying: for a shutdown deadline. Its input is then not
   * committed, so nothing is lost.
   */
  abandonRetries(): void
  /** Flushes what is buffered and refuses later writes. */
  close(): Promise<void>
  stats(): AuditSinkStats
}

export interface WriteResult {
  written: number
  duplicates: number
  /** Event ids of the rows this write added to the store. */
  writtenIds: string[]
  /** Event ids of the rows not written because they were already audited or repeated. */
  duplicateIds: string[]
  /** Rows the store refused for good, with its reason: the caller dead-letters them. */
  refused: Array<{ eventId: string; reason: string }>
}

export interface AuditSinkStats {
  rowsWritten: number
  duplicatesDropped: number
  rowsRefused: number
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
  /** Injected for tests: how the sink waits between retries. */
  sleep?: (ms: number) => Promise<void>
  /**
   * Told of each batch written: its rows and how long it took, retries included (metrics).
   * A batch that fails for good is not reported here.
   */
  onBatchWritten?: (rows: number, seconds: number) => void
  /** Where batch durations are read from (milliseconds); `performance.now` by default. */
  now?: () => number
}

interface Pending {
  rows: readonly AuditRow[]
  resolve: (result: WriteResult) => void
  reject: (error: unknown) => void
}

// unref: a backoff cut short by a shutdown deadline must not keep the process alive.
const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref())

/** A wait that a shutdown deadline cuts short. */
function interruptible(wait: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise<void>((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done)
    void wait.then(done)
  })
}

/** Splits a batch outcome among the writes that made up the batch, first occurrence first. */
function settle(batch: Pending[], outcome: BatchOutcome): WriteResult[] {
  const claimed = new Set<string>()
  return batch.map((pending) => {
    const result: WriteResult = {
      written: 0,
      writtenIds: [],
      duplicates: 0,
      duplicateIds: [],
      refused: [],
    }
    for (const { event_id: id } of pending.rows) {
      const first = !claimed.has(id)
      claimed.add(id)
      const reason = outcome.refused.get(id)
      if (first && reason !== undefined) result.refused.push({ eventId: id, reason })
      else if (first && outcome.written.has(id)) {
        result.written++
        result.writtenIds.push(id)
      } else {
        result.duplicates++
        result.duplicateIds.push(id)
      }
    }
    return result
  })
}

export function createAuditSink(options: AuditSinkOptions): AuditSink {
  const { logger } = options
  const batchSize = options.batchSize ?? 1000
  const flushIntervalMs = options.flushIntervalMs ?? 1000
  const shutdown = new AbortController()
  const stats: AuditSinkStats = {
    rowsWritten: 0,
    duplicatesDropped: 0,
    rowsRefused: 0,
    insertRetries: 0,
    buffered: 0,
  }
  const sleep = options.sleep ?? defaultSleep
  const now = options.now ?? (() => performance.now())
  const recent = new RecentIds(options.recentIdsCapacity ?? 200_000)
  const writeBatch = createBatchWriter({
    store: options.store,
    recent,
    logger,
    retryBaseMs: options.retryBaseMs ?? 200,
    retryMaxMs: options.retryMaxMs ?? 30_000,
    sleep: (ms) => interruptible(sleep(ms), shutdown.signal),
    signal: shutdown.signal,
    onRetry: () => stats.insertRetries++,
  })
  let queue: Pending[] = []
  let timer: NodeJS.Timeout | undefined
  let flushing: Promise<void> = Promise.resolve()
  let closed = false

  let writing = false
  let flushAgain = false

  /**
   * Writes what is buffered. One insert at a time: rows that arrive (or a flush asked for)
   * while one is written go into the next insert together, so concurrent batches share it.
   */
  function scheduleFlush(): Promise<void> {
    if (timer) clearTimeout(timer)
    timer = undefined
    if (writing) {
      flushAgain = true
      return flushing
    }
    const batch = queue
    queue = []
    stats.buffered = 0
    if (batch.length === 0) return flushing
    writing = true
    flushing = (async () => {
      try {
        const rows = batch.flatMap((pending) => pending.rows)
        const began = now()
        const outcome = await writeBatch(rows)
        options.onBatchWritten?.(rows.length, (now() - began) / 1000)
        const results = settle(batch, outcome)
        results.forEach((result, i) => {
          stats.rowsWritten += result.written
          stats.duplicatesDropped += result.duplicates
          stats.rowsRefused += result.refused.length
          for (const refused of result.refused)
            logger.error(refused, 'audit row refused by the store')
          batch[i]!.resolve(result)
        })
      } catch (error) {
        logger.error(
          { err: error, rows: batch.reduce((n, p) => n + p.rows.length, 0) },
          'audit batch not written',
        )
        for (const pending of batch) pending.reject(error)
      } finally {
        writing = false
        if (flushAgain || stats.buffered >= batchSize) {
          flushAgain = false
          void scheduleFlush()
        } else if (queue.length > 0)
          timer ??= setTimeout(() => void scheduleFlush(), flushIntervalMs)
      }
    })()
    return flushing
  }

  /** Resolves once nothing is buffered or being written. */
  async function drain(): Promise<void> {
    while (queue.length > 0 || writing) await scheduleFlush()
  }

  return {
    audited: (eventId) => recent.has(eventId),
    write(rows) {
      if (closed) return Promise.reject(new Error('audit sink is closed'))
      if (rows.length === 0)
        return Promise.resolve({
          written: 0,
          writtenIds: [],
          duplicates: 0,
          duplicateIds: [],
          refused: [],
        })
      return new Promise<WriteResult>((resolve, reject) => {
        queue.push({ rows, resolve, reject })
        stats.buffered += rows.length
        if (stats.buffered >= batchSize) void scheduleFlush()
        else timer ??= setTimeout(() => void scheduleFlush(), flushIntervalMs)
      })
    },
    flush: drain,
    requestFlush() {
      void scheduleFlush()
    },
    abandonRetries() {
      shutdown.abort()
    },
    async close() {
      closed = true
      await drain()
    },
    stats: () => ({ ...stats }),
  }
}
