import { afterEach, describe, expect, it, vi } from 'vitest'
import { lastDue, startSchedules, type ScheduleRuns } from '../../alerts/schedules.ts'
import { silentLogger } from '../../platform/logger.ts'
import { createScheduler, type Scheduler } from '../../platform/scheduler.ts'

afterEach(() => {
  vi.useRealTimers()
})

/** The schedule_runs table, in memory: it outlives a "restart" of the scheduler. */
function memoryRuns(): ScheduleRuns & {
  rows: Array<{ job: string; dueAt: string; outcome: string }>
} {
  const rows: Array<{ job: string; dueAt: string; outcome: string }> = []
  return {
    rows,
    last: (job) => {
      const due = rows.filter((row) => row.job === job).map((row) => Date.parse(row.dueAt))
      return Promise.resolve(due.length === 0 ? undefined : Math.max(...due))
    },
    record: (run) => {
      rows.push({ job: run.job, dueAt: new Date(run.dueAt).toISOString(), outcome: run.outcome })
      return Promise.resolve()
    },
  }
}

describe('scheduled jobs on a fixed clock (node-cron, UTC)', () => {
  it('digests at their times, the rollover at 00:00 UTC, a missed run caught up once after a restart', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
    })
    // Sunday 1 March 2026, 23:59:30 UTC.
    vi.setSystemTime(Date.parse('2026-03-01T23:59:30Z'))
    const runs = memoryRuns()
    const ran: string[] = []
    const jobs = [
      { name: 'budget-rollover', cron: '0 0 * * *' },
      { name: 'daily-digest', cron: '0 8 * * *' },
      { name: 'weekly-digest', cron: '0 8 * * 1' },
    ].map((job) => ({
      ...job,
      run: (dueAt: number) => {
        ran.push(`${job.name} ${new Date(dueAt).toISOString()}`)
        return Promise.resolve('ok')
      },
    }))
    const start = async () => {
      const scheduler = createScheduler({ logger: silentLogger() })
      await startSchedules({ scheduler, runs, jobs, now: Date.now, logger: silentLogger() })
      return scheduler
    }

    let scheduler = await start()
    // A first start makes no run: it records where each schedule begins.
    expect(ran).toEqual([])
    expect(runs.rows.map((row) => row.outcome)).toEqual(
      Array(3).fill('first start: the schedule begins now'),
    )
    await vi.advanceTimersByTimeAsync(60_000) // past midnight
    expect(ran).toEqual(['budget-rollover 2026-03-02T00:00:00.000Z'])
    await vi.advanceTimersByTimeAsync(8 * 60 * 60_000) // past 08:00 on Monday
    expect(ran).toEqual([
      'budget-rollover 2026-03-02T00:00:00.000Z',
      'daily-digest 2026-03-02T08:00:00.000Z',
      'weekly-digest 2026-03-02T08:00:00.000Z',
    ])

    // The process stops, and starts again on Wednesday at 09:00: two midnights and two
    // mornings were missed; each job is caught up once, for its latest due time.
    await scheduler.stop()
    vi.setSystemTime(Date.parse('2026-03-04T09:00:00Z'))
    ran.length = 0
    scheduler = await start()
    expect(ran).toEqual([
      'budget-rollover 2026-03-04T00:00:00.000Z',
      'daily-digest 2026-03-04T08:00:00.000Z',
    ])
    // And the schedule goes on from there.
    await vi.advanceTimersByTimeAsync(15 * 60 * 60_000 + 30_000)
    expect(ran.slice(2)).toEqual(['budget-rollover 2026-03-05T00:00:00.000Z'])
    await scheduler.stop()
  })

  it('several processes: only the leader runs a job, and one that takes over catches up once', async () => {
    // Two processes in one test process: schedulers whose cron and periodic tasks the test fires.
    const fakeScheduler = () => {
      const crons = new Map<string, () => void | Promise<void>>()
      const periodic: Array<() => void | Promise<void>> = []
      const scheduler: Scheduler = {
        cron: (name, _expression, task) => void crons.set(name, task),
        every: (_name, _ms, task) => void periodic.push(task),
        stop: () => Promise.resolve(),
      }
      return {
        scheduler,
        fire: async (name: string) => crons.get(name)?.(),
        tick: async () => {
          for (const task of periodic) await task()
        },
      }
    }
    let now = Date.parse('2026-03-01T23:59:30Z')
    const runs = memoryRuns()
    const ran: string[] = []
    const jobs = (who: string) => [
      {
        name: 'daily-digest',
        cron: '0 8 * * *',
        run: (dueAt: number) => {
          ran.push(`${who} digest ${new Date(dueAt).toISOString()}`)
          return Promise.resolve('ok')
        },
      },
      {
        name: 'budget-rollover',
        cron: '0 0 * * *',
        everywhere: true,
        run: (dueAt: number) => {
          ran.push(`${who} rollover ${new Date(dueAt).toISOString()}`)
          return Promise.resolve('ok')
        },
      },
    ]
    let leader = 'a'
    const start = async (who: string) => {
      const fake = fakeScheduler()
      await startSchedules({
        scheduler: fake.scheduler,
        runs,
        jobs: jobs(who),
        now: () => now,
        logger: silentLogger(),
        leads: () => leader === who,
      })
      return fake
    }
    const a = await start('a')
    const b = await start('b')
    // Midnight: each process resolves what it routed; the digest at 08:00 is the leader's.
    now = Date.parse('2026-03-02T00:00:00Z')
    for (const p of [a, b]) await p.fire('budget-rollover')
    now = Date.parse('2026-03-02T08:00:00Z')
    for (const p of [a, b]) await p.fire('daily-digest')
    expect(ran).toEqual([
      'a rollover 2026-03-02T00:00:00.000Z',
      'b rollover 2026-03-02T00:00:00.000Z',
      'a digest 2026-03-02T08:00:00.000Z',
    ])
    // The next morning nobody leads at 08:00 (a rebalance); b leads from 08:02 and makes the
    // digest nobody made, once.
    ran.length = 0
    leader = 'nobody'
    now = Date.parse('2026-03-03T08:00:00Z')
    for (const p of [a, b]) await p.fire('daily-digest')
    leader = 'b'
    now = Date.parse('2026-03-03T08:02:00Z')
    for (const p of [a, b]) await p.tick()
    now = Date.parse('2026-03-03T08:03:00Z')
    for (const p of [a, b]) await p.tick()
    expect(ran).toEqual(['b digest 2026-03-03T08:00:00.000Z'])
    // a, leading again later, does not make it a second time.
    leader = 'a'
    now = Date.parse('2026-03-03T09:00:00Z')
    for (const p of [a, b]) await p.tick()
    expect(ran).toEqual(['b digest 2026-03-03T08:00:00.000Z'])
  })

  it('finds the latest due minute in a range', () => {
    const at = (text: string) => Date.parse(text)
    expect(lastDue('0 8 * * 1', at('2026-03-02T08:00:00Z'), at('2026-03-09T07:59:00Z'))).toBe(
      undefined,
    )
    expect(lastDue('0 8 * * 1', at('2026-03-02T08:00:00Z'), at('2026-03-09T08:00:00Z'))).toBe(
      at('2026-03-09T08:00:00Z'),
    )
    expect(lastDue('*/15 * * * *', at('2026-03-02T10:00:00Z'), at('2026-03-02T10:44:59Z'))).toBe(
      at('2026-03-02T10:30:00Z'),
    )
  })
})
