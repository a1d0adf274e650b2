import { DIMENSIONS } from '../processors/windows/spend-windows.ts'
import { WINDOWS } from '../processors/windows/window-spans.ts'

/**
 * `spendguard <command> --help`: each command's own usage, what it does, and what it needs.
 * (`kill`, `resume`, `controls` and `policy check` keep theirs beside their code.)
 */
export const COMMAND_USAGE: Record<string, string> = {
  start: `usage: spendguard start [--host 127.0.0.1] [--port 8787] [--data-dir ./data] [--config FILE]

Runs the pipeline and the HTTP API until SIGTERM or Ctrl-C, then drains what was accepted into
the audit and exits 0. Without Kafka brokers configured it runs embedded (in-process transport,
chDB under --data-dir); the detection rules, alert routes and control key come from --config.
example: spendguard start --port 8787 --data-dir ./data --config spendguard.yaml
`,
  demo: `usage: spendguard demo [--host 127.0.0.1] [--port 8787] [--data-dir ./data] [--rate 20] [--duration 0] [--seed 42] [--config FILE]

\`start\` plus generated traffic from five agents sent through the SDK emitter over HTTP, with
spend per agent printed every five seconds. --duration 0 runs until Ctrl-C.
example: spendguard demo --rate 50 --duration 60
`,
  replay: `usage: spendguard replay FILE|- [--format json|table] [--config FILE]

Feeds a JSON-lines file of llm_call events (- reads standard input) through the live pipeline's
validation, pricing, windows and detectors, with a clock that follows event time, and reports
totals, alerts, commands and policy violations. A bad line is reported, never fatal; the same
file gives byte-identical JSON (docs/replay.md).
example: spendguard replay incident.ndjson --config spendguard.yaml --format table
`,
  sql: `usage: spendguard sql "<query>" [--param name=value ...] [--format table|json|tsv|csv] [--data-dir ./data] [--config FILE]

One read-only query over the audit: only reads of SpendGuard's tables reach the engine. While
\`spendguard start\` runs on the data directory the query goes through its API; a FORMAT clause
is honoured; --param binds {name:Type} placeholders.
example: spendguard sql "SELECT agent_id, sum(cost_usd) FROM llm_calls WHERE occurred_at >= {since:Date} GROUP BY agent_id" --param since=2026-09-01
`,
  status: `usage: spendguard status [--dimension agent] [--window 15m] [--limit 20] [--tenant T] [--watch] [--format table|json] [--data-dir ./data]

Live spend of the running pipeline per key of a dimension in a window, most expensive first,
with p50/p95/p99 cost per call; --watch redraws every 2 s.
dimensions: ${DIMENSIONS.join(', ')}
windows:    ${WINDOWS.join(', ')}
example: spendguard status --dimension user --window 1h --watch
`,
  reconcile: `usage: spendguard reconcile [--since DATE] [--format table|json] [--data-dir ./data]

Compares the running pipeline's live totals with SQL over the audit, per key, dimension and
window; prints the differences and exits 1 on any (the expected difference is zero).
example: spendguard reconcile --since 2026-09-01
`,
  pricing: `usage: spendguard pricing MODEL [--provider P] [--at DATE] [--format table|json] [--config FILE]
       spendguard pricing check FILE|- [--format table|json] [--config FILE]

Which price entry applies to a model at a date, from which source and version, its rates per 1M
tokens and tiers, and why; \`pricing check\` does it for each (provider, model) of a file of events.
example: spendguard pricing claude-sonnet-4 --provider anthropic --at 2026-09-01
`,
  reprice: `usage: spendguard reprice --since DATE [--model ID] [--dry-run] [--format table|json] [--data-dir ./data]

Prices again the audited calls since DATE that were unpriced or whose price changed, as appended
adjustment rows (the audit is never rewritten); --dry-run reports without writing.
example: spendguard reprice --since 2026-09-01 --model in-house-llm-7b --dry-run
`,
}
