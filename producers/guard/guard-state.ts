import {
  createVerifier,
  type ControlCommand,
  type ControlScopeKind,
  type TrustedKey,
  type Verdict,
} from './control-command.ts'

/** The attribution of the call about to be made, as the guard matches commands against it. */
export interface CallContext {
  tenant?: string | undefined
  agent: string
  feature?: string | undefined
  team?: string | undefined
  user?: string | undefined
  session?: string | undefined
  model?: string | undefined
}

export type GuardDecision =
  | { action: 'allow' }
  | { action: 'block'; reason: string; commandId: string }
  /** Over a throttle's calls per minute: this call must not be made now. */
  | { action: 'throttle'; reason: string; commandId: string; retryAfterMs: number }
  | { action: 'downgrade'; model: string; reason: string; commandId: string }

export type IgnoredReason = Exclude<Verdict, { ok: true }>['reason']

export interface GuardCounters {
  applied: number
  ignored: Record<IgnoredReason, number>
}

const SEVERITY = { block: 3, throttle: 2, downgrade: 1, cap: 0, resume: 0 } as const
const MINUTE = 60_000
const ALLOW: GuardDecision = { action: 'allow' }

type Held = ControlCommand & {
  until: number
  /** Cap: limit minus spend when issued, in USD, and what allowed estimates have taken since. */
  headroom: number
  reserved: number
  /** Made once: a blocked or downgraded call gets the same answer object every time. */
  decision: GuardDecision | undefined
  why: string
}

/**
 * The commands in force, kept so that `check` is a handful of map lookups: one per scope kind
 * of the call (global, tenant, agent, feature, user, session, model), no network, no parsing.
 * Commands are verified once, on arrival; expired ones stop applying when their time passes.
 */
export class GuardState {
  readonly #verify: ReturnType<typeof createVerifier>
  /** Tenant -> scope kind -> scope id -> command id -> command: lookups without building keys. */
  readonly #index = new Map<string, Map<ControlScopeKind, Map<string, Map<string, Held>>>>()
  readonly #global = new Map<string, Held>()
  #count = 0
  /** Throttles: the minute being counted and the calls made in it, per command. */
  readonly #rates = new Map<string, { minute: number; calls: number }>()
  readonly counters: GuardCounters = {
    applied: 0,
    ignored: { malformed: 0, unsigned: 0, unknown_key: 0, forged: 0, expired: 0 },
  }

  constructor(trustedKeys: readonly TrustedKey[]) {
    this.#verify = createVerifier(trustedKeys)
  }

