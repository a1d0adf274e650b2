import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { z } from 'zod'

/**
 * A control-plane command (SPEC section 8) as it travels on the compacted `control` topic and
 * the server-sent-event stream: what to do to which scope, who said so and why, until when, and
 * an Ed25519 signature over its canonical bytes, so a guard obeys only the processor and the CLI.
 */
export const CONTROL_SCOPE_KINDS = [
  'global',
  'tenant',
  'team',
  'agent',
  'feature',
  'user',
  'session',
  'model',
] as const
export type ControlScopeKind = (typeof CONTROL_SCOPE_KINDS)[number]

export const CONTROL_ACTIONS = ['block', 'throttle', 'downgrade', 'cap', 'resume'] as const

/** A decimal amount of US dollars, as text (exact: no binary fractions on the wire). */
const usd = z.string().regex(/^\d+(\.\d+)?$/, 'must be a decimal amount of USD')

export const controlCommandSchema = z.object({
  command_id: z.string().min(1),
  action: z.enum(CONTROL_ACTIONS),
  /** The tenant the scope belongs to; a global command names none. */
  tenant: z.string().min(1).optional(),
  scope: z.object({ kind: z.enum(CONTROL_SCOPE_KINDS), id: z.string() }),
  /** throttle: calls allowed per minute. */
  calls_per_minute: z.int().positive().optional(),
  /** downgrade: the model to use instead. */
  model: z.string().min(1).optional(),
  /**
   * cap: a budget that blocks when crossed, its limit and the scope's spend when issued; a
   * guard refuses a call whose pre-call estimate would cross what is left.
   */
  limit_usd: usd.optional(),
  spent_usd: usd.optional(),
  /** resume: the command it lifts (absent: every command on the scope). */
  resumes: z.string().min(1).optional(),
  /** A rule (`spendguard-detector`) or a person (`cli:alice`). */
  issuer: z.string().min(1),
  reason: z.string(),
  rule: z.string().optional(),
  /** The alert a rule's command answers (resolved when the command is lifted). */
  alert_id: z.string().optional(),
  evidence: z.record(z.string(), z.unknown()).optional(),
  issued_at: z.string(),
  expires_at: z.string().nullable(),
  /** Which trusted key signed it (key rotation: guards may trust several). */
  key_id: z.string().min(1),
  /** Ed25519 signature of `canonicalBytes`, base64. */
  signature: z.string().min(1),
})

export type ControlCommand = z.output<typeof controlCommandSchema>

/** What a command does, as a person reads it: `block`, `throttle to 6 calls/min`, ... */
export function describeAction(command: {
  action: string
  calls_per_minute?: number | undefined
  model?: string | undefined
}): string {
  return command.action === 'throttle'
    ? `throttle to ${command.calls_per_minute} calls/min`
    : command.action === 'downgrade'
      ? `downgrade to ${command.model}`
      : command.action
}
export type UnsignedCommand = Omit<ControlCommand, 'signature'>

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical)
  if (value !== null && typeof value === 'object') {
    // No prototype: a key named "__proto__" is a key like any other, covered by the signature.
    const out = Object.create(null) as Record<string, unknown>
    for (const key of Object.keys(value).sort()) {
      const field = (value as Record<string, unknown>)[key]
      if (field !== undefined) out[key] = canonical(field)
    }
    return out
  }
  return value
}

/** The bytes a signature covers: the command without its signature, keys sorted, no spaces. */
export function canonicalBytes(command: UnsignedCommand | ControlCommand): Buffer {
  const { signature: _signature, ...unsigned } = command as ControlCommand
  return Buffer.from(JSON.stringify(canonical(unsigned)), 'utf8')
}

/** A public key a guard trusts, by id: PEM text or a KeyObject. */
export interface TrustedKey {
  id: string
  publicKey: string | KeyObject
}

export type Verdict =
  | { ok: true; command: ControlCommand }
  | { ok: false; reason: 'malformed' | 'unsigned' | 'unknown_key' | 'forged' | 'expired' }

/** Verifies a command received from any source; never throws on bad input. */
export function createVerifier(trusted: readonly TrustedKey[]) {
  const keys = new Map(
    trusted.map((key) => [
      key.id,
      typeof key.publicKey === 'string' ? createPublicKey(key.publicKey) : key.publicKey,
    ]),
  )
  return (raw: unknown, now: number): Verdict => {
    if (
      raw !== null &&
      typeof raw === 'object' &&
      !('signature' in raw && typeof raw.signature === 'string' && raw.signature.length > 0)
    )
      return { ok: false, reason: 'unsigned' }
    const parsed = controlCommandSchema.safeParse(raw)
    if (!parsed.success) return { ok: false, reason: 'malformed' }
    const command = parsed.data
    const key = keys.get(command.key_id)
    if (!key) return { ok: false, reason: 'unknown_key' }
    let valid = false
    try {
      // Over the command as received: a field this version does not know is still covered,
      // so a newer processor's commands verify in an older guard.
      valid = verify(
        null,
        canonicalBytes(raw as ControlCommand),
        key,
        Buffer.from(command.signature, 'base64'),
      )
    } catch {
      valid = false
    }
    if (!valid) return { ok: false, reason: 'forged' }
    if (command.expires_at !== null && Date.parse(command.expires_at) <= now)
      return { ok: false, reason: 'expired' }
    return { ok: true, command }
  }
}
