import { schedule, validate, type ScheduledTask } from 'node-cron'
import { ConfigError } from './errors.ts'
import type { Logger } from './logger.ts'

/** A task that runs on a schedule; a run that fails is logged, and the next one still runs. */
export type Task = () => void | Promise<void>

/**
 * The one scheduler of a process: periodic housekeeping (window sweeps) and, for the alerts,
 * wall-clock schedules in UTC (digests, budget rollover at 00:00 UTC, retention checks).
 * A run never overlaps the previous run of the same task. `stop()` cancels every schedule
 * and waits for runs in progress.
 */
export interface Scheduler {
  every(name: string, intervalMs: number, task: Task): void
  /** A cron expression (node-cron, with seconds optional), evaluated in UTC. */
  cron(name: string, expression: string, task: Task): void
  stop(): Promise<void>
}

export interface SchedulerOptions {
  logger: Logger
  /** Injected for tests: how a periodic task is timed. */
  setInterval?: (run: () => void, ms: number) => { unref?(): void }
  clearInterval?: (handle: unknown) => void
}

export function createScheduler(options: SchedulerOptions): Scheduler {
  const { logger } = options
  const startTimer = options.setInterval ?? setInterval
  const stopTimer = options.clearInterval ?? ((handle) => clearInterval(handle as NodeJS.Timeout))
  const timers: unknown[] = []
  const crons: ScheduledTask[] = []
  const running = new Set<Promise<void>>()

  /** Runs `task` unless its previous run is still going. */
  function guarded(name: string, task: Task): () => void {
    let busy = false
    return () => {
      if (busy) return
      busy = true
      const run = (async () => {
        try {
          await task()
        } catch (error) {
          logger.error({ err: error, task: name }, 'scheduled task failed')
        } finally {
          busy = false
        }
      })()
      running.add(run)
      void run.then(() => running.delete(run))
    }
  }

  return {
    every(name, intervalMs, task) {
      const handle = startTimer(guarded(name, task), intervalMs)
      // Housekeeping never keeps a process alive on its own.
      handle.unref?.()
      timers.push(handle)
    },
    cron(name, expression, task) {
      if (!validate(expression))
        throw new ConfigError(`schedule of ${name}: "${expression}" is not a cron expression`)
      crons.push(schedule(expression, guarded(name, task), { timezone: 'UTC' }))
    },
    async stop() {
      for (const handle of timers.splice(0)) stopTimer(handle)
      for (const task of crons.splice(0)) await task.stop()
      // Runs in progress get a few seconds; one waiting on a receiver does not hold the stop.
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise((resolve) => setTimeout(resolve, 5000).unref()),
      ])
    },
  }
}
