import type { Logger } from '../platform/logger.ts'
import { retrying, type RetryPolicy } from '../platform/retry-policy.ts'
import type { Alert } from './alert.ts'
import type { Receiver } from './receivers.ts'
import { receiversFor, type AlertRouting } from './routing.ts'

/** What happened to one alert at one receiver (the `alert_deliveries` table). */
export interface Delivery {
  alert_id: string
  receiver: string
  kind: Receiver['kind']
  status: 'delivered' | 'failed' | 'suppressed'
  /** A notification that the alert fired, or that its condition cleared. */
  action: 'trigger' | 'resolve'
  attempts: number
  /** Alerts of the same type and scope the cooldown held back and this one reports. */
  suppressed: number
  reason: string
  at: number
}

export interface AlertRouter {
  /**
   * Queues an alert for its receivers; deliveries run in order per receiver. `done` names
   * receivers already told (an alert taken back from the outbox after a restart).
   */
  route(alert: Alert, done?: ReadonlySet<string>): void
  /**
   * Tells the receivers that were notified of each open alert matching `cleared` that its
   * condition cleared (PagerDuty: `resolve` on the dedup key), once. Returns how many.
   */
  resolve(cleared: (alert: Alert) => boolean, reason: string): number
  /**
   * Sends a digest to the digest receivers (in order with their alerts, with the same retries);
   * resolves with the receivers that took it.
   */
  digest(title: string, lines: string[]): Promise<string[]>
  /** Alerts notified before a restart and not resolved since, with the receivers told. */
  reopen(open: Array<{ alert: Alert; receivers: string[] }>): void
  /** Resolves when every queued delivery is done (delivered, or failed for good). */
  drain(): Promise<void>
}

export interface AlertRouterOptions {
  routing: AlertRouting
  receivers: Receiver[]
  logger: Logger
  now: () => number
  sleep: (ms: number) => Promise<void>
  /** Delivery outcomes (the audit table); a failure to record is logged, not retried. */
  record?: (delivery: Delivery) => Promise<void>
  retry?: RetryPolicy
}

/**
 * Routes alerts to receivers with a cooldown per receiver, alert type and scope (repeats within
 * it are counted into the next notification), delivering to each receiver in order, retrying
 * what can be retried (429 and Retry-After honoured, 5xx, unreachable) with backoff, and
 * recording each outcome; a receiver that refuses an alert for good (4xx) has it recorded as
 * failed with the reason and the queue moves on.
 */
