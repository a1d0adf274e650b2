import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../platform/logger.ts'
import { toAuditRow, toClickHouseTime, type AuditRow } from '../../processors/audit/audit-row.ts'
import { createAuditSink } from '../../processors/audit/audit-sink.ts'
import { testPricing } from '../support/pricing.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'
import { MemoryAuditStore } from '../support/memory-audit-store.ts'

const { pricer } = await testPricing()

function rows(count: number): AuditRow[] {
  return Array.from({ length: count }, () => {
    const call = makeLlmCall({ model: 'gpt-4', input_tokens: 1800, output_tokens: 600 })
    return toAuditRow(call, {
      price: pricer.price(call),
      source: { kind: 'http' },
      late: false,
      ingestedAt: 0,
    })
  })
}

function sink(
  store: MemoryAuditStore,
  options: { batchSize?: number; flushIntervalMs?: number } = {},
) {
  return createAuditSink({
    store,
    logger: silentLogger(),
    batchSize: options.batchSize ?? 100,
    flushIntervalMs: options.flushIntervalMs ?? 10,
    sleep: () => Promise.resolve(),
  })
}

describe('audit sink', () => {
  it('writes a batch as soon as it reaches the batch size', async () => {
    const store = new MemoryAuditStore()
    const audit = sink(store, { batchSize: 5, flushIntervalMs: 60_000 })
    const result = await audit.write(rows(5))
    expect(result).toMatchObject({ written: 5, duplicates: 0, duplicateIds: [], refused: [] })
    expect(result.writtenIds).toHaveLength(5)
    expect(store.rows).toHaveLength(5)
    expect(store.tokens).toHaveLength(1)
  })

  it('writes a partial batch after the flush interval', async () => {
    const store = new MemoryAuditStore()
    const audit = sink(store, { batchSize: 1000, flushIntervalMs: 5 })
    const pending = audit.write(rows(3))
    expect(store.rows).toHaveLength(0)
    await expect(pending).resolves.toMatchObject({
      written: 3,
      duplicates: 0,
      duplicateIds: [],
      refused: [],
    })
    expect(store.rows).toHaveLength(3)
  })

  it('audits an event_id seen twice once, in one batch or across batches', async () => {
    const store = new MemoryAuditStore()
    const audit = sink(store)
    const batch = rows(4)
    const first = await audit.write([...batch, batch[0]!])
    expect(first).toMatchObject({ written: 4, duplicates: 1 })
    const second = await audit.write([batch[1]!, ...rows(1)])
    expect(second).toMatchObject({ written: 1, duplicates: 1 })
    expect(store.rows).toHaveLength(5)
  })

  it('skips rows the store already holds, as after a restart that replays uncommitted input', async () => {
    const store = new MemoryAuditStore()
    const batch = rows(6)
    await sink(store).write(batch.slice(0, 4))
    // A new process: empty memory, replayed input overlapping what was written.
    const result = await sink(store).write(batch)
    expect(result).toMatchObject({ written: 2, duplicates: 4 })
    expect(new Set(store.rows.map((r) => r.event_id)).size).toBe(6)
    expect(store.rows).toHaveLength(6)
  })

  it('retries a failed insert and writes the rows exactly once when the first attempt landed', async () => {
    const store = new MemoryAuditStore()
    store.insertFaults.push('fail', 'lose-ack')
    const audit = sink(store)
    const result = await audit.write(rows(3))
    expect(result.written).toBe(3)
    expect(store.rows).toHaveLength(3)
    // Three attempts, one token: the retry after the lost acknowledgement was deduplicated.
    expect(store.tokens).toHaveLength(3)
    expect(new Set(store.tokens).size).toBe(1)
    expect(audit.stats().insertRetries).toBe(2)
  })

  it('isolates a row the store refuses for good and writes the others of its batch', async () => {
    const store = new MemoryAuditStore()
    const batch = rows(9)
    const bad = batch[5]!
    store.poison = (row) => row.event_id === bad.event_id
    const result = await sink(store).write(batch)
    expect(result.written).toBe(8)
    expect(result.refused).toEqual([{ eventId: bad.event_id, reason: 'Decimal value is too big' }])
    expect(store.rows.map((r) => r.event_id).sort()).toEqual(
      batch
        .filter((r) => r !== bad)
        .map((r) => r.event_id)
        .sort(),
    )
  })

  it('counts a repeated row that the store already holds as duplicates, never as a negative write', async () => {
    const store = new MemoryAuditStore()
    const [row] = rows(1)
    await sink(store).write([row!])
    const result = await sink(store).write([row!, row!])
    expect(result).toMatchObject({
      written: 0,
      writtenIds: [],
      duplicates: 2,
      duplicateIds: [row!.event_id, row!.event_id],
      refused: [],
    })
  })

  it('keeps retrying while the store is down, and rejects at a shutdown deadline so nothing is committed', async () => {
    const store = new MemoryAuditStore()
    store.down = true
    const audit = createAuditSink({
      store,
      logger: silentLogger(),
      batchSize: 100,
      flushIntervalMs: 60_000,
      retryBaseMs: 1,
      retryMaxMs: 5,
    })
    const pending = audit.write(rows(3))
    const closing = audit.close()
    setTimeout(() => audit.abandonRetries(), 100)
    await expect(pending).rejects.toThrow(/abandoned at shutdown/)
    await closing
    expect(store.rows).toHaveLength(0)
    expect(audit.stats().insertRetries).toBeGreaterThan(3)
  })

  it('flushes what is buffered on close', async () => {
    const store = new MemoryAuditStore()
    const audit = sink(store, { batchSize: 1000, flushIntervalMs: 60_000 })
    const pending = audit.write(rows(7))
    await audit.close()
    await expect(pending).resolves.toMatchObject({ written: 7, duplicates: 0 })
    expect(store.rows).toHaveLength(7)
    await expect(audit.write(rows(1))).rejects.toThrow(/closed/)
  })

  it('records the exact cost breakdown and price version in the row', () => {
    const [row] = rows(1)
    expect(row).toMatchObject({
      price_status: 'priced',
      priced_model: 'gpt-4',
      price_version: expect.stringMatching(
        /^genai-prices@\d+\.\d+\.\d+:openai\/gpt-4@always$/,
      ) as unknown,
      cost_input_usd: '0.054',
      cost_output_usd: '0.036',
      cost_usd: '0.09',
    })
  })

  it('writes times as UTC text to the millisecond, the same when a second is formatted again', () => {
    // Times of many seconds in turn, each twice, so the cache of formatted seconds is both
    // filled and read, against the plain Date formatting.
    const times = [0, 5, 59_999, 1_732_406_399_999, 1_732_406_400_000, 1_732_406_400_040]
    for (let second = 0; second < 300; second++) times.push(1_732_406_000_000 + second * 997)
    const plain = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ')
    for (const ms of [...times, ...times.reverse()]) expect(toClickHouseTime(ms)).toBe(plain(ms))
    expect(toClickHouseTime(1_732_406_399_999)).toBe('2024-11-23 23:59:59.999')
    expect(toClickHouseTime(-1)).toBe('1969-12-31 23:59:59.999')
  })
})
