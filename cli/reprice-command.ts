import { userInfo } from 'node:os'
import type { Config } from '../platform/config.ts'
import { createAuditStoreClient } from '../platform/clickhouse.ts'
import { appendAdjustments, readAuditedCalls } from '../processors/audit/adjustments-store.ts'
import { migrate } from '../processors/audit/migrations.ts'
import { createPricing } from '../processors/pricing/pricing-setup.ts'
import {
  emptySummary,
  reprice,
  type AuditedCall,
  type RepriceSummary,
} from '../processors/pricing/reprice.ts'
import { formatUsd, parseUsd } from '../platform/money.ts'
import type { Logger } from '../platform/logger.ts'
import { renderTable } from './text-table.ts'

export interface RepriceOptions {
  /** Summaries list at most the first 1,000 adjustments; the counts cover them all. */
  sinceMs: number
  model?: string
  dryRun: boolean
  now: number
  /** Progress lines for a person waiting (stderr). */
  progress: (line: string) => void
}

/**
 * `spendguard reprice --since DATE [--model ID]`: prices audited calls that were unpriced or
 * whose price changed under the current catalogs, and appends adjustment rows. The audit rows
 * themselves are never touched. Works on the store directly (the pipeline stopped, or a server).
 */
export async function runReprice(
  config: Config,
  logger: Logger,
  options: RepriceOptions,
): Promise<RepriceSummary> {
  const { pricer } = await createPricing(config.pricing)
  const { client } = createAuditStoreClient(config.clickhouse, {
    create: false,
    role: config.clickhouse.admin ? 'admin' : 'writer',
  })
  try {
    // The adjustments table arrives with a migration: a store from an older version gets it.
    await migrate(client, logger.child({ component: 'migrations' }))
    const calls = readAuditedCalls(client, {
      sinceMs: options.sinceMs,
      ...(options.model ? { model: options.model } : {}),
    })
    const actor = `cli:${userInfo().username}`
    const total = emptySummary()
    let delta = 0n
    // A chunk at a time: memory stays flat however many calls the period holds.
    const settle = async (chunk: AuditedCall[]) => {
      const part = reprice(chunk, { pricer, actor, now: options.now })
      // What was actually appended: an adjustment already present is not written again.
      const written = options.dryRun
        ? part.adjusted
        : await appendAdjustments(client, part.adjustments)
      total.examined += part.examined
      total.adjusted += written
      total.newlyPriced += part.newlyPriced
      total.stillUnpriced += part.stillUnpriced
      delta += parseUsd(part.deltaUsd)
      if (total.adjustments.length < 1000)
        total.adjustments.push(...part.adjustments.slice(0, 1000))
      options.progress(
        `reprice: ${total.examined} audited calls examined, ${total.adjusted} adjusted`,
      )
    }
    let chunk: AuditedCall[] = []
    for await (const call of calls) {
      chunk.push(call)
      if (chunk.length === 5000) {
        await settle(chunk)
        chunk = []
      }
    }
    await settle(chunk)
    total.deltaUsd = formatUsd(delta)
    const summary = total
    return summary
  } finally {
    await client.close()
  }
}

export function formatRepriceSummary(summary: RepriceSummary, dryRun: boolean): string {
  const rows = summary.adjustments
    .slice(0, 20)
    .map((a) => [
      a.event_id,
      a.model,
      a.previous_price_version ?? '(unpriced)',
      a.price_version,
      a.cost_delta_usd,
    ])
  return (
    `${summary.examined} audited calls examined; ${summary.adjusted} ${dryRun ? 'would be' : ''} adjusted ` +
    `(${summary.newlyPriced} newly priced), ${summary.stillUnpriced} still unpriced; change $${summary.deltaUsd}\n` +
    (rows.length > 0
      ? `\n${renderTable(['event_id', 'model', 'was', 'now', 'change USD'], rows)}` +
        (summary.adjustments.length > rows.length
          ? `... and ${summary.adjustments.length - rows.length} more\n`
          : '')
      : '') +
    (dryRun ? '\nDry run: nothing was written.\n' : '')
  )
}
