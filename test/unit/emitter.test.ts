import kafkajs, { type Producer, type ProducerRecord } from 'kafkajs'
import { pino, type Logger } from 'pino'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../platform/clock.ts'
import { SpendGuardError, ValidationError } from '../../platform/errors.ts'
import {
  createEmitter,
  PartialSendError,
  type EmitterOptions,
  type EmitterTransport,
  type Timers,
} from '../../producers/emitter.ts'
import { createKafkaTransport } from '../../producers/kafka-transport.ts'
import { createEventCodec } from '../../schemas/avro-codec.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { parseLlmCall } from '../../schemas/validate.ts'
import { makeLlmCall, makeLlmCallInput } from '../support/make-llm-call.ts'

/** Lets promise chains and immediates run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}

/** Timers driven by a ManualClock: `advance` fires what falls due, in order. */
function fakeTimers(clock: ManualClock) {
  let seq = 0
  const pending = new Map<number, { at: number; fn: () => void }>()
  const timers: Timers = {
    setTimeout(fn, ms) {
      pending.set(++seq, { at: clock.now() + ms, fn })
      return seq
    },
    clearTimeout(handle) {
      pending.delete(handle as number)
    },
  }
  async function advance(ms: number): Promise<void> {
    const target = clock.now() + ms
    for (;;) {
      await settle()
      const next = [...pending.entries()]
        .filter(([, t]) => t.at <= target)
        .sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0]
      if (!next) break
      pending.delete(next[0])
      clock.set(next[1].at)
      next[1].fn()
    }
    clock.set(target)
    await settle()
  }
  return { timers, advance }
}

/** An in-memory transport; `failures` are thrown by the next sends, one each. */
function memoryTransport() {
  const batches: LlmCall[][] = []
  const failures: unknown[] = []
  const state = { attempts: 0, closed: false, inFlight: 0, maxInFlight: 0 }
  let gate: Promise<void> | undefined
  const transport: EmitterTransport = {
    async send(events) {
      state.attempts++
      state.inFlight++
      state.maxInFlight = Math.max(state.maxInFlight, state.inFlight)
      try {
        if (gate) await gate
        if (failures.length > 0) throw failures.shift()
        batches.push([...events])
      } finally {
        state.inFlight--
      }
    },
    close() {
      state.closed = true
      return Promise.resolve()
    },
  }
  const hold = () => {
    let release!: () => void
    gate = new Promise((resolve) => (release = resolve))
    return () => {
      gate = undefined
      release()
    }
  }
  const ids = () => batches.flat().map((e) => e.event_id)
  return { transport, batches, failures, state, hold, ids }
}

/** A pino logger whose JSON lines the test reads. */
function capturedLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  )
  return { logger, lines }
}

function setup(overrides: Partial<EmitterOptions> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 2, 2))
  const fake = fakeTimers(clock)
  const mem = memoryTransport()
  const { logger, lines } = capturedLogger()
  const emitter = createEmitter({
    transport: mem.transport,
    logger,
    clock,
    timers: fake.timers,
    ...overrides,
  })
  const emitN = (n: number) =>
    Array.from({ length: n }, () => {
      const input = makeLlmCallInput()
      expect(emitter.emit(input)).toBe(true)
      return input.event_id
    })
  return { clock, advance: fake.advance, mem, lines, emitter, emitN }
}

const retriable = () => new SpendGuardError('broker unavailable', { code: 'T', retriable: true })
const warnings = (lines: Record<string, unknown>[]) => lines.filter((l) => l.level === 40)
const errors = (lines: Record<string, unknown>[]) => lines.filter((l) => l.level === 50)

