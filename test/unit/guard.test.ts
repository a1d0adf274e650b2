import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  createCommandSigner,
  loadOrCreateSigningKey,
} from '../../processors/control/command-signer.ts'
import type { ControlSource } from '../../producers/guard/control-source.ts'
import { GuardState } from '../../producers/guard/guard-state.ts'
import { createGuard } from '../../producers/guard/guard.ts'

const NOW = Date.parse('2026-03-02T12:00:00Z')
const { privateKey } = generateKeyPairSync('ed25519')
const signer = createCommandSigner('k1', privateKey)
const trusted = [{ id: 'k1', publicKey: signer.publicKeyPem }]

function command(fields: Partial<Parameters<typeof signer.sign>[0]> = {}) {
  return signer.sign({
    command_id: fields.command_id ?? 'c-1',
    action: 'block',
    tenant: 'acme',
    scope: { kind: 'agent', id: 'blog-outline' },
    issuer: 'spendguard-detector',
    reason: 'model gpt-4 is not permitted for bulk_generation',
    issued_at: new Date(NOW).toISOString(),
    expires_at: null,
    ...fields,
  })
}

const call = { tenant: 'acme', agent: 'blog-outline', user: 'u-1', session: 's-1', model: 'gpt-4' }

describe('guard', () => {
  it('blocks the scope of a signed command, and only that scope', () => {
    const guard = new GuardState(trusted)
    expect(guard.apply(command(), NOW).ok).toBe(true)
    expect(guard.check(call, NOW)).toMatchObject({ action: 'block', commandId: 'c-1' })
    expect(guard.check({ ...call, agent: 'other' }, NOW)).toEqual({ action: 'allow' })
    expect(guard.check({ ...call, tenant: 'globex' }, NOW)).toEqual({ action: 'allow' })
  })

  it('ignores and counts forged, unsigned, unknown-key and expired commands', () => {
    const guard = new GuardState(trusted)
    const forged = { ...command(), scope: { kind: 'agent', id: 'another-agent' } }
    const { signature: _s, ...unsigned } = command()
    const stranger = createCommandSigner('k9', generateKeyPairSync('ed25519').privateKey)
    const foreign = stranger.sign({ ...command(), command_id: 'c-9' })
    const expired = command({ command_id: 'c-2', expires_at: new Date(NOW - 1).toISOString() })
    for (const raw of [forged, unsigned, foreign, expired, { nonsense: true }])
      expect(guard.apply(raw, NOW).ok).toBe(false)
    expect(guard.counters.ignored).toEqual({
      forged: 1,
      unsigned: 2,
      unknown_key: 1,
      expired: 1,
      malformed: 0,
    })
    expect(guard.check({ ...call, agent: 'another-agent' }, NOW)).toEqual({ action: 'allow' })
    expect(guard.check(call, NOW)).toEqual({ action: 'allow' })
  })

  it('trusts several keys (rotation)', () => {
    const next = createCommandSigner('k2', generateKeyPairSync('ed25519').privateKey)
    const guard = new GuardState([...trusted, { id: 'k2', publicKey: next.publicKeyPem }])
    expect(guard.apply(next.sign({ ...command(), command_id: 'c-3' }), NOW).ok).toBe(true)
    expect(guard.apply(command(), NOW).ok).toBe(true)
    expect(
      guard
        .active(NOW)
        .map((c) => c.command_id)
        .sort(),
    ).toEqual(['c-1', 'c-3'])
  })

  it('throttles to N calls per minute, downgrades, and a block beats both', () => {
    const guard = new GuardState(trusted)
    guard.apply(
      command({
        command_id: 't',
        action: 'throttle',
        calls_per_minute: 2,
        scope: { kind: 'user', id: 'u-1' },
      }),
      NOW,
    )
    const decisions = [0, 1, 2].map(() => guard.check(call, NOW).action)
    expect(decisions).toEqual(['allow', 'allow', 'throttle'])
    expect(guard.check(call, NOW + 60_000).action).toBe('allow')
    guard.apply(
      command({
        command_id: 'd',
        action: 'downgrade',
        model: 'llama3-8b',
        scope: { kind: 'session', id: 's-1' },
      }),
      NOW,
    )
    expect(guard.check({ ...call, user: undefined }, NOW)).toMatchObject({
      action: 'downgrade',
      model: 'llama3-8b',
    })
    guard.apply(command({ command_id: 'b', scope: { kind: 'tenant', id: 'acme' } }), NOW)
    expect(guard.check(call, NOW).action).toBe('block')
  })

  it('a command stops at its expiry; resume lifts one command or a whole scope', () => {
    const guard = new GuardState(trusted)
    guard.apply(command({ expires_at: new Date(NOW + 1000).toISOString() }), NOW)
    expect(guard.check(call, NOW + 999).action).toBe('block')
    expect(guard.check(call, NOW + 1000).action).toBe('allow')
    const LATER = NOW + 2000
    guard.apply(command({ command_id: 'c-4' }), LATER)
    guard.apply(command({ command_id: 'c-5', action: 'resume', resumes: 'c-4' }), LATER)
    expect(guard.check(call, LATER).action).toBe('allow')
    guard.apply(command({ command_id: 'c-6' }), LATER)
    guard.apply(command({ command_id: 'c-7', action: 'downgrade', model: 'x' }), LATER)
    guard.apply(command({ command_id: 'c-8', action: 'resume' }), LATER)
    expect(guard.check(call, LATER).action).toBe('allow')
  })

  it('the signing key file is made once, readable by its owner only, with its public key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spendguard-key-'))
    try {
      const file = join(dir, 'control-signing-key.pem')
      const first = loadOrCreateSigningKey(file)
      expect(statSync(file).mode & 0o777).toBe(0o600)
      const again = loadOrCreateSigningKey(file)
      expect(again.publicKeyPem).toBe(first.publicKeyPem)
      const guard = new GuardState([{ id: first.keyId, publicKey: first.publicKeyPem }])
      expect(guard.apply(again.sign({ ...command(), command_id: 'z' }), NOW).ok).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('guard, after review', () => {
  it('a key named __proto__ anywhere is covered by the signature', () => {
    const guard = new GuardState(trusted)
    const signed = command({ evidence: { observed: { a: 1 } } })
    const tampered = JSON.parse(
      JSON.stringify(signed).replace('{"a":1}', '{"a":1,"__proto__":{"injected":"yes"}}'),
    ) as unknown
    expect(guard.apply(tampered, NOW)).toEqual({ ok: false, reason: 'forged' })
  })

  it('the tightest throttle counts, and a throttle does not hide a downgrade', () => {
    const guard = new GuardState(trusted)
    guard.apply(
      command({
        command_id: 'g',
        action: 'throttle',
        calls_per_minute: 1000,
        scope: { kind: 'tenant', id: 'acme' },
      }),
      NOW,
    )
    guard.apply(command({ command_id: 'a', action: 'throttle', calls_per_minute: 1 }), NOW)
    guard.apply(
      command({
        command_id: 'd',
        action: 'downgrade',
        model: 'llama3-8b',
        scope: { kind: 'user', id: 'u-1' },
      }),
      NOW,
    )
    expect(guard.check(call, NOW)).toMatchObject({ action: 'downgrade', model: 'llama3-8b' })
    expect(guard.check(call, NOW).action).toBe('throttle')
  })
})

describe('pre-call estimates against a blocking budget', () => {
  const cap = (id: string, spent: string, rule = 'budget:session-cap@50') =>
    command({
      command_id: id,
      action: 'cap',
      scope: { kind: 'session', id: 's-1' },
      rule,
      limit_usd: '10',
      spent_usd: spent,
    })

  it('blocks the call whose estimate would cross the headroom, counting what was let through', () => {
    const guard = new GuardState(trusted)
    expect(guard.apply(cap('c50', '8'), NOW).ok).toBe(true)
    // Without an estimate a cap changes nothing.
    expect(guard.check(call, NOW)).toEqual({ action: 'allow' })
    expect(guard.check(call, NOW, 1.5)).toEqual({ action: 'allow' })
    const refused = guard.check(call, NOW, 1)
    expect(refused).toMatchObject({ action: 'block', commandId: 'c50' })
    expect(refused.action === 'block' && refused.reason).toMatch(
      /\$1\.000000 would cross budget:session-cap@50 on session s-1: \$2\.000000 was left of \$10, \$1\.500000/,
    )
    // Another session is not capped.
    expect(guard.check({ ...call, session: 's-2' }, NOW, 100)).toEqual({ action: 'allow' })
    // A newer cap of the same budget replaces the old one and what was reserved against it.
    guard.apply(cap('c80', '9.2', 'budget:session-cap@80'), NOW)
    expect(guard.active(NOW).map((c) => c.command_id)).toEqual(['c80'])
    expect(guard.check(call, NOW, 0.5)).toEqual({ action: 'allow' })
    expect(guard.check(call, NOW, 0.4)).toMatchObject({ action: 'block', commandId: 'c80' })
    // A block on the scope still wins; a resume of the scope lifts the cap with it.
    guard.apply(
      command({ command_id: 'r', action: 'resume', scope: { kind: 'session', id: 's-1' } }),
      NOW,
    )
    expect(guard.check(call, NOW, 1000)).toEqual({ action: 'allow' })
  })

  it('an older cap read again changes nothing; lifting a budget block by id lifts its caps', () => {
    const guard = new GuardState(trusted)
    const older = cap('c50', '5')
    const newer = command({
      ...cap('c80', '8', 'budget:session-cap@80'),
      command_id: 'c80',
      issued_at: new Date(NOW + 60_000).toISOString(),
    })
    guard.apply(older, NOW)
    guard.apply(newer, NOW)
    expect(guard.check(call, NOW, 1.5)).toEqual({ action: 'allow' })
    // A reader that starts over reads the 50 % cap again: the 80 % one and its reservation stay.
    guard.apply(older, NOW)
    expect(guard.active(NOW).map((c) => c.command_id)).toEqual(['c80'])
    expect(guard.check(call, NOW, 1)).toMatchObject({ action: 'block', commandId: 'c80' })
    // The budget's block, then a resume of that block by id: the cap goes with it.
    guard.apply(
      command({
        command_id: 'b100',
        rule: 'budget:session-cap@100',
        scope: { kind: 'session', id: 's-1' },
      }),
      NOW,
    )
    guard.apply(
      command({
        command_id: 'r1',
        action: 'resume',
        resumes: 'b100',
        scope: { kind: 'session', id: 's-1' },
      }),
      NOW,
    )
    expect(guard.active(NOW)).toEqual([])
    expect(guard.check(call, NOW, 5)).toEqual({ action: 'allow' })
  })

  it('prices an estimate given in tokens with the rates it was given', async () => {
    let handlers: Parameters<ControlSource['start']>[0] | undefined
    const source: ControlSource = {
      start: (h) => (handlers = h),
      close: () => Promise.resolve(),
    }
    const guard = createGuard({
      source,
      trustedKeys: trusted,
      failMode: 'open',
      now: () => NOW,
      prices: { 'gpt-4': { inputPerMTokUsd: 30, outputPerMTokUsd: 60 } },
    })
    handlers!.command(cap('c50', '9.9'), '1')
    handlers!.caughtUp()
    await guard.ready
    // 1,000 in + 1,000 max out = $0.09 of the $0.10 left; a second such call would cross.
    const estimate = { inputTokens: 1000, maxTokens: 1000 }
    expect(guard.check(call, estimate)).toEqual({ action: 'allow' })
    expect(guard.check(call, estimate).action).toBe('block')
    // A model without rates is checked without its estimate.
    expect(guard.check({ ...call, model: 'llama3-8b' }, estimate)).toEqual({ action: 'allow' })
    expect(guard.check(call, { costUsd: 0.005 })).toEqual({ action: 'allow' })
  })
})
