import type { Consumer, ConsumerRunConfig, EachBatchPayload } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { SinkUnavailableError } from '../../platform/errors.ts'
import { silentLogger } from '../../platform/logger.ts'
import { createKafkaBus } from '../../processors/ingest/kafka-bus.ts'
import type { InputRecord } from '../../processors/ingest/event-processor.ts'

/** The part of a kafkajs Consumer the bus drives; it hands over batches we build by hand. */
function fakeConsumer() {
  const commits: Array<{ topic: string; partition: number; offset: string }> = []
  let stopped = false
  let run: ConsumerRunConfig | undefined
  const listeners = new Map<string, (event: { payload: unknown }) => void>()
  const consumer = {
    events: { CRASH: 'consumer.crash', GROUP_JOIN: 'consumer.group_join' },
    on: (name: string, listener: (event: { payload: unknown }) => void) => {
      listeners.set(name, listener)
      return () => listeners.delete(name)
    },
    subscribe: () => Promise.resolve(),
    run: (config: ConsumerRunConfig) => {
      run = config
      return Promise.resolve()
    },
    commitOffsets: (offsets: Array<{ topic: string; partition: number; offset: string }>) => {
      // Like kafkajs: once the consumer is stopped, a commit is silently dropped.
      if (!stopped) commits.push(...offsets)
      return Promise.resolve()
    },
    stop: () => {
      stopped = true
      return Promise.resolve()
    },
    disconnect: () => Promise.resolve(),
  }
  const pausedPartitions: number[] = []
  function deliver(partition: number, offsets: string[]): Promise<void> {
    const payload = {
      batch: {
        topic: 'llm-calls',
        partition,
        messages: offsets.map((offset) => ({
          offset,
          value: Buffer.from(`m${offset}`),
          key: null,
          headers: {},
        })),
        lastOffset: () => offsets[offsets.length - 1]!,
        highWatermark: String(Number(offsets[offsets.length - 1]!) + 1),
      },
      pause: () => {
        pausedPartitions.push(partition)
        return () => {}
      },
      resolveOffset: () => {},
      heartbeat: () => Promise.resolve(),
    } as unknown as EachBatchPayload
    return run!.eachBatch!(payload)
  }
  /** What kafkajs emits: `consumer.crash` with restart false when it gives up for good. */
  const emit = (name: string, payload: unknown) => listeners.get(name)?.({ payload })
  return {
    consumer: consumer as unknown as Consumer,
    commits,
    deliver,
    emit,
    pausedPartitions,
    config: () => run,
  }
}

const sleeps: number[] = []
const busOver = (
  consumer: Consumer,
  onFatal?: (error: unknown) => void,
  onAssignment?: (assigned: number[], revoked: number[]) => void,
) =>
  createKafkaBus({
    ...(onAssignment ? { onAssignment } : {}),
    publisher: { send: () => Promise.resolve() },
    consumer,
    topic: 'llm-calls',
    logger: silentLogger(),
    retry: { baseMs: 100, maxMs: 1000 },
    sleep: (ms) => {
      sleeps.push(ms)
      return Promise.resolve()
    },
    ...(onFatal ? { onFatal } : {}),
  })

