import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { replayReportSchema } from '../../processors/replay/replay-report.ts'
import type { SpendView } from '../../processors/windows/spend-windows.ts'
import type { LlmCallInput } from '../../schemas/llm-call.ts'
import { runCli } from './cli-process.ts'

/** Posts events to a running `spendguard start` and expects every one accepted. */
export async function postEvents(port: number, events: LlmCallInput[]): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(events),
  })
  expect(response.status).toBe(200)
  expect(await response.json()).toMatchObject({ accepted: events.length })
}

export interface KeyTotals {
  key: string
  calls: number
  cost_usd: string
}

const byName = (a: KeyTotals, b: KeyTotals) => a.key.localeCompare(b.key)

/** Calls and cost per key of a live view, by key. */
export function totalsOf(view: SpendView): KeyTotals[] {
  return view.items
    .map((item) => ({ key: item.key, calls: item.calls, cost_usd: item.cost_usd }))
    .sort(byName)
}

/**
 * What a run without any crash counts per agent or user: `spendguard replay` over the same
 * events (written to a file in `dir`).
 */
export async function replayedTotals(
  dir: string,
  events: LlmCallInput[],
  group: 'by_agent' | 'by_user',
): Promise<KeyTotals[]> {
  const file = join(dir, `replay-${events.length}.ndjson`)
  writeFileSync(file, events.map((e) => JSON.stringify(e)).join('\n'))
  const result = await runCli(['replay', file, '--format', 'json'])
  const report = replayReportSchema.parse(JSON.parse(result.stdout))
  return Object.entries(report[group])
    .map(([key, totals]) => ({ key, calls: totals.calls, cost_usd: totals.cost_usd }))
    .sort(byName)
}
