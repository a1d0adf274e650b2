import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAuditStoreClient } from '../../platform/clickhouse.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import { toAuditRow } from '../../processors/audit/audit-row.ts'
import { createClickHouseAuditStore } from '../../processors/audit/audit-store.ts'
import { migrate, readMigrations } from '../../processors/audit/migrations.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'
import { testPricing } from '../support/pricing.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'spendguard-ids-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

describe('the index of audited event ids', () => {
  it('is filled for rows written before it existed and for every row written after', async () => {
    const { pricer } = await testPricing()
    const { client } = createAuditStoreClient(parseConfig({ clickhouse: { dataDir } }).clickhouse)
    try {
      const all = readMigrations()
      // A store from before the index (migrations up to 0005): its rows are in llm_calls only.
      await migrate(
        client,
        silentLogger(),
        all.filter((m) => m.name < '0006'),
      )
      const store = createClickHouseAuditStore(client)
      const row = (call: ReturnType<typeof makeLlmCall>) =>
        toAuditRow(call, {
          price: pricer.price(call),
          source: { kind: 'http' },
          late: false,
          ingestedAt: Date.now(),
        })
      const old = [makeLlmCall(), makeLlmCall()]
      await store.insertCalls(old.map(row), 'old-batch')
      await migrate(client, silentLogger(), all)
      const fresh = makeLlmCall()
      await store.insertCalls([row(fresh)], 'new-batch')
      const unknown = makeLlmCall()
      const ids = [...old, fresh, unknown].map((c) => c.event_id)
      expect(await store.existingEventIds(ids)).toEqual(new Set(ids.slice(0, 3)))
    } finally {
      await client.close()
    }
  })
})
