import { generateKeyPairSync } from 'node:crypto'
import type { ClickHouseClient } from '@clickhouse/client'
import { describe, expect, it } from 'vitest'
import { createCommandSigner } from '../../processors/control/command-signer.ts'
import type { ControlLog } from '../../processors/control/control-log.ts'
import { ControlPlane, type Lifted } from '../../processors/control/control-plane.ts'
import type { ControlCommand } from '../../producers/guard/control-command.ts'

/** One compacted topic shared by several processes: each append reaches every follower. */
function sharedTopic() {
  const entries: ControlCommand[] = []
  const followers = new Set<(raw: unknown, seq: number) => void>()
  const logFor = (): ControlLog => ({
    follows: true,
    open(deliver) {
      entries.forEach((command, at) => deliver(command, at + 1))
      followers.add(deliver)
      return Promise.resolve()
    },
    append(command) {
      entries.push(command)
      const seq = entries.length
      // As a broker does: handed back later, to every consumer.
      setImmediate(() => {
        for (const deliver of followers) deliver(command, seq)
      })
      return Promise.resolve(seq)
    },
    close: () => Promise.resolve(),
  })
  return { logFor }
}

/** The audit rows of commands go nowhere here. */
const noStore = { insert: () => Promise.resolve() } as unknown as ClickHouseClient

describe('control plane with several processes on one topic', () => {
  it('tells every process what a resume lifted, whichever process served it, once each', async () => {
    const topic = sharedTopic()
    const signer = createCommandSigner('k1', generateKeyPairSync('ed25519').privateKey)
    const now = () => Date.parse('2026-03-02T12:00:00Z')
    const processes = ['a', 'b'].map(() => {
      const plane = new ControlPlane(noStore, signer, now)
      plane.useLog(topic.logFor())
      const heard: Lifted[] = []
      plane.onLifted((lifted) => heard.push(lifted))
      return { plane, heard }
    })
    for (const { plane } of processes) await plane.load()
    const [a, b] = processes as [(typeof processes)[0], (typeof processes)[0]]

    const block = await a.plane.issue(
      { action: 'block', scope: { kind: 'agent', id: 'crawler' }, reason: 'loop' },
      'ops@example.com',
    )
    const other = await a.plane.issue(
      { action: 'block', scope: { kind: 'agent', id: 'indexer' }, reason: 'budget' },
      'ops@example.com',
    )
    await new Promise((resolve) => setImmediate(resolve))
    expect(b.plane.active().map((command) => command.command_id)).toEqual([
      block.command_id,
      other.command_id,
    ])

    // Served by b; a routed the alert the block answered, so a must hear of it too.
    await b.plane.resume({ commandId: block.command_id }, 'lead@example.com', 'fixed')
    await new Promise((resolve) => setImmediate(resolve))
    for (const { heard } of [a, b]) {
      expect(heard).toHaveLength(1)
      expect(heard[0]!.commands.map((command) => command.command_id)).toEqual([block.command_id])
      expect(heard[0]).toMatchObject({ actor: 'lead@example.com', reason: 'fixed' })
    }
    // Who served it: that process resolves everything it holds, the others what they routed.
    expect([a.heard[0]!.here, b.heard[0]!.here]).toEqual([false, true])
    expect(a.plane.active().map((command) => command.command_id)).toEqual([other.command_id])

    // A process that starts later reads the resume as history: nothing to resolve again.
    const late = new ControlPlane(noStore, signer, now)
    late.useLog(topic.logFor())
    const heardLate: Lifted[] = []
    late.onLifted((lifted) => heardLate.push(lifted))
    await late.load()
    expect(heardLate).toEqual([])
    expect(late.active().map((command) => command.command_id)).toEqual([other.command_id])
    // ...but it can ask what the resumes it read had lifted (a resolve lost in a stop), once.
    const history = late.takeLiftedAtLoad()
    expect(history.map((lifted) => lifted.commands.map((command) => command.command_id))).toEqual([
      [block.command_id],
    ])
    expect(history[0]).toMatchObject({ actor: 'lead@example.com', reason: 'fixed', here: false })
    expect(late.takeLiftedAtLoad()).toEqual([])
  })

  it('counts as lifted at load a block that has expired since its resume', async () => {
    const topic = sharedTopic()
    const signer = createCommandSigner('k1', generateKeyPairSync('ed25519').privateKey)
    let now = Date.parse('2026-03-02T12:00:00Z')
    const first = new ControlPlane(noStore, signer, () => now)
    first.useLog(topic.logFor())
    await first.load()
    const block = await first.issue(
      { action: 'block', scope: { kind: 'agent', id: 'crawler' }, reason: 'loop', ttlMs: 600_000 },
      'ops@example.com',
    )
    await first.resume({ commandId: block.command_id }, 'lead@example.com', 'fixed')
    await new Promise((resolve) => setImmediate(resolve))
    // Restarted an hour later: the block would have expired by now, but it was lifted.
    now += 3_600_000
    const restarted = new ControlPlane(noStore, signer, () => now)
    restarted.useLog(topic.logFor())
    await restarted.load()
    expect(
      restarted.takeLiftedAtLoad().map((lifted) => lifted.commands.map((c) => c.command_id)),
    ).toEqual([[block.command_id]])
  })
})
