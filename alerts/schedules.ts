import { createTask } from 'node-cron'
import type { Logger } from '../platform/logger.ts'
import type { Scheduler } from '../platform/scheduler.ts'

/**
 * The wall-clock jobs of the alerts (SPEC section 10): the budget rollover at 00:00 UTC, the
 * daily and weekly digests, the retention check. They run on the process's one scheduler
 * (node-cron, UTC); each run is recorded with the time it was due, so a run that fell due while
 * no process was up is made once at the next start.
 */
export interface ScheduledJob {
  name: string
  /** A cron expression, evaluated in UTC. */
  cron: string
  /** Does the work of the run due at `dueAt`; what it returns is recorded as its outcome. */
  run(dueAt: number): Promise<string>
  /**
   * Run by every process (each resolves the alerts it routed), not only by the one that
   * leads the schedules.
   */
  everywhere?: boolean
}

/** Where runs are recorded (the `schedule_runs` table). */
export interface ScheduleRuns {
  /** When the last recorded run of `job` was due; undefined if it never ran. */
  last(job: string): Promise<number | undefined>
  record(run: { job: string; dueAt: number; ranAt: number; outcome: string }): Promise<void>
}

const MINUTE = 60_000
/** How far back a missed run is looked for: a weekly job missed over a long weekend counts. */
const LOOKBACK_MS = 8 * 24 * 60 * MINUTE

/** node-cron's matcher of each expression (tasks made and never started: no timers). */
const matchers = new Map<string, ReturnType<typeof createTask>>()

/** The latest minute in (after, upTo] at which `cron` was due, within the look-back. */
export function lastDue(cron: string, after: number, upTo: number): number | undefined {
  let task = matchers.get(cron)
  if (!task) {
    task = createTask(cron, () => {}, { timezone: 'UTC' })
    matchers.set(cron, task)
  }
  const floor = Math.max(after, upTo - LOOKBACK_MS)
  for (let minute = Math.floor(upTo / MINUTE) * MINUTE; minute > floor; minute -= MINUTE)
    if (task.match(new Date(minute))) return minute
  return undefined
}

/**
 * Starts the jobs: first a run each missed since its last recorded run (one, however many fell
 * due), then each on its schedule. A job's first start ever records a baseline instead.
 */
export async function startSchedules(options: {
  scheduler: Scheduler
  runs: ScheduleRuns
  jobs: ScheduledJob[]
  now: () => number
  logger: Logger
  /**
   * Whether this process leads the schedules (several processes on Kafka: one makes each run;
   * the one that takes over catches up what the previous one missed). Default: it does.
   */
  leads?: () => boolean
}): Promise<void> {
  const { runs, now, logger } = options
  for (const job of options.jobs) {
    let lastRun = await runs.last(job.name)
    const leading = () => job.everywhere === true || (options.leads?.() ?? true)
    const runOnce = async (dueAt: number, why: string) => {
      if (!leading()) return
      // The scheduled run of a minute a catch-up already covered is not made twice.
      if (lastRun !== undefined && dueAt <= lastRun) return
      lastRun = dueAt
      let outcome: string
      try {
        outcome = await job.run(dueAt)
      } catch (error) {
        outcome = `failed: ${error instanceof Error ? error.message : String(error)}`
        logger.error({ job: job.name, dueAt: new Date(dueAt).toISOString(), err: error }, outcome)
      }
      logger.info({ job: job.name, dueAt: new Date(dueAt).toISOString(), why, outcome }, 'ran')
      await runs.record({ job: job.name, dueAt, ranAt: now(), outcome })
    }
    const started = now()
    if (lastRun === undefined) {
      lastRun = started
      await runs.record({
        job: job.name,
        dueAt: started,
        ranAt: started,
        outcome: 'first start: the schedule begins now',
      })
    } else {
      const missed = lastDue(job.cron, lastRun, started)
      // Not awaited: a start does not wait for a digest's receiver.
      if (missed !== undefined)
        void runOnce(missed, 'missed while no process was up').catch((error: unknown) =>
          logger.error({ job: job.name, err: error }, 'catching up a missed run failed'),
        )
    }
    options.scheduler.cron(job.name, job.cron, () =>
      runOnce(Math.floor(now() / MINUTE) * MINUTE, 'scheduled'),
    )
    if (options.leads && job.everywhere !== true)
      // Leadership moves (a rebalance): whoever leads now makes what nobody made.
      options.scheduler.every(`${job.name} takeover`, MINUTE, async () => {
        if (!leading()) return
        const recorded = await runs.last(job.name)
        if (recorded !== undefined && (lastRun === undefined || recorded > lastRun))
          lastRun = recorded
        const missed = lastDue(job.cron, lastRun ?? now(), now())
        if (missed !== undefined) await runOnce(missed, 'missed by the process that led before')
      })
  }
}
