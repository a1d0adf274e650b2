import { describeAction } from '../../producers/guard/control-command.ts'
import { createHash } from 'node:crypto'
import type { Alert } from '../../alerts/alert.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'

/** What a detector found on one call, before it is made an alert and a command request. */
export interface Detection {
  /** budget, anomaly, loop or policy. */
  type: 'budget' | 'anomaly' | 'loop' | 'policy'
  /** The rule that fired, e.g. `budget:user-day@80`, `loop:fingerprint`, `policy:model`. */
  rule: string
  severity: Alert['severity']
  tenant: string
  scope: { kind: string; id: string }
  summary: string
  /**
   * What makes this detection one alert however often the condition is seen again: the rule,
   * the scope and the period or episode it belongs to (a replay or a redelivery repeats it).
   */
  episode: string
  evidence: {
    window: string
    observed: string
    threshold: string
    event_ids: string[]
  } & Record<string, unknown>
  /** The flag written into the audit row of the call that fired the rule. */
  flag: string
  /** A control-plane request when the rule says so. */
  command?: CommandRequestSpec
  /** Only a flag on the call, no alert: e.g. a call over a budget whose crossing alerted already. */
  silent?: boolean
}

export interface CommandRequestSpec {
  /** `cap`: the headroom left under a blocking budget, for guards' pre-call estimates. */
  action: 'block' | 'throttle' | 'downgrade' | 'cap'
  scope: { kind: string; id: string }
  /** Throttle: calls per minute; downgrade: the model to route to. */
  calls_per_minute?: number
  model?: string
  /** Cap: the budget's limit and the scope's spend when it was issued, decimal USD. */
  limit_usd?: string
  spent_usd?: string
  /** Epoch ms the command stops applying; undefined until resumed. */
  expires_at?: number
}

/** A request to the control plane; the control-plane issue publishes and enforces them. */
export interface CommandRequest {
  command_id: string
  action: CommandRequestSpec['action']
  tenant: string
  scope: { kind: string; id: string }
  calls_per_minute?: number
  model?: string
  limit_usd?: string
  spent_usd?: string
  issuer: string
  reason: string
  rule: string
  alert_id: string
  issued_at: string
  expires_at: string | null
  evidence: Detection['evidence']
}

/** A policy violation as replay lists it. */
export interface Violation {
  event_id: string
  occurred_at: string
  tenant: string
  agent_id: string
  task_category: string | null
  model: string
  severity: Alert['severity']
  rule: string
  reason: string
  mode: string
}

/** The decisions of one call: what the alerts topic, the alerts table and replay receive. */
export interface Decisions {
  alerts: Alert[]
  commands: CommandRequest[]
  violations: Violation[]
}

function digestId(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex')
  // A UUID-shaped id (version 8, "custom"): the same text always gives the same id.
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16)}${hex.slice(17, 20)}-${hex.slice(20, 32)}`
}

/** `budget.threshold`, `anomaly.single_call`, `loop.fingerprint`, `policy.model`, ... */
function alertType(detection: Detection): string {
  const name = detection.rule.slice(detection.rule.indexOf(':') + 1)
  if (detection.type !== 'budget' || detection.rule.startsWith('anomaly:'))
    return `${detection.type}.${name}`
  if (name.endsWith(':freeze')) return 'budget.freeze'
  if (name.endsWith(':exceeded')) return 'budget.exceeded'
  return 'budget.threshold'
}

/** Who made the call that raised an alert, for routes by team or agent and for the message. */
export interface Attribution {
  agent: string
  feature?: string
  user?: string
  team?: string
  session?: string
}

export function attributionOf(call: LlmCall): Attribution {
  return {
    agent: call.agent_id,
    ...(call.feature_id === undefined ? {} : { feature: call.feature_id }),
    ...(call.user_id === undefined ? {} : { user: call.user_id }),
    ...(call.team_id === undefined ? {} : { team: call.team_id }),
    ...(call.session_id === undefined ? {} : { session: call.session_id }),
  }
}

/** The alert of a detection on a call; its id follows from its dedup key. */
export function alertOf(detection: Detection, call: LlmCall): Alert {
  const dedupKey = `${detection.tenant}|${detection.rule}|${detection.scope.kind}:${detection.scope.id}|${detection.episode}`
  return {
    alert_id: digestId(`alert|${dedupKey}`),
    dedup_key: dedupKey,
    type: alertType(detection),
    severity: detection.severity,
    scope: detection.scope,
    summary: detection.summary,
    occurred_at: new Date(call.occurred_at).toISOString(),
    evidence: {
      tenant: detection.tenant,
      rule: detection.rule,
      who: attributionOf(call),
      ...detection.evidence,
      ...(detection.command && detection.command.action !== 'cap'
        ? { command: commandText(detection.command, detection.tenant) }
        : {}),
    },
  }
}

/** What a rule's command does, as a person reads it in a notification. */
function commandText(spec: CommandRequestSpec, tenant: string): string {
  const until =
    spec.expires_at === undefined
      ? 'until resumed'
      : `until ${new Date(spec.expires_at).toISOString()}`
  const { kind, id } = spec.scope
  // How to lift it, for the scopes `spendguard resume` names by a flag.
  const lift = ['agent', 'feature', 'user', 'session', 'model'].includes(kind)
    ? `; lift it: spendguard resume --${kind} ${id} --tenant ${tenant}`
    : ''
  return `${describeAction(spec)} ${kind} ${id} ${until}${lift}`
}

/** The command request of a detection that asks for one, tied to its alert. */
export function commandOf(
  detection: Detection,
  alert: Alert,
  occurredAt: number,
): CommandRequest | undefined {
  const spec = detection.command
  if (!spec) return undefined
  return {
    command_id: digestId(
      `command|${alert.dedup_key}|${spec.action}|${spec.scope.kind}:${spec.scope.id}`,
    ),
    action: spec.action,
    tenant: detection.tenant,
    scope: spec.scope,
    ...(spec.calls_per_minute === undefined ? {} : { calls_per_minute: spec.calls_per_minute }),
    ...(spec.model === undefined ? {} : { model: spec.model }),
    ...(spec.limit_usd === undefined ? {} : { limit_usd: spec.limit_usd }),
    ...(spec.spent_usd === undefined ? {} : { spent_usd: spec.spent_usd }),
    issuer: 'spendguard-detector',
    reason: detection.summary,
    rule: detection.rule,
    alert_id: alert.alert_id,
    issued_at: new Date(occurredAt).toISOString(),
    expires_at: spec.expires_at === undefined ? null : new Date(spec.expires_at).toISOString(),
    evidence: detection.evidence,
  }
}
