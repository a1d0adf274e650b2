import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { SpendView } from '../../processors/windows/spend-windows.ts'
import type { LlmCallInput } from '../../schemas/llm-call.ts'
import { runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { postEvents, replayedTotals, totalsOf } from '../support/live-checks.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-live-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** Events of three agents, seven users and two models, up to ten minutes old. */
function traffic(count: number): LlmCallInput[] {
  return Array.from({ length: count }, (_, i) =>
    makeLlmCallInput({
      occurred_at: recentTime(10 + (i % 600)),
      agent_id: `agent-${i % 3}`,
      user_id: `user-${i % 7}`,
      session_id: `session-${i % 11}`,
      model: i % 5 === 0 ? 'gpt-4' : 'gpt-4o-mini',
      input_tokens: 1000 + i,
      output_tokens: 100 + (i % 13),
      status: i % 9 === 0 ? 'error' : 'ok',
    }),
  )
}

async function statusJson(dataDir: string, dimension: string, window: string) {
  const result = await runCli([
    'status',
    '--dimension',
    dimension,
    '--window',
    window,
    '--limit',
    '100',
    '--format',
    'json',
    '--data-dir',
    dataDir,
  ])
  expect(result.stderr).toBe('')
  return JSON.parse(result.stdout) as SpendView
}

describe('a running embedded pipeline, seen from the CLI', () => {
  it('answers sql, status and reconcile through its API while it holds the store', async () => {
    const dataDir = join(work, 'live')
    const port = await freePort()
    const running = await startCli(['start', '--port', String(port), '--data-dir', dataDir])
    const events = traffic(120)
    await postEvents(port, events.slice(0, 70))
    await postEvents(port, events.slice(70))

    // The same command line as when the pipeline is stopped.
    const count = await runCli(['sql', 'SELECT count() FROM llm_calls', '--data-dir', dataDir])
    expect(count.stderr).toBe('')
    expect(count.stdout.trim()).toBe('120')
    const bound = await runCli([
      'sql',
      'SELECT count() AS calls FROM llm_calls WHERE agent_id = {agent:String} AND input_tokens >= {min:UInt64}',
      '--param',
      'agent=agent-1',
      '--param',
      'min=1100',
      '--data-dir',
      dataDir,
    ])
    // agent-1 holds i = 1, 4, ..., 118; input_tokens >= 1100 means i >= 100: 100, 103, ..., 118.
    expect(bound.stdout.trim()).toBe('7')
    const formatted = await runCli([
      'sql',
      'SELECT agent_id, count() AS calls FROM llm_calls GROUP BY agent_id ORDER BY agent_id FORMAT JSONEachRow',
      '--data-dir',
      dataDir,
    ])
    expect(
      formatted.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      { agent_id: 'agent-0', calls: '40' },
      { agent_id: 'agent-1', calls: '40' },
      { agent_id: 'agent-2', calls: '40' },
    ])

    const users = await statusJson(dataDir, 'user', '15m')
    expect(users.items).toHaveLength(7)
    expect(users.items.reduce((sum, item) => sum + item.calls, 0)).toBe(120)
    expect(totalsOf(await statusJson(dataDir, 'agent', 'day'))).toEqual(
      await replayedTotals(work, events, 'by_agent'),
    )
    const table = await runCli(['status', '--dimension', 'model', '--data-dir', dataDir])
    expect(table.stdout).toMatch(/spend by model, the last 15 minutes/)
    expect(table.stdout).toMatch(/gpt-4o-mini\s+96\s/)

    const reconcile = await runCli(['reconcile', '--data-dir', dataDir])
    expect(reconcile.stdout).toMatch(/0 differences/)
    expect(reconcile.code).toBe(0)

    running.child.kill('SIGTERM')
    expect(await running.exited).toBe(0)
    // Stopped: the record is gone and sql opens the store itself.
    expect(existsSync(join(dataDir, 'running.json'))).toBe(false)
    const after = await runCli(['sql', 'SELECT count() FROM llm_calls', '--data-dir', dataDir])
    expect(after.stdout.trim()).toBe('120')
    const notRunning = await runCli(['status', '--data-dir', dataDir])
    expect(notRunning.code).toBe(1)
    expect(notRunning.stderr).toMatch(/no running pipeline found for the data directory/)
  })

  it('keeps every accepted event and the live totals through kill -9 right after the answer', async () => {
    const dataDir = join(work, 'killed')
    const port = await freePort()
    const first = await startCli(['start', '--port', String(port), '--data-dir', dataDir])
    const events = traffic(300)
    // Concurrent requests, as a busy ingest sees them; the kill follows the last answer at once.
    await Promise.all(
      [0, 1, 2, 3, 4].map((k) => postEvents(port, events.slice(k * 60, k * 60 + 60))),
    )
    first.child.kill('SIGKILL')
    await first.exited

    const second = await startCli(['start', '--port', String(port), '--data-dir', dataDir])
    const count = await runCli(['sql', 'SELECT count() FROM llm_calls', '--data-dir', dataDir])
    expect(count.stdout.trim()).toBe('300')
    // The restarted process counts what a run without the kill counts.
    expect(totalsOf(await statusJson(dataDir, 'agent', 'day'))).toEqual(
      await replayedTotals(work, events, 'by_agent'),
    )
    const reconcile = await runCli(['reconcile', '--data-dir', dataDir])
    expect(reconcile.code).toBe(0)
    // Sent again to the new process (which never saw them): duplicates, audited once, and a
    // new event beside them is audited.
    const resent = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([events[0], events[299], ...traffic(1)]),
    })
    expect(await resent.json()).toMatchObject({ accepted: 1, duplicates: 2 })
    second.child.kill('SIGTERM')
    expect(await second.exited).toBe(0)
    const final = await runCli(['sql', 'SELECT count() FROM llm_calls', '--data-dir', dataDir])
    expect(final.stdout.trim()).toBe('301')
  })

  it('loses nothing to a second Ctrl-C during the drain', async () => {
    const dataDir = join(work, 'interrupted')
    const port = await freePort()
    const running = await startCli(['start', '--port', String(port), '--data-dir', dataDir])
    await postEvents(port, traffic(50))
    running.child.kill('SIGINT')
    await expect
      .poll(() => running.logs(), { timeout: 10_000, interval: 5 })
      .toMatch(/shutting down/)
    // The same signal twice at once would reach the process as one; this one comes during the
    // drain (or, on a fast machine, after the exit).
    if (running.child.exitCode === null) running.child.kill('SIGINT')
    expect(await running.exited).toBe(0)
    const count = await runCli(['sql', 'SELECT count() FROM llm_calls', '--data-dir', dataDir])
    expect(count.stdout.trim()).toBe('50')
  })
})