export function createAlertRouter(options: AlertRouterOptions): AlertRouter {
  const { routing, logger } = options
  const byName = new Map(options.receivers.map((receiver) => [receiver.name, receiver]))
  const queues = new Map<string, Promise<void>>()
  /** Per receiver, type and scope: when the last notification went, and what was held since. */
  const cooldowns = new Map<string, { sentAt: number; held: number }>()
  const policy = options.retry ?? { baseMs: 1000, maxMs: 60_000 }
  /** Records of suppressed alerts still being written: drain waits for them too. */
  const writing = new Set<Promise<void>>()
  const track = (promise: Promise<void>) => {
    writing.add(promise)
    void promise.finally(() => writing.delete(promise))
  }

  const record = async (delivery: Delivery) => {
    try {
      await options.record?.(delivery)
    } catch (error) {
      logger.warn({ err: error, alert: delivery.alert_id }, 'alert delivery not recorded')
    }
  }

  /** Alerts notified and not resolved: by dedup key, with the receivers they went to. */
  const open = new Map<string, { alert: Alert; receivers: Set<string> }>()

  const enqueue = (name: string, job: () => Promise<void>) => {
    const previous = queues.get(name) ?? Promise.resolve()
    queues.set(name, previous.then(job))
  }

  async function deliver(
    receiver: Receiver,
    alert: Alert,
    suppressed: number,
    resolved?: string,
  ): Promise<void> {
    let attempts = 0
    const action = resolved === undefined ? 'trigger' : 'resolve'
    try {
      await retrying(
        () => {
          attempts++
          return receiver.send({
            alert,
            suppressed,
            ...(resolved === undefined ? {} : { resolved }),
          })
        },
        {
          policy,
          sleep: options.sleep,
          onRetry: (error, attempt, delayMs) =>
            logger.warn(
              { receiver: receiver.name, alert: alert.alert_id, attempt, delayMs, err: error },
              'alert delivery failed; retrying',
            ),
        },
      )
      await record({
        alert_id: alert.alert_id,
        receiver: receiver.name,
        kind: receiver.kind,
        status: 'delivered',
        action,
        attempts,
        suppressed,
        reason: resolved ?? '',
        at: options.now(),
      })
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      logger.error(
        { receiver: receiver.name, alert: alert.alert_id, reason },
        'alert not delivered',
      )
      await record({
        alert_id: alert.alert_id,
        receiver: receiver.name,
        kind: receiver.kind,
        status: 'failed',
        action,
        attempts,
        suppressed,
        reason,
        at: options.now(),
      })
    }
  }

  return {
    route(alert, done) {
      const evidence = alert.evidence as { tenant?: string }
      const names = receiversFor(routing, alert, {
        tenant: evidence.tenant,
        team: alert.scope.kind === 'team' ? alert.scope.id : undefined,
        agent: alert.scope.kind === 'agent' ? alert.scope.id : undefined,
      }).filter((name) => !done?.has(name))
      if (names.length === 0 && !done) logger.info({ alert }, 'alert')
      const now = options.now()
      for (const name of names) {
        const receiver = byName.get(name)
        if (!receiver) continue
        // A more severe alert of the same type and scope is not held back by a milder one.
        const key = `${name}|${evidence.tenant ?? ''}|${alert.type}|${alert.severity}|${alert.scope.kind}:${alert.scope.id}`
        const cooldown = cooldowns.get(key)
        if (cooldown && now - cooldown.sentAt < routing.cooldown) {
          cooldown.held++
          track(
            record({
              alert_id: alert.alert_id,
              receiver: name,
              kind: receiver.kind,
              status: 'suppressed',
              action: 'trigger',
              attempts: 0,
              suppressed: 0,
              reason: 'within the cooldown of an earlier notification',
              at: now,
            }),
          )
          continue
        }
        cooldowns.set(key, { sentAt: now, held: 0 })
        const suppressed = cooldown?.held ?? 0
        const entry = open.get(alert.dedup_key) ?? { alert, receivers: new Set<string>() }
        entry.receivers.add(name)
        open.set(alert.dedup_key, entry)
        enqueue(name, () => deliver(receiver, alert, suppressed))
      }
    },
    resolve(cleared, reason) {
      let count = 0
      for (const [key, { alert, receivers }] of open) {
        if (!cleared(alert)) continue
        open.delete(key)
        count++
        for (const name of receivers) {
          const receiver = byName.get(name)
          if (receiver) enqueue(name, () => deliver(receiver, alert, 0, reason))
        }
      }
      return count
    },
    async digest(title, lines) {
      const names =
        routing.digests.to ??
        options.receivers.filter((receiver) => receiver.kind === 'slack').map((r) => r.name)
      const taken: string[] = []
      const sends = names.map(
        (name) =>
          new Promise<void>((resolve) => {
            const receiver = byName.get(name)
            if (!receiver?.digest) return resolve()
            enqueue(name, async () => {
              try {
                // A digest is not worth holding the receiver's queue for long: 15 retries
                // (about a quarter of an hour), then it is logged as not delivered.
                await retrying(() => receiver.digest!(title, lines), {
                  policy: { ...policy, maxRetries: 15 },
                  sleep: options.sleep,
                })
                taken.push(name)
              } catch (error) {
                logger.error({ receiver: name, err: error }, 'digest not delivered')
              }
              resolve()
            })
          }),
      )
      await Promise.all(sends)
      return taken
    },
    reopen(alerts) {
      for (const { alert, receivers } of alerts)
        if (!open.has(alert.dedup_key))
          open.set(alert.dedup_key, { alert, receivers: new Set(receivers) })
    },
    async drain() {
      for (;;) {
        const pending = [...queues.values()]
        await Promise.all([...pending, ...writing])
        if ([...queues.values()].every((queue, i) => queue === pending[i])) return
      }
    },
  }
}
