import type { ClickHouseClient } from '@clickhouse/client'
import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { silentLogger } from '../../platform/logger.ts'
import {
  AuditedIdFilter,
  loadAuditedIdFilter,
  murmurHash3_32,
} from '../../processors/audit/audited-id-filter.ts'

const freshIds = (count: number) => Array.from({ length: count }, randomUUID)

describe('audited id filter', () => {
  it('grows by layers past its capacity: every id added is held, few new ones are', () => {
    const filter = new AuditedIdFilter(50_000)
    const added = freshIds(400_000)
    for (const id of added) filter.add(id)
    // 50k, 100k, 200k and 400k: four layers, the last one still filling.
    expect(filter.layers).toBe(4)
    expect(filter.added).toBe(400_000)
    expect(added.every((id) => filter.mightHold(id))).toBe(true)
    const falseMaybes = freshIds(100_000).filter((id) => filter.mightHold(id)).length
    expect(falseMaybes).toBeLessThan(10)
  })

  it('full to its capacity, says "maybe" for only a few new ids per million', () => {
    // A false "maybe" costs its whole batch a store lookup. One million ids in one layer of
    // 2^25 bits: 33.5 bits an id, the filter's fullest (about 6 per million expected; with one
    // 32-bit hash it was 230).
    const filter = new AuditedIdFilter(1_000_000)
    for (const id of freshIds(1_000_000)) filter.add(id)
    expect(filter.layers).toBe(1)
    const falseMaybes = freshIds(1_000_000).filter((id) => filter.mightHold(id)).length
    expect(falseMaybes).toBeLessThan(30)
  })

  it('loads the hashes ClickHouse streams, a row split across chunks included', async () => {
    const audited = freshIds(3)
    const bytes = Buffer.alloc(8 * audited.length)
    audited.forEach((id, row) => {
      bytes.writeUInt32LE(murmurHash3_32(id), row * 8)
      bytes.writeUInt32LE(murmurHash3_32(id, true), row * 8 + 4)
    })
    // Chunk edges inside the first row's second hash and inside the third row's first.
    const chunks = [
      bytes.subarray(0, 5),
      bytes.subarray(5, 16),
      bytes.subarray(16, 19),
      bytes.subarray(19),
    ]
    const client = {
      query: () => Promise.resolve({ json: () => Promise.resolve([{ n: '3' }]) }),
      exec: () => Promise.resolve({ stream: Readable.from(chunks) }),
    } as unknown as ClickHouseClient
    const filter = await loadAuditedIdFilter(client, silentLogger())
    expect(filter.added).toBe(3)
    expect(audited.every((id) => filter.mightHold(id))).toBe(true)
    expect(freshIds(1000).some((id) => filter.mightHold(id))).toBe(false)
  })
})
