import { createReadStream } from 'node:fs'
import type { Readable } from 'node:stream'
import type { Config } from '../platform/config.ts'
import { replay } from '../processors/replay/replay.ts'
import type { GroupTotals, ReplayReport } from '../processors/replay/replay-report.ts'
import { createPricerFromConfig } from './runtime.ts'
import { renderTable } from './text-table.ts'

/** `spendguard replay FILE|-`: the report of what the pipeline would have made of a file. */
export async function runReplay(
  config: Config,
  file: string,
  stdin: Readable,
): Promise<ReplayReport> {
  const input = file === '-' ? stdin : createReadStream(file)
  return replay(input, {
    pricer: await createPricerFromConfig(config),
    allowedLatenessMs: config.pipeline.allowedLatenessMs,
    rules: config,
  })
}

function groupTable(title: string, groups: Record<string, GroupTotals>): string {
  const rows = Object.entries(groups)
    .sort(([, a], [, b]) => Number(b.cost_usd) - Number(a.cost_usd))
    .map(([name, g]) => [
      name,
      g.calls,
      g.unpriced_calls,
      g.input_tokens,
      g.output_tokens,
      g.cost_usd,
    ])
  return `${title}\n${renderTable(['name', 'calls', 'unpriced', 'input tokens', 'output tokens', 'cost (USD)'], rows)}`
}

/** The human-readable form of a replay report. */
export function formatReplayTable(report: ReplayReport): string {
  const e = report.events
  const parts = [
    `events: ${e.read} read, ${e.accepted} accepted, ${e.rejected} rejected (${e.duplicates} duplicates), ${e.late} late, ${e.unpriced} unpriced`,
    `total cost: $${report.cost_usd} (catalog ${report.price_catalog_version})`,
    `event time: ${report.first_event_at ?? '-'} .. ${report.last_event_at ?? '-'}`,
    `decisions: ${report.alerts.length} alerts, ${report.commands.length} commands, ${report.violations.length} policy violations`,
    '',
    groupTable('by agent', report.by_agent),
    groupTable('by model', report.by_model),
    groupTable('by team', report.by_team),
    groupTable('by feature', report.by_feature),
    groupTable('by user', report.by_user),
  ]
  if (report.unpriced_models.length > 0) {
    parts.push(
      `unpriced models\n${renderTable(
        ['model', 'calls', 'reason'],
        report.unpriced_models.map((u) => [u.model, u.calls, u.reason]),
      )}`,
    )
  }
  if (report.violations.length > 0) {
    parts.push(
      `policy violations\n${renderTable(
        ['first at', 'tenant', 'agent', 'category', 'model', 'severity', 'rule'],
        report.violations.map((v) => [
          v.occurred_at,
          v.tenant,
          v.agent_id,
          v.task_category ?? '',
          v.model,
          v.severity,
          v.rule,
        ]),
      )}`,
    )
  }
  if (report.alerts.length > 0) {
    parts.push(
      `alerts\n${renderTable(
        ['at', 'severity', 'type', 'scope', 'summary'],
        report.alerts.map((a) => [
          a.occurred_at,
          a.severity,
          a.type,
          `${a.scope.kind}:${a.scope.id}`,
          a.summary,
        ]),
      )}`,
    )
  }
  if (report.commands.length > 0) {
    parts.push(
      `commands\n${renderTable(
        ['issued at', 'action', 'scope', 'until', 'rule'],
        report.commands.map((c) => [
          c.issued_at,
          c.model ? `${c.action} to ${c.model}` : c.action,
          `${c.scope.kind}:${c.scope.id}`,
          c.expires_at ?? 'resumed',
          c.rule,
        ]),
      )}`,
    )
  }
  if (report.rejected.length > 0) {
    const rows = report.rejected.flatMap((r) =>
      r.errors.map((error) => [r.line, r.event_id ?? '', error.path || '(line)', error.message]),
    )
    parts.push(`rejected lines\n${renderTable(['line', 'event_id', 'field', 'error'], rows)}`)
  }
  return parts.join('\n')
}
