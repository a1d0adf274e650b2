import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { formatRepriceSummary, runReprice } from '../../cli/reprice-command.ts'
import { createPipeline } from '../../cli/runtime.ts'
import { systemClock } from '../../platform/clock.ts'
import { createAuditStoreClient } from '../../platform/clickhouse.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import { makeLlmCall, recentTime } from '../support/make-llm-call.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-reprice-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

function catalogFile(name: string, models: unknown[]): string {
  const path = join(work, name)
  writeFileSync(path, JSON.stringify({ version: name.replace('.json', ''), models }))
  return path
}

describe('spendguard reprice', () => {
  it('appends adjustments for calls unpriced or priced under a superseded catalog; the audit rows stay as they were', async () => {
    const dataDir = join(work, 'data')
    // Audited under a catalog that priced gpt-4.1 wrong and did not know in-house-7b.
    const before = parseConfig({
      clickhouse: { dataDir },
      audit: { flushIntervalMs: 50 },
      pricing: {
        catalogFile: catalogFile('old-prices.json', [
          { id: 'gpt-4.1', prices: [{ effective_from: '2025-01-01', input: '20', output: '80' }] },
        ]),
      },
    })
    const pipeline = await createPipeline(before, silentLogger(), systemClock)
    await pipeline.start()
    const at = recentTime(3600)
    const calls = [
      ...Array.from({ length: 3 }, () =>
        makeLlmCall({
          model: 'in-house-7b',
          provider: 'acme-cloud',
          occurred_at: at,
          input_tokens: 1_000_000,
          output_tokens: 0,
        }),
      ),
      ...Array.from({ length: 2 }, () =>
        makeLlmCall({
          model: 'gpt-4.1',
          provider: 'openai',
          occurred_at: at,
          input_tokens: 1_000_000,
          output_tokens: 0,
        }),
      ),
    ]
    await pipeline.bus.publish(calls)
    await expect
      .poll(() => pipeline.sink.stats().rowsWritten, { timeout: 30_000, interval: 100 })
      .toBe(5)
    await pipeline.stop()

    // Now a catalog that knows in-house-7b, over the curated data (gpt-4.1 at $2 input).
    const after = parseConfig({
      clickhouse: { dataDir },
      pricing: {
        catalogFile: catalogFile('new-prices.json', [
          {
            id: 'in-house-7b',
            prices: [{ effective_from: '2025-01-01', input: '0.05', output: '0.05' }],
          },
        ]),
      },
    })
    const options = {
      sinceMs: Date.parse(at) - 60_000,
      dryRun: false,
      now: Date.now(),
      progress: () => {},
    }
    const dry = await runReprice(after, silentLogger(), { ...options, dryRun: true })
    expect(formatRepriceSummary(dry, true)).toMatch(
      /5 would be adjusted \(3 newly priced\).*change \$-35.85/,
    )

    const summary = await runReprice(after, silentLogger(), options)
    expect(summary).toMatchObject({
      examined: 5,
      adjusted: 5,
      newlyPriced: 3,
      stillUnpriced: 0,
      deltaUsd: '-35.85',
    })
    expect(summary.adjustments.find((a) => a.model === 'gpt-4.1')).toMatchObject({
      previous_price_version: 'old-prices:openai/gpt-4.1@2025-01-01',
      cost_usd: '2',
      cost_delta_usd: '-18',
    })
    // Run again: every call already has its current price; nothing is appended.
    expect((await runReprice(after, silentLogger(), options)).adjusted).toBe(0)

    const { client } = createAuditStoreClient(after.clickhouse, { create: false })
    try {
      const result = await client.query({
        query: `SELECT
                  (SELECT count() FROM llm_calls) AS rows,
                  (SELECT toString(sum(cost_usd)) FROM llm_calls) AS audited_usd,
                  (SELECT countIf(cost_usd IS NULL) FROM llm_calls) AS unpriced_rows,
                  (SELECT count() FROM llm_call_adjustments) AS adjustments,
                  (SELECT toString(sum(cost_usd)) FROM llm_spend) AS spend_usd`,
        format: 'JSONEachRow',
      })
      // The audit still says what it said (2 x $20, 3 unpriced); spend counts the adjustments:
      // 2 x $2 + 3 x $0.05.
      expect(await result.json()).toEqual([
        { rows: '5', audited_usd: '40', unpriced_rows: '3', adjustments: '5', spend_usd: '4.15' },
      ])
    } finally {
      await client.close()
    }
  })
})
