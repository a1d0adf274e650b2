import type { Logger } from '../platform/logger.ts'
import { retrying, type RetryPolicy } from '../platform/retry-policy.ts'
import { alertStreamOf, endsWhenQuiet, type Alert } from './alert.ts'
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
   * condition cleared (PagerDuty: `resolve` on the dedup key), once; `cleared` sees the
   * incident's first alert and the ids of every alert told under it. Returns how many. With
   * `only: 'routed'`, alerts taken back at start (`reopen`) and not routed here since are left
   * to the process that clears them itself (on Kafka every process took them back).
   */
  resolve(
    cleared: (alert: Alert, joined: ReadonlySet<string>) => boolean,
    reason: string,
    only?: 'all' | 'routed',
  ): number
  /**
   * Sends a digest to the digest receivers (in order with their alerts, with the same retries);
   * resolves with the receivers that took it.
   */
  digest(title: string, lines: string[]): Promise<string[]>
  /**
   * When an alert of the same tenant, type and scope as `alert` was last routed (notified or held
   * back by the cooldown), by this router's clock.
   */
  lastSeen(alert: Alert): number | undefined
  /** Forgets cooldowns and sightings older than `before` (they can no longer hold anything). */
  forget(before: number): void
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
  /**
   * `joined`: the ids of repeats told under this entry's dedup key (an ongoing loop or anomaly),
   * closed with it so that a restart does not take them back as incidents of their own.
   */
  interface OpenEntry {
    alert: Alert
    receivers: Set<string>
    joined: Set<string>
    /** Taken back at start (`reopen`) and not routed by this process since. */
    reopened: boolean
  }
  const open = new Map<string, OpenEntry>()
  /** Open loop and anomaly alerts by tenant, type and scope. */
  const openStreams = new Map<string, OpenEntry>()

  /** Tenant, type and scope -> when an alert of them was last routed. */
  const seen = new Map<string, number>()
  const sighted = (alert: Alert) => seen.set(alertStreamOf(alert), options.now())

  /**
   * The open incident an alert belongs to, made open if it was not: for a loop or anomaly the
   * one still open for its tenant, type and scope (its repeats join it), else its dedup key's.
   */
  const incidentOf = (alert: Alert): OpenEntry => {
    const stream = endsWhenQuiet(alert) ? alertStreamOf(alert) : undefined
    const entry = (stream === undefined ? undefined : openStreams.get(stream)) ??
      open.get(alert.dedup_key) ?? {
        alert,
        receivers: new Set<string>(),
        joined: new Set<string>(),
        reopened: false,
      }
    entry.joined.add(alert.alert_id)
    open.set(entry.alert.dedup_key, entry)
    if (stream !== undefined) openStreams.set(stream, entry)
    return entry
  }

  const enqueue = (name: string, job: () => Promise<void>) => {
    const previous = queues.get(name) ?? Promise.resolve()
    queues.set(name, previous.then(job))
  }

  async function deliver(
    receiver: Receiver,
    alert: Alert,
    suppressed: number,
    resolved?: string,
    joined: ReadonlySet<string> = new Set(),
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
      // The repeats told under this incident are resolved with it.
      for (const id of joined)
        if (id !== alert.alert_id)
          await record({
            alert_id: id,
            receiver: receiver.name,
            kind: receiver.kind,
            status: 'delivered',
            action,
            attempts: 0,
            suppressed: 0,
            reason: `resolved with ${alert.alert_id}: ${resolved ?? ''}`,
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
      const evidence = alert.evidence as {
        tenant?: string
        who?: { agent?: string; team?: string }
      }
      // Routes by team or agent match the alert's own scope, else the call that raised it.
      const names = receiversFor(routing, alert, {
        tenant: evidence.tenant,
        team: alert.scope.kind === 'team' ? alert.scope.id : evidence.who?.team,
        agent: alert.scope.kind === 'agent' ? alert.scope.id : evidence.who?.agent,
      }).filter((name) => !done?.has(name))
      sighted(alert)
      if (names.length === 0 && !done) logger.info({ alert }, 'alert')
      const now = options.now()
      for (const name of names) {
        const receiver = byName.get(name)
        if (!receiver) continue
        // A more severe alert of the same type and scope is not held back by a milder one.
        const key = `${name}|${alert.severity}|${alertStreamOf(alert)}`
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
        // A loop or anomaly still open: this repeat is told under the open one's dedup key
        // (PagerDuty adds it to the incident), which the quiet period resolves once.
        const incident = incidentOf(alert)
        incident.receivers.add(name)
        incident.reopened = false
        const told =
          incident.alert.dedup_key === alert.dedup_key
            ? alert
            : { ...alert, dedup_key: incident.alert.dedup_key }
        enqueue(name, () => deliver(receiver, told, suppressed))
      }
    },
    resolve(cleared, reason, only = 'all') {
      let count = 0
      for (const [key, { alert, receivers, joined, reopened }] of open) {
        if (!cleared(alert, joined) || (only === 'routed' && reopened)) continue
        open.delete(key)
        if (openStreams.get(alertStreamOf(alert))?.alert === alert)
          openStreams.delete(alertStreamOf(alert))
        count++
        for (const name of receivers) {
          const receiver = byName.get(name)
          if (receiver) enqueue(name, () => deliver(receiver, alert, 0, reason, joined))
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
    lastSeen: (alert) => seen.get(alertStreamOf(alert)),
    forget(before) {
      for (const [key, at] of seen) if (at < before) seen.delete(key)
      // A cooldown still running holds, however long it was configured.
      const running = options.now() - routing.cooldown
      for (const [key, { sentAt }] of cooldowns)
        if (sentAt < before && sentAt < running) cooldowns.delete(key)
    },
    reopen(alerts) {
      // Oldest first: an ongoing loop's first alert is the incident its later ones joined.
      const ordered = [...alerts].sort((a, b) =>
        a.alert.occurred_at.localeCompare(b.alert.occurred_at),
      )
      for (const { alert, receivers } of ordered) {
        if (open.has(alert.dedup_key)) continue
        // A repeat of a loop still open before the restart joins its incident: it stays one.
        const held = open.size
        const incident = incidentOf(alert)
        // A new incident here, made by whichever process routed it before the restart.
        if (open.size > held) incident.reopened = true
        for (const name of receivers) incident.receivers.add(name)
        // What was seen before the restart is not known: the quiet period starts again.
        if (!seen.has(alertStreamOf(alert))) sighted(alert)
      }
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

/**
 * Resolves the open incidents that a lifted block answered: those with an alert among
 * `lifted` told under them, unless an alert told under them has a block still in force
 * (`blocked`: a later repeat blocked again is an incident that has not cleared).
 */
export function resolveLifted(
  router: AlertRouter,
  alerts: { lifted: ReadonlySet<string | undefined>; blocked: ReadonlySet<string | undefined> },
  reason: string,
  only: 'all' | 'routed' = 'all',
): number {
  return router.resolve(
    (_alert, joined) => {
      const ids = [...joined]
      return ids.some((id) => alerts.lifted.has(id)) && !ids.some((id) => alerts.blocked.has(id))
    },
    reason,
    only,
  )
}
