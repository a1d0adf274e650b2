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

const SEVERITY = { block: 3, throttle: 2, downgrade: 1, resume: 0 } as const
const MINUTE = 60_000

function scopeKey(kind: ControlScopeKind, tenant: string | undefined, id: string): string {
  return kind === 'global' ? 'global' : `${kind}\u0000${tenant ?? 'default'}\u0000${id}`
}

/**
 * The commands in force, kept so that `check` is a handful of map lookups: one per scope kind
 * of the call (global, tenant, agent, feature, user, session, model), no network, no parsing.
 * Commands are verified once, on arrival; expired ones stop applying when their time passes.
 */
export class GuardState {
  readonly #verify: ReturnType<typeof createVerifier>
  readonly #byScope = new Map<string, Map<string, ControlCommand & { until: number }>>()
  /** Throttles: the minute being counted and the calls made in it, per command. */
  readonly #rates = new Map<string, { minute: number; calls: number }>()
  readonly counters: GuardCounters = {
    applied: 0,
    ignored: { malformed: 0, unsigned: 0, unknown_key: 0, forged: 0, expired: 0 },
  }

  constructor(trustedKeys: readonly TrustedKey[]) {
    this.#verify = createVerifier(trustedKeys)
  }

  /** Takes one command from the source; an unsigned, forged or expired one is counted and ignored. */
  apply(raw: unknown, now: number): Verdict {
    const verdict = this.#verify(raw, now)
    if (!verdict.ok) {
      this.counters.ignored[verdict.reason]++
      return verdict
    }
    const command = verdict.command
    const key = scopeKey(command.scope.kind, command.tenant, command.scope.id)
    this.counters.applied++
    if (command.action === 'resume') {
      const held = this.#byScope.get(key)
      if (command.resumes === undefined) this.#byScope.delete(key)
      else {
        held?.delete(command.resumes)
        if (held?.size === 0) this.#byScope.delete(key)
      }
      return verdict
    }
    let held = this.#byScope.get(key)
    if (!held) {
      held = new Map()
      this.#byScope.set(key, held)
    }
    const until =
      command.expires_at === null ? Number.POSITIVE_INFINITY : Date.parse(command.expires_at)
    held.set(command.command_id, { ...command, until })
    return verdict
  }

  /** The commands in force at `now`, for a status page or `spendguard controls`. */
  active(now: number): ControlCommand[] {
    const out: ControlCommand[] = []
    for (const held of this.#byScope.values())
      for (const { until: _until, ...command } of held.values()) if (_until > now) out.push(command)
    return out
  }

  /** What the call may do: the most severe command in force on any of its scopes. */
  check(context: CallContext, now: number): GuardDecision {
    const tenant = context.tenant
    let strongest: (ControlCommand & { until: number }) | undefined
    const consider = (key: string) => {
      const held = this.#byScope.get(key)
      if (!held) return
      for (const command of held.values()) {
        if (command.until <= now || command.action === 'resume') continue
        if (!strongest || SEVERITY[command.action] > SEVERITY[strongest.action]) strongest = command
      }
    }
    if (this.#byScope.size === 0) return { action: 'allow' }
    consider('global')
    consider(scopeKey('tenant', tenant, tenant ?? 'default'))
    consider(scopeKey('agent', tenant, context.agent))
    if (context.feature !== undefined) consider(scopeKey('feature', tenant, context.feature))
    if (context.user !== undefined) consider(scopeKey('user', tenant, context.user))
    if (context.session !== undefined) consider(scopeKey('session', tenant, context.session))
    if (context.model !== undefined) consider(scopeKey('model', tenant, context.model))
    if (!strongest) return { action: 'allow' }
    const found = strongest
    const reason = `${found.reason} (${found.issuer}, ${found.scope.kind} ${found.scope.id})`
    if (found.action === 'block') return { action: 'block', reason, commandId: found.command_id }
    if (found.action === 'downgrade')
      return { action: 'downgrade', model: found.model ?? '', reason, commandId: found.command_id }
    // Throttle: calls counted per calendar minute of the guard's clock.
    const minute = Math.floor(now / MINUTE)
    const rate = this.#rates.get(found.command_id)
    const calls = rate && rate.minute === minute ? rate.calls : 0
    if (calls >= (found.calls_per_minute ?? 0))
      return {
        action: 'throttle',
        reason,
        commandId: found.command_id,
        retryAfterMs: (minute + 1) * MINUTE - now,
      }
    this.#rates.set(found.command_id, { minute, calls: calls + 1 })
    return { action: 'allow' }
  }
}