describe('emitter', () => {
  it('rejects an invalid event synchronously, naming the field, and queues nothing', () => {
    const { emitter } = setup()
    const error = (() => {
      try {
        emitter.emit(makeLlmCallInput({ input_tokens: -5 }))
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(ValidationError)
    expect((error as ValidationError).issues.map((i) => i.path)).toContain('input_tokens')
    expect(() => emitter.emit(makeLlmCallInput({ agent_id: undefined }))).toThrow(/agent_id/)
    expect(emitter.stats()).toMatchObject({ accepted: 0, buffered: 0 })
  })

  it('sends a batch as soon as maxBatchSize events are queued, the rest after lingerMs', async () => {
    const { mem, emitter, emitN, advance } = setup({ maxBatchSize: 3, lingerMs: 50 })
    const ids = emitN(7)
    await advance(0)
    expect(mem.batches.map((b) => b.length)).toEqual([3, 3])
    await advance(49)
    expect(mem.batches).toHaveLength(2)
    await advance(1)
    expect(mem.batches.map((b) => b.length)).toEqual([3, 3, 1])
    expect(mem.ids()).toEqual(ids)
    expect(emitter.stats()).toEqual({ accepted: 7, sent: 7, dropped: 0, failed: 0, buffered: 0 })
  })

  it('when the buffer is full, returns false, counts the drop and logs once per second', async () => {
    const { emitter, emitN, lines, clock, mem } = setup({ maxBufferedEvents: 2 })
    emitN(2)
    for (let i = 0; i < 1000; i++) expect(emitter.emit(makeLlmCallInput())).toBe(false)
    expect(emitter.stats()).toMatchObject({ accepted: 2, dropped: 1000, buffered: 2 })
    expect(warnings(lines)).toHaveLength(1)
    expect(warnings(lines)[0]).toMatchObject({ code: 'BUFFER_FULL', dropped: 1, capacity: 2 })

    clock.advance(1000)
    expect(emitter.emit(makeLlmCallInput())).toBe(false)
    expect(warnings(lines)).toHaveLength(2)
    expect(warnings(lines)[1]).toMatchObject({ dropped: 1000, dropped_total: 1001 })

    await emitter.close()
    expect(mem.batches.flat()).toHaveLength(2)
  })

  it('retries a retriable failure with backoff, delivering each event once and in order', async () => {
    const { mem, emitter, emitN, advance, lines } = setup({ maxBatchSize: 3 })
    mem.failures.push(retriable(), retriable())
    const ids = emitN(3)
    await advance(0)
    expect(mem.state.attempts).toBe(1)
    const later = emitN(2) // queued behind the batch being retried
    await advance(199)
    expect(mem.state.attempts).toBe(1)
    await advance(1) // first retry after 200 ms
    expect(mem.state.attempts).toBe(2)
    await advance(399)
    expect(mem.state.attempts).toBe(2)
    await advance(1) // second retry after 400 ms succeeds
    await emitter.flush()
    expect(mem.ids()).toEqual([...ids, ...later])
    expect(mem.state.maxInFlight).toBe(1)
    expect(emitter.stats()).toMatchObject({ sent: 5, failed: 0, buffered: 0 })
    expect(warnings(lines)).toHaveLength(2)
  })

  it('waits for a retryAfterMs the error carries instead of its own backoff', async () => {
    const { mem, emitN, advance } = setup({ maxBatchSize: 1 })
    mem.failures.push(Object.assign(retriable(), { retryAfterMs: 1500 }))
    emitN(1)
    await advance(1499)
    expect(mem.state.attempts).toBe(1)
    await advance(1)
    expect(mem.batches).toHaveLength(1)
  })

  it('counts a non-retriable failure as failed, logs it, and carries on', async () => {
    const { mem, emitter, emitN, advance, lines } = setup({ maxBatchSize: 2 })
    mem.failures.push(new SpendGuardError('schema rejected', { code: 'NOPE' }))
    emitN(2)
    const second = emitN(2)
    await advance(0)
    expect(mem.state.attempts).toBe(2)
    expect(mem.ids()).toEqual(second)
    expect(emitter.stats()).toMatchObject({ accepted: 4, sent: 2, failed: 2, buffered: 0 })
    expect(errors(lines)).toHaveLength(1)
    expect(errors(lines)[0]).toMatchObject({ failed: 2, err: { message: 'schema rejected' } })
  })

  it('gives up after maxRetries and counts the batch as failed', async () => {
    const { mem, emitter, emitN, advance } = setup({ maxBatchSize: 2, maxRetries: 2 })
    mem.failures.push(retriable(), retriable(), retriable())
    emitN(2)
    await advance(200 + 400)
    expect(mem.state.attempts).toBe(3)
    expect(emitter.stats()).toMatchObject({ sent: 0, failed: 2, buffered: 0 })
  })

  it('counts the delivered part of a partial failure as sent and the rest as failed', async () => {
    const { mem, emitter, emitN, advance } = setup({ maxBatchSize: 3 })
    mem.failures.push(new PartialSendError('1 rejected', { code: 'PARTIAL', delivered: 2 }))
    emitN(3)
    await advance(0)
    expect(emitter.stats()).toMatchObject({ sent: 2, failed: 1 })
  })

  it('counts in-flight events against the bound while a batch is being retried', async () => {
    const { mem, emitter, emitN, advance } = setup({ maxBatchSize: 2, maxBufferedEvents: 3 })
    mem.failures.push(retriable())
    emitN(2)
    await advance(0)
    emitN(1)
    expect(emitter.emit(makeLlmCallInput())).toBe(false)
    expect(emitter.stats()).toMatchObject({ buffered: 3, dropped: 1 })
  })

  it('keeps one send in flight at a time', async () => {
    const { mem, emitter, emitN, advance } = setup({ maxBatchSize: 2 })
    const release = mem.hold()
    const ids = emitN(6)
    await advance(0)
    expect(mem.state.attempts).toBe(1)
    release()
    await emitter.flush()
    expect(mem.state.maxInFlight).toBe(1)
    expect(mem.ids()).toEqual(ids)
  })

  it('flush sends what is queued without waiting for the linger', async () => {
    const { mem, emitter, emitN } = setup({ lingerMs: 60_000 })
    const ids = emitN(3)
    await emitter.flush()
    expect(mem.ids()).toEqual(ids)
  })

  it('close flushes everything, closes the transport, and refuses later events', async () => {
    const { mem, emitter, emitN } = setup({ lingerMs: 60_000 })
    const ids = emitN(5)
    await emitter.close()
    expect(mem.ids()).toEqual(ids)
    expect(mem.state.closed).toBe(true)
    expect(emitter.stats()).toMatchObject({ sent: 5, buffered: 0 })
    expect(() => emitter.emit(makeLlmCallInput())).toThrow(
      expect.objectContaining({ code: 'EMITTER_CLOSED' }) as Error,
    )
  })
})

describe('kafka transport', () => {
  function fakeProducer(fail?: Error) {
    const records: ProducerRecord[] = []
    const state = { disconnected: false }
    const producer: Pick<Producer, 'send' | 'disconnect'> = {
      send(record) {
        if (fail) return Promise.reject(fail)
        records.push(record)
        return Promise.resolve([])
      },
      disconnect() {
        state.disconnected = true
        return Promise.resolve()
      },
    }
    return { producer, records, state }
  }

  it('keys by tenant/agent, sets the event_id header, and encodes values the codec decodes', async () => {
    const codec = await createEventCodec()
    const { producer, records, state } = fakeProducer()
    const transport = createKafkaTransport({ producer, codec, topic: 'sg.llm-calls' })
    const events = [makeLlmCall({ tags: { env: 'blue' } }), makeLlmCall({ agent_id: 'planner' })]
    await transport.send(events)
    expect(records).toHaveLength(1)
    expect(records[0]!.topic).toBe('sg.llm-calls')
    const messages = records[0]!.messages
    expect(messages.map((m) => m.key)).toEqual(['acme/support-bot', 'acme/planner'])
    expect(messages.map((m) => m.headers)).toEqual(events.map((e) => ({ event_id: e.event_id })))
    for (const [i, message] of messages.entries()) {
      expect(parseLlmCall(await codec.decode(message.value as Buffer))).toEqual(events[i])
    }
    await transport.close()
    expect(state.disconnected).toBe(true)
  })

  it.each([
    [
      'a retriable kafkajs error to a retriable',
      new kafkajs.KafkaJSConnectionError('Connection refused'),
      true,
    ],
    [
      'kafkajs retries exhausted on a retriable cause to a retriable',
      new kafkajs.KafkaJSNumberOfRetriesExceeded(new kafkajs.KafkaJSConnectionError('refused'), {
        retryCount: 5,
        retryTime: 3000,
      }),
      true,
    ],
    [
      'a non-retriable kafkajs error to a non-retriable',
      new kafkajs.KafkaJSNonRetriableError('bad request'),
      false,
    ],
  ])('maps %s KAFKA_SEND_FAILED', async (_name, error, expected) => {
    const codec = await createEventCodec()
    const { producer } = fakeProducer(error)
    const transport = createKafkaTransport({ producer, codec, topic: 't' })
    await expect(transport.send([makeLlmCall()])).rejects.toMatchObject({
      code: 'KAFKA_SEND_FAILED',
      retriable: expected,
      cause: error,
    })
  })

  it('lets the emitter retry a broker outage until the send goes through', async () => {
    const codec = await createEventCodec()
    const { producer, records } = fakeProducer()
    let outage = 2
    const flaky: Pick<Producer, 'send' | 'disconnect'> = {
      send: (record) =>
        outage-- > 0
          ? Promise.reject(new kafkajs.KafkaJSConnectionError('Connection refused'))
          : producer.send(record),
      disconnect: () => producer.disconnect(),
    }
    const clock = new ManualClock()
    const fake = fakeTimers(clock)
    const emitter = createEmitter({
      transport: createKafkaTransport({ producer: flaky, codec, topic: 't' }),
      logger: pino({ level: 'silent' }),
      timers: fake.timers,
    })
    emitter.emit(makeLlmCallInput())
    await fake.advance(50 + 200 + 400)
    await emitter.close()
    expect(records).toHaveLength(1)
    expect(emitter.stats()).toMatchObject({ sent: 1, failed: 0 })
  })
})
