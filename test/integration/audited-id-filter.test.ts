import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAuditStoreClient } from '../../platform/clickhouse.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import {
  AuditedIdFilter,
  loadAuditedIdFilter,
  murmurHash3_32,
  withAuditedIdFilter,
} from '../../processors/audit/audited-id-filter.ts'
import { toAuditRow } from '../../processors/audit/audit-row.ts'
import { batchToken } from '../../processors/audit/batch-writer.ts'
import { createClickHouseAuditStore, type AuditStore } from '../../processors/audit/audit-store.ts'
import { migrate } from '../../processors/audit/migrations.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'
import { testPricing } from '../support/pricing.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-id-filter-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('audited id filter', () => {
  it('hashes as ClickHouse does, holds every audited id after a restart, and rules out new ones', async () => {
    const config = parseConfig({ clickhouse: { dataDir: join(work, 'store') } })
    const { client } = createAuditStoreClient(config.clickhouse)
    await migrate(client, silentLogger())

    // The same hash on both sides: ids, and texts of every length modulo 4.
    const texts = [
      ...Array.from({ length: 200 }, randomUUID),
      ...Array.from({ length: 12 }, (_, n) => 'abcdefghijkl'.slice(0, n)),
    ]
    const hashed = await client.query({
      query: `SELECT arrayMap(t -> murmurHash3_32(t), {texts:Array(String)}) AS hashes,
        arrayMap(t -> murmurHash3_32(reverse(t)), {texts:Array(String)}) AS reversed`,
      query_params: { texts },
      format: 'JSONEachRow',
    })
    const [{ hashes, reversed }] = (await hashed.json<{
      hashes: number[]
      reversed: number[]
    }>()) as [{ hashes: number[]; reversed: number[] }]
    expect(texts.map((text) => murmurHash3_32(text))).toEqual(hashes.map(Number))
    expect(texts.map((text) => murmurHash3_32(text, true))).toEqual(reversed.map(Number))

    // Audit 3,000 calls, as a run before this start did.
    const pricer = (await testPricing()).pricer
    const rows = Array.from({ length: 3000 }, () => {
      const call = makeLlmCall({ provider: undefined })
      return toAuditRow(call, {
        price: pricer.price(call),
        source: { kind: 'http' },
        late: false,
        ingestedAt: Date.now(),
      })
    })
    const store = createClickHouseAuditStore(client)
    await store.insertCalls(rows, batchToken(rows))

    const filter = await loadAuditedIdFilter(client, silentLogger())
    expect(filter.added).toBe(3000)
    expect(rows.every((row) => filter.mightHold(row.event_id))).toBe(true)
    const fresh: string[] = Array.from({ length: 20_000 }, randomUUID)
    const falseMaybes = fresh.filter((id) => filter.mightHold(id)).length
    expect(falseMaybes).toBeLessThan(3)

    // In front of the store: fresh ids are not looked up; audited ones are, and are found.
    const asked: string[][] = []
    const counting: AuditStore = {
      insertCalls: (batch, token) => store.insertCalls(batch, token),
      existingEventIds: (ids) => {
        asked.push([...ids])
        return store.existingEventIds(ids)
      },
    }
    const filtered = withAuditedIdFilter(counting, filter)
    expect(await filtered.existingEventIds(fresh.slice(0, 50))).toEqual(new Set())
    const resent = [rows[0]!.event_id, rows[2999]!.event_id]
    expect(await filtered.existingEventIds([...resent, fresh[60]!])).toEqual(new Set(resent))
    expect(asked.flat()).toContain(rows[0]!.event_id)
    expect(asked.flat().filter((id) => fresh.includes(id)).length).toBeLessThan(3)
    await client.close()
  })

  it('adds ids before their insert is tried, so a failed insert that landed is looked up later', async () => {
    const filter = new AuditedIdFilter(1000)
    const id = randomUUID()
    const failing: AuditStore = {
      insertCalls: () => Promise.reject(new Error('timed out after the write')),
      existingEventIds: (ids) => Promise.resolve(new Set(ids)),
    }
    const filtered = withAuditedIdFilter(failing, filter)
    const row = { event_id: id } as Parameters<AuditStore['insertCalls']>[0][number]
    await expect(filtered.insertCalls([row], 't')).rejects.toThrow(/timed out/)
    expect(await filtered.existingEventIds([id])).toEqual(new Set([id]))
  })
})
