import { formatUsd, parseUsd, type Femtos } from '../../platform/money.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { dayStart, DAY_MS, monthStart } from '../windows/window-spans.ts'
import type { Detection } from './detection.ts'
import type { Detector, Subject, WindowReader } from './detector.ts'
import type { Budget, Rules, ScopeKind } from './rules.ts'
import { StagedMap, type StageCursor } from './staged-map.ts'

const ROLLING_MINUTE_MS = 60_000

function scopeKeyOf(kind: ScopeKind, call: LlmCall): string | undefined {
  switch (kind) {
    case 'agent':
      return call.agent_id
    case 'feature':
      return call.feature_id
    case 'user':
      return call.user_id
    case 'session':
      return call.session_id
    case 'team':
      return call.team_id
    case 'tenant':
      return call.tenant_id
  }
}

function nextMonth(ms: number): number {
  const date = new Date(monthStart(ms))
  return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1)
}

/** Where a budget's spend so far comes from, for one call; the period it belongs to. */
interface Period {
  /** Names the period in dedup keys: `2026-11-24`, `2026-11`, a session id, `total`. */
  label: string
  window: string
  /** When a block for this period lifts; undefined when only a resume lifts it. */
  endsAt: number | undefined
}

function periodOf(budget: Budget, call: LlmCall): Period | undefined {
  const t = call.occurred_at
  switch (budget.period) {
    case 'call':
      return { label: call.event_id, window: 'call', endsAt: undefined }
    case 'day':
      return {
        label: new Date(dayStart(t)).toISOString().slice(0, 10),
        window: 'day',
        endsAt: dayStart(t) + DAY_MS,
      }
    case 'month':
      return {
        label: new Date(monthStart(t)).toISOString().slice(0, 7),
        window: 'month',
        endsAt: nextMonth(t),
      }
    case 'session':
      return call.session_id === undefined
        ? undefined
        : { label: `session ${call.session_id}`, window: 'session', endsAt: undefined }
    case 'minute_tokens': {
      const minute = Math.floor(t / ROLLING_MINUTE_MS)
      return { label: `minute ${minute}`, window: 'rolling 1m', endsAt: t + ROLLING_MINUTE_MS }
    }
    case 'total':
      return { label: 'total', window: 'total', endsAt: undefined }
  }
}

/**
 * When a fired threshold may be forgotten: once no call can fall in its period any more (day
 * and month: a day after they end, for late events); session and total thresholds fire once for
 * good (a month for a session).
 */
function forgetAfter(budget: Budget, period: Period, at: number): number {
  switch (budget.period) {
    case 'day':
    case 'month':
      return period.endsAt! + DAY_MS
    case 'minute_tokens':
    case 'call':
      return at + 2 * ROLLING_MINUTE_MS
    case 'session':
      return at + 31 * DAY_MS
    case 'total':
      return Number.POSITIVE_INFINITY
  }
}

interface TokenRun {
  times: number[]
  tokens: number[]
}

/**
 * Budgets per call, session, UTC day, UTC month, tokens per rolling minute and total, scoped to
 * an agent, feature, user, session, team or tenant ("*": each separately). Day and month
 * spend is read from the live windows (rebuilt from the audit after a restart); session spend
 * from the session's windows; rolling-minute tokens and totals are kept here. Each threshold
 * of `alert_at` fires once per scope and period; every call at or over the limit is flagged.
 */