describe('kafka bus', () => {
  it('commits the offset after the last record only once the handler has resolved', async () => {
    const fake = fakeConsumer()
    const bus = busOver(fake.consumer)
    const seen: InputRecord[] = []
    let release!: () => void
    await bus.start(async (records) => {
      seen.push(...records)
      await new Promise<void>((resolve) => (release = resolve))
    })
    expect(fake.config()).toMatchObject({ autoCommit: false, eachBatchAutoResolve: false })
    const delivery = fake.deliver(1, ['41', '42', '43'])
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(seen.map((r) => r.source)).toEqual([
      { kind: 'kafka', partition: 1, offset: '41' },
      { kind: 'kafka', partition: 1, offset: '42' },
      { kind: 'kafka', partition: 1, offset: '43' },
    ])
    expect(fake.commits).toEqual([])
    release()
    await delivery
    expect(fake.commits).toEqual([{ topic: 'llm-calls', partition: 1, offset: '44' }])
  })

  it('delivers a batch again after a retriable failure, with backoff, and commits it once', async () => {
    const fake = fakeConsumer()
    const bus = busOver(fake.consumer)
    sleeps.length = 0
    let attempts = 0
    await bus.start(() => {
      attempts++
      if (attempts < 4) return Promise.reject(new SinkUnavailableError('audit store down'))
      return Promise.resolve()
    })
    await fake.deliver(0, ['7', '8'])
    expect(attempts).toBe(4)
    expect(sleeps).toEqual([100, 200, 400])
    expect(fake.commits).toEqual([{ topic: 'llm-calls', partition: 0, offset: '9' }])
  })

  it('pauses the partition, commits nothing and is not ready after a failure retrying cannot fix', async () => {
    const fake = fakeConsumer()
    const bus = busOver(fake.consumer)
    await bus.start(() => Promise.reject(new TypeError('a bug')))
    fake.emit('consumer.group_join', { memberAssignment: { 'llm-calls': [0, 1] } })
    await fake.deliver(1, ['7', '8'])
    expect(fake.commits).toEqual([])
    expect(fake.pausedPartitions).toEqual([1])
    expect(bus.readiness()).toMatchObject({
      ready: false,
      reason: expect.stringMatching(
        /partition 1 of llm-calls is paused at offset 7: a bug/,
      ) as unknown,
    })
  })

  it('finishes and commits the batch in flight before stopping the consumer, and starts no new one', async () => {
    const fake = fakeConsumer()
    const bus = busOver(fake.consumer)
    let release!: () => void
    let handled = 0
    await bus.start(async () => {
      handled++
      await new Promise<void>((resolve) => (release = resolve))
    })
    const inFlight = fake.deliver(0, ['10', '11'])
    await new Promise((resolve) => setTimeout(resolve, 10))
    const stopping = bus.stop()
    await fake.deliver(1, ['5'])
    release()
    await inFlight
    await stopping
    expect(handled).toBe(1)
    expect(fake.commits).toEqual([{ topic: 'llm-calls', partition: 0, offset: '12' }])
  })

  it('reports a crash it will not restart from: not ready, with the reason, and fatal once', async () => {
    const fake = fakeConsumer()
    const fatal: unknown[] = []
    const bus = busOver(fake.consumer, (error) => fatal.push(error))
    expect(bus.readiness()).toMatchObject({ ready: false, reason: 'not started' })
    await bus.start(() => Promise.resolve())
    fake.emit('consumer.group_join', { memberAssignment: { 'llm-calls': [2, 0] } })
    expect(bus.readiness()).toEqual({ ready: true, partitions: [0, 2] })
    // A retriable crash: kafkajs restarts the consumer itself.
    fake.emit('consumer.crash', { error: new Error('broker went away'), restart: true })
    expect(bus.readiness().ready).toBe(true)
    expect(fatal).toHaveLength(0)
    const error = new TypeError('cannot read properties of undefined')
    fake.emit('consumer.crash', { error, restart: false })
    fake.emit('consumer.crash', { error, restart: false })
    expect(bus.readiness()).toMatchObject({
      ready: false,
      reason: expect.stringMatching(
        /stopped after an error it cannot retry: cannot read properties/,
      ) as unknown,
    })
    expect(fatal).toEqual([error])
  })

  it('gives up every partition when it rejoins as a new member, even if it gets the same back', async () => {
    const fake = fakeConsumer()
    const changes: Array<[number[], number[]]> = []
    const bus = busOver(fake.consumer, undefined, (assigned, revoked) =>
      changes.push([assigned, revoked]),
    )
    await bus.start(() => Promise.resolve())
    fake.emit('consumer.group_join', { memberId: 'm1', memberAssignment: { 'llm-calls': [0, 1] } })
    fake.emit('consumer.group_join', { memberId: 'm1', memberAssignment: { 'llm-calls': [1] } })
    // Away past the session timeout: someone else may have held partition 1 meanwhile.
    fake.emit('consumer.group_join', { memberId: 'm2', memberAssignment: { 'llm-calls': [1] } })
    expect(changes).toEqual([
      [[0, 1], []],
      [[], [0]],
      [[], [1]],
      [[1], []],
    ])
  })
})