  #held(command: ControlCommand, create: boolean): Map<string, Held> | undefined {
    if (command.scope.kind === 'global') return this.#global
    const tenant = command.tenant ?? 'default'
    let kinds = this.#index.get(tenant)
    if (!kinds) {
      if (!create) return undefined
      kinds = new Map()
      this.#index.set(tenant, kinds)
    }
    let ids = kinds.get(command.scope.kind)
    if (!ids) {
      if (!create) return undefined
      ids = new Map()
      kinds.set(command.scope.kind, ids)
    }
    let held = ids.get(command.scope.id)
    if (!held && create) {
      held = new Map()
      ids.set(command.scope.id, held)
    }
    return held
  }

  /** Takes one command from the source; an unsigned, forged or expired one is counted and ignored. */
  apply(raw: unknown, now: number): Verdict {
    const verdict = this.#verify(raw, now)
    if (!verdict.ok) {
      this.counters.ignored[verdict.reason]++
      return verdict
    }
    const command = verdict.command
    this.counters.applied++
    if (command.action === 'resume') {
      const held = this.#held(command, false)
      if (!held) return verdict
      this.#count -= held.size
      if (command.resumes === undefined) held.clear()
      else {
        // Lifting a budget's block lifts its caps too (their headroom is spent).
        const lifted = held.get(command.resumes)
        held.delete(command.resumes)
        if (lifted?.rule !== undefined)
          for (const [id, other] of held)
            if (other.action === 'cap' && budgetOf(other) === budgetOf(lifted)) held.delete(id)
      }
      this.#count += held.size
      return verdict
    }
    const held = this.#held(command, true)!
    if (command.action === 'cap') {
      // The latest cap of a budget on a scope replaces the earlier ones (and their reservations);
      // an older one read again (a reader that starts over) changes nothing.
      const budget = budgetOf(command)
      for (const other of held.values())
        if (
          other.action === 'cap' &&
          budgetOf(other) === budget &&
          Date.parse(other.issued_at) > Date.parse(command.issued_at)
        )
          return verdict
      for (const [id, other] of held)
        if (other.action === 'cap' && budgetOf(other) === budget && id !== command.command_id) {
          held.delete(id)
          this.#count--
        }
    }
    const until =
      command.expires_at === null ? Number.POSITIVE_INFINITY : Date.parse(command.expires_at)
    if (!held.has(command.command_id)) this.#count++
    const why = `${command.reason} (${command.issuer}, ${command.scope.kind} ${command.scope.id})`
    const decision: GuardDecision | undefined =
      command.action === 'block'
        ? { action: 'block', reason: why, commandId: command.command_id }
        : command.action === 'downgrade'
          ? {
              action: 'downgrade',
              model: command.model ?? '',
              reason: why,
              commandId: command.command_id,
            }
          : undefined
    const headroom =
      command.action === 'cap' ? Number(command.limit_usd ?? 0) - Number(command.spent_usd ?? 0) : 0
    if (held.get(command.command_id)?.action !== 'cap' || command.action !== 'cap')
      held.set(command.command_id, { ...command, until, decision, why, headroom, reserved: 0 })
    return verdict
  }

  /** The commands in force at `now`, for a status page or `spendguard controls`. */
  active(now: number): ControlCommand[] {
    const out: ControlCommand[] = []
    const collect = (held: Map<string, Held>) => {
      for (const {
        until,
        decision: _decision,
        why: _why,
        headroom: _headroom,
        reserved: _reserved,
        ...command
      } of held.values())
        if (until > now) out.push(command)
    }
    collect(this.#global)
    for (const kinds of this.#index.values())
      for (const ids of kinds.values()) for (const held of ids.values()) collect(held)
    return out
  }

  /**
   * What the call may do: the most severe command in force on any of its scopes. With a cost
   * estimate (USD), a call that would take a scope past a cap's headroom is blocked; one that is
   * allowed reserves its estimate against the caps of its scopes until the next cap arrives.
   */
  check(context: CallContext, now: number, estimateUsd?: number): GuardDecision {
    if (this.#count === 0) return ALLOW
    let strongest: Held | undefined
    // A throttle does not hide a downgrade, and the tightest throttle is the one that counts.
    let downgrade: Held | undefined
    let caps: Held[] | undefined
    const consider = (held: Map<string, Held> | undefined) => {
      if (!held) return
      for (const command of held.values()) {
        if (command.until <= now) continue
        if (command.action === 'cap') {
          if (estimateUsd !== undefined) (caps ??= []).push(command)
          continue
        }
        if (command.action === 'downgrade') downgrade ??= command
        if (
          !strongest ||
          SEVERITY[command.action] > SEVERITY[strongest.action] ||
          (command.action === 'throttle' &&
            strongest.action === 'throttle' &&
            (command.calls_per_minute ?? 0) < (strongest.calls_per_minute ?? 0))
        )
          strongest = command
      }
    }
    consider(this.#global)
    const tenant = context.tenant ?? 'default'
    const kinds = this.#index.get(tenant)
    if (kinds) {
      consider(kinds.get('tenant')?.get(tenant))
      consider(kinds.get('agent')?.get(context.agent))
      if (context.feature !== undefined) consider(kinds.get('feature')?.get(context.feature))
      if (context.team !== undefined) consider(kinds.get('team')?.get(context.team))
      if (context.user !== undefined) consider(kinds.get('user')?.get(context.user))
      if (context.session !== undefined) consider(kinds.get('session')?.get(context.session))
      if (context.model !== undefined) consider(kinds.get('model')?.get(context.model))
    }
    if (strongest?.decision) return strongest.decision
    if (caps && estimateUsd !== undefined) {
      for (const cap of caps)
        if (cap.reserved + estimateUsd > cap.headroom)
          return {
            action: 'block',
            reason: `a call estimated at $${estimateUsd.toFixed(6)} would cross ${cap.rule ?? 'a budget'} on ${cap.scope.kind} ${cap.scope.id}: $${cap.headroom.toFixed(6)} was left of $${cap.limit_usd}, $${cap.reserved.toFixed(6)} of it taken by calls since`,
            commandId: cap.command_id,
          }
    }
    let decision = strongest ? this.#rate(strongest, now) : ALLOW
    if (decision === ALLOW && downgrade?.decision) decision = downgrade.decision
    if (caps && estimateUsd !== undefined && decision.action !== 'throttle')
      for (const cap of caps) cap.reserved += estimateUsd
    return decision
  }

  /** A throttle: calls counted per calendar minute of the guard's clock. */
  #rate(found: Held, now: number): GuardDecision {
    const reason = found.why
    const minute = Math.floor(now / MINUTE)
    let rate = this.#rates.get(found.command_id)
    if (!rate) {
      rate = { minute, calls: 0 }
      this.#rates.set(found.command_id, rate)
    } else if (rate.minute !== minute) {
      rate.minute = minute
      rate.calls = 0
    }
    if (rate.calls >= (found.calls_per_minute ?? 0))
      return {
        action: 'throttle',
        reason,
        commandId: found.command_id,
        retryAfterMs: (minute + 1) * MINUTE - now,
      }
    rate.calls++
    return ALLOW
  }
}

/** The budget a cap was issued for (`budget:<id>@<percent>` -> `<id>`). */
function budgetOf(command: ControlCommand): string {
  const rule = command.rule ?? command.command_id
  const at = rule.lastIndexOf('@')
  return at < 0 ? rule : rule.slice(0, at)
}