export function createBudgetDetector(rules: Rules, cursor: StageCursor): Detector {
  const budgets = rules.budgets.map((budget) => ({
    budget,
    limit: budget.limit_usd === undefined ? undefined : parseUsd(budget.limit_usd),
  }))
  const userDayPercent = rules.anomalies.user_daily_budget_percent
  /** Dedup key -> event time it fired at. */
  const fired = new StagedMap<string, number>(cursor)
  const totals = new StagedMap<string, Femtos>(cursor)
  const minuteTokens = new StagedMap<string, TokenRun>(cursor)

  function spentBefore(
    budget: Budget,
    scopeKey: string,
    subject: Subject,
    reader: WindowReader,
  ): bigint {
    const call = subject.call
    const t = call.occurred_at
    switch (budget.period) {
      case 'call':
        return 0n
      case 'day':
      case 'month':
        return reader.totals(budget.scope.kind, call.tenant_id, scopeKey, budget.period, t).cost
      case 'session': {
        const session = call.session_id!
        // A session's spend: its current and previous UTC month (sessions are shorter).
        const current = reader.totals('session', call.tenant_id, session, 'month', t).cost
        const previous = reader.totals(
          'session',
          call.tenant_id,
          session,
          'month',
          monthStart(t) - 1,
        ).cost
        return current + previous
      }
      case 'total':
        return totals.get(`${budget.id}|${call.tenant_id}|${scopeKey}`) ?? 0n
      case 'minute_tokens': {
        const run = minuteTokens.get(`${budget.id}|${call.tenant_id}|${scopeKey}`)
        if (!run) return 0n
        let sum = 0
        for (let i = 0; i < run.times.length; i++)
          if (run.times[i]! > t - ROLLING_MINUTE_MS && run.times[i]! <= t) sum += run.tokens[i]!
        return BigInt(sum)
      }
    }
  }

  function remember(budget: Budget, scopeKey: string, subject: Subject, amount: bigint): void {
    const call = subject.call
    const id = `${budget.id}|${call.tenant_id}|${scopeKey}`
    if (budget.period === 'total') totals.set(id, (totals.get(id) ?? 0n) + amount)
    if (budget.period === 'minute_tokens') {
      const run = minuteTokens.get(id) ?? { times: [], tokens: [] }
      const keep = run.times.findIndex((time) => time > call.occurred_at - ROLLING_MINUTE_MS)
      const from = keep < 0 ? run.times.length : keep
      minuteTokens.set(id, {
        times: [...run.times.slice(from), call.occurred_at],
        tokens: [...run.tokens.slice(from), Number(amount)],
      })
    }
  }

  const show = (budget: Budget, amount: bigint): string =>
    budget.period === 'minute_tokens' ? `${amount} tokens` : `$${formatUsd(amount)}`

  return {
    inspect(subject, reader) {
      const call = subject.call
      const found: Detection[] = []
      for (const { budget, limit } of budgets) {
        const scopeKey = scopeKeyOf(budget.scope.kind, call)
        if (scopeKey === undefined) continue
        if (budget.scope.value !== '*' && budget.scope.value !== scopeKey) continue
        const period = periodOf(budget, call)
        if (!period) continue
        const amount =
          budget.period === 'minute_tokens'
            ? BigInt(call.input_tokens + call.output_tokens)
            : (subject.cost ?? 0n)
        const cap = limit ?? BigInt(budget.limit_tokens!)
        const before = spentBefore(budget, scopeKey, subject, reader)
        const after = before + amount
        remember(budget, scopeKey, subject, amount)
        const scope = { kind: budget.scope.kind, id: scopeKey }
        const reached = (percent: number): boolean =>
          after * 1_000_000n >= BigInt(Math.round(percent * 10_000)) * cap
        const evidence = (percent: number) => ({
          window: period.window,
          period: period.label,
          observed: show(budget, after),
          threshold: show(budget, (cap * BigInt(Math.round(percent * 10_000))) / 1_000_000n),
          limit: show(budget, cap),
          percent,
          event_ids: [call.event_id],
        })
        const once = (episode: string): boolean => {
          const key = `${call.tenant_id}|${budget.id}|${scopeKey}|${episode}`
          if (fired.get(key) !== undefined) return false
          fired.set(key, forgetAfter(budget, period, call.occurred_at))
          return true
        }
        const exceeded = budget.period === 'call' ? after > cap : reached(100)
        // A per-call budget has no 25/50/80 %: one call is over its limit or not. Reaching the
        // limit is always reported (and blocked when on_exceed says so), listed in alert_at or not.
        const thresholds =
          budget.period === 'call'
            ? []
            : budget.alert_at.includes(100)
              ? budget.alert_at
              : [
                  ...budget.alert_at.filter((p) => p < 100),
                  100,
                  ...budget.alert_at.filter((p) => p > 100),
                ]
        const crossedFrom = found.length
        for (const percent of thresholds) {
          if (!reached(percent) || !once(`${period.label}@${percent}`)) continue
          const over = percent >= 100
          found.push({
            type: 'budget',
            rule: `budget:${budget.id}@${percent}`,
            severity: !over
              ? percent >= 80
                ? 'warning'
                : 'info'
              : budget.on_exceed === 'block'
                ? 'critical'
                : budget.on_exceed === 'warn'
                  ? 'warning'
                  : 'info',
            tenant: call.tenant_id,
            scope,
            summary: `${scope.kind} ${scopeKey} reached ${percent} % of budget ${budget.id} (${show(budget, after)} of ${show(budget, cap)}, ${period.window} ${period.label})`,
            episode: `${period.label}@${percent}`,
            evidence: evidence(percent),
            flag: `budget:${budget.id}@${percent}`,
            ...(budget.on_exceed !== 'block'
              ? {}
              : over
                ? {
                    command: {
                      action: 'block' as const,
                      scope,
                      ...(period.endsAt === undefined ? {} : { expires_at: period.endsAt }),
                    },
                  }
                : budget.period !== 'minute_tokens'
                  ? {
                      // Below the limit: the headroom left, so guards can refuse a call whose
                      // estimate would cross it (docs/control.md, pre-call estimates).
                      command: {
                        action: 'cap' as const,
                        scope,
                        limit_usd: formatUsd(cap),
                        spent_usd: formatUsd(after),
                        ...(period.endsAt === undefined ? {} : { expires_at: period.endsAt }),
                      },
                    }
                  : {}),
          })
        }
        // One call crossing several thresholds tells guards its headroom once: the newest cap,
        // or none when it crossed the limit too (the block says it all).
        const crossed = found.slice(crossedFrom)
        const blocked = crossed.some((detection) => detection.command?.action === 'block')
        crossed.forEach((detection, index) => {
          if (
            detection.command?.action === 'cap' &&
            (blocked || crossed.slice(index + 1).some((later) => later.command?.action === 'cap'))
          )
            delete detection.command
        })
        if (exceeded && budget.period === 'call' && once(period.label)) {
          found.push({
            type: 'budget',
            rule: `budget:${budget.id}@100`,
            severity: budget.on_exceed === 'log' ? 'info' : 'warning',
            tenant: call.tenant_id,
            scope,
            summary: `one call of ${scope.kind} ${scopeKey} cost ${show(budget, after)}, over the per-call budget ${budget.id} of ${show(budget, cap)}`,
            episode: period.label,
            evidence: evidence(100),
            flag: `budget:${budget.id}:exceeded`,
          })
        } else if (exceeded) {
          // Every call at or over the limit carries the flag, not only the one that crossed it.
          const last = found[found.length - 1]
          if (!last || last.rule !== `budget:${budget.id}@100` || last.scope.id !== scopeKey)
            found.push(overLimit(budget, scope, call, after, cap, period, show))
        }
        const freezeAt = budget.freeze_non_critical_at
        if (
          freezeAt !== undefined &&
          rules.agents[call.agent_id]?.critical === false &&
          reached(freezeAt) &&
          once(`${period.label}:freeze:${call.agent_id}`)
        ) {
          const agent = { kind: 'agent', id: call.agent_id }
          found.push({
            type: 'budget',
            rule: `budget:${budget.id}:freeze`,
            severity: 'warning',
            tenant: call.tenant_id,
            scope: agent,
            summary: `non-critical agent ${call.agent_id} frozen: ${scope.kind} ${scopeKey} reached ${freezeAt} % of budget ${budget.id}`,
            episode: `${period.label}:freeze`,
            evidence: evidence(freezeAt),
            flag: `budget:${budget.id}:freeze`,
            command: {
              action: 'block',
              scope: agent,
              ...(period.endsAt === undefined ? {} : { expires_at: period.endsAt }),
            },
          })
        }
        if (
          budget.scope.kind === 'user' &&
          budget.period === 'day' &&
          reached(userDayPercent) &&
          once(`${period.label}:anomaly@${userDayPercent}`)
        ) {
          found.push({
            type: 'anomaly',
            rule: 'anomaly:user_budget',
            severity: 'warning',
            tenant: call.tenant_id,
            scope,
            summary: `user ${scopeKey} is above ${userDayPercent} % of the daily budget ${budget.id} (${show(budget, after)} of ${show(budget, cap)})`,
            episode: `${period.label}@${userDayPercent}`,
            evidence: evidence(userDayPercent),
            flag: 'anomaly:user_budget',
          })
        }
      }
      return found
    },
    commit(stage) {
      fired.commit(stage)
      totals.commit(stage)
      minuteTokens.commit(stage)
    },
    discard(stage) {
      fired.discard(stage)
      totals.discard(stage)
      minuteTokens.discard(stage)
    },
    remember(alert) {
      const evidence = alert.evidence as { tenant?: string; rule?: string; period?: string }
      const threshold = /^budget:(.+)@([\d.]+)$/.exec(evidence.rule ?? '')
      if (!threshold || evidence.period === undefined || evidence.tenant === undefined) return
      const [, id, percent] = threshold
      // Forgotten like any fired threshold: once its period can take no call (a month at most).
      fired.set(
        `${evidence.tenant}|${id}|${alert.scope.id}|${evidence.period}@${percent}`,
        Date.parse(alert.occurred_at) + 33 * DAY_MS,
      )
    },
    sweep(now) {
      // Day and month keys are needed until their period is over (plus a day of lateness).
      fired.sweep((until) => until < now)
      minuteTokens.sweep((run) => (run.times[run.times.length - 1] ?? 0) < now - ROLLING_MINUTE_MS)
    },
  }
}

function overLimit(
  budget: Budget,
  scope: { kind: string; id: string },
  call: LlmCall,
  after: bigint,
  cap: bigint,
  period: Period,
  show: (budget: Budget, amount: bigint) => string,
): Detection {
  return {
    type: 'budget',
    rule: `budget:${budget.id}:exceeded`,
    severity: 'info',
    tenant: call.tenant_id,
    scope,
    summary: `${scope.kind} ${scope.id} is over budget ${budget.id} (${show(budget, after)} of ${show(budget, cap)})`,
    episode: period.label,
    evidence: {
      window: period.window,
      observed: show(budget, after),
      threshold: show(budget, cap),
      event_ids: [call.event_id],
    },
    flag: `budget:${budget.id}:exceeded`,
    // Only a flag on the call: the crossing alerted already.
    silent: true,
  }
}
