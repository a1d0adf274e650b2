import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../platform/clock.ts'
import { silentLogger } from '../../platform/logger.ts'
import { createAuditSink } from '../../processors/audit/audit-sink.ts'
import type { DeadLetter } from '../../processors/ingest/dead-letters.ts'
import { createEventProcessor, type InputRecord } from '../../processors/ingest/event-processor.ts'
import { testPricing } from '../support/pricing.ts'
import { createEventCodec } from '../../schemas/avro-codec.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'

const { pricer } = await testPricing()
import { MemoryAuditStore } from '../support/memory-audit-store.ts'

const NOW = Date.parse('2026-03-02T12:00:00Z')

async function setup() {
  const store = new MemoryAuditStore()
  const letters: DeadLetter[] = []
  const codec = await createEventCodec()
  const processor = createEventProcessor({
    pricer,
    sink: createAuditSink({
      store,
      logger: silentLogger(),
      flushIntervalMs: 1,
      sleep: () => new Promise((resolve) => setTimeout(resolve, 1)),
    }),
    deadLetters: {
      publish: (batch) => {
        letters.push(...batch)
        return Promise.resolve()
      },
    },
    logger: silentLogger(),
    clock: new ManualClock(NOW),
    codec,
    allowedLatenessMs: 120_000,
  })
  let offset = 0
  const kafka = (bytes: Buffer): InputRecord => ({
    bytes,
    source: { kind: 'kafka', partition: 0, offset: String(offset++) },
  })
  const encoded = (call: LlmCall) => kafka(codec.encode(call))
  return { store, letters, processor, kafka, encoded, codec }
}

describe('event processor', () => {
  it('audits good records and dead-letters undecodable and invalid ones with reason and bytes', async () => {
    const { store, letters, processor, kafka, encoded } = await setup()
    const garbage = Buffer.from('not avro')
    const invalid: LlmCall = { ...makeLlmCall(), output_tokens: -1 }
    const result = await processor.process([
      encoded(makeLlmCall()),
      kafka(garbage),
      encoded(invalid),
      encoded(makeLlmCall()),
    ])
    expect(result).toEqual({ accepted: 2, duplicates: 0, deadLettered: 2, duplicateIds: [] })
    expect(store.rows).toHaveLength(2)
    expect(letters.map((l) => l.code)).toEqual(['DECODE_FAILED', 'VALIDATION_FAILED'])
    expect(letters[0]!.original).toEqual(garbage)
    expect(letters[1]!.issues.map((i) => i.path)).toEqual(['output_tokens'])
    expect(letters[1]!.source).toEqual({ kind: 'kafka', partition: 0, offset: '2' })
  })

  it('dead-letters events outside the retention window instead of auditing rows the TTL would drop', async () => {
    const { store, letters, processor, encoded } = await setup()
    await processor.process([
      encoded(makeLlmCall({ occurred_at: '2020-01-01T00:00:00Z' })),
      encoded(makeLlmCall({ occurred_at: '2026-03-05T00:00:00Z' })),
      encoded(makeLlmCall({ occurred_at: '2026-03-02T11:59:00Z' })),
    ])
    expect(store.rows).toHaveLength(1)
    expect(letters.map((l) => [l.code, l.issues[0]?.path])).toEqual([
      ['EVENT_TIME_OUT_OF_RANGE', 'occurred_at'],
      ['EVENT_TIME_OUT_OF_RANGE', 'occurred_at'],
    ])
  })

  it('dead-letters a row the store refuses and still audits the rest of the batch', async () => {
    const { store, letters, processor, encoded } = await setup()
    const poison = makeLlmCall({ agent_id: 'poison' })
    store.poison = (row) => row.agent_id === 'poison'
    const result = await processor.process([
      encoded(makeLlmCall()),
      encoded(poison),
      encoded(makeLlmCall()),
    ])
    expect(result.accepted).toBe(2)
    expect(letters).toHaveLength(1)
    expect(letters[0]).toMatchObject({ code: 'AUDIT_REFUSED', eventId: poison.event_id })
    expect(processor.metrics).toMatchObject({ received: 3, audited: 2, deadLettered: 1 })
  })

  it('retries while the store is unavailable; a redelivered batch is audited and counted once', async () => {
    const { store, processor, encoded } = await setup()
    const batch = [encoded(makeLlmCall({ model: 'mystery-model' })), encoded(makeLlmCall())]
    store.down = true
    const settled = processor.process(batch)
    // The sink retries while the store is down; bring it back and the same batch settles.
    setTimeout(() => (store.down = false), 20)
    await expect(settled).resolves.toMatchObject({ accepted: 2 })
    await processor.process(batch)
    expect(store.rows).toHaveLength(2)
    expect(processor.metrics).toMatchObject({ received: 4, audited: 2, duplicates: 2, unpriced: 1 })
  })

  it('holds the batch back, dead-lettering nothing, when the store refuses inserts as a whole', async () => {
    const { store, letters, processor, encoded } = await setup()
    store.insertFaults.push('reject')
    await expect(
      processor.process([encoded(makeLlmCall()), encoded(makeLlmCall())]),
    ).rejects.toThrow(/column type mismatch/)
    expect(letters).toEqual([])
    expect(processor.metrics.received).toBe(0)
  })

  it('flags an event later than the allowed lateness behind the newest event seen', async () => {
    const { store, processor, encoded } = await setup()
    await processor.process([
      encoded(makeLlmCall({ occurred_at: '2026-03-02T11:50:00Z' })),
      encoded(makeLlmCall({ occurred_at: '2026-03-02T11:49:00Z' })),
      encoded(makeLlmCall({ occurred_at: '2026-03-02T11:40:00Z' })),
    ])
    expect(store.rows.map((r) => r.late)).toEqual([false, false, true])
    expect(processor.metrics.late).toBe(1)
  })

  it('does not let one event from a clock a day ahead make every later on-time event late', async () => {
    const { store, processor, codec } = await setup()
    const on = (partition: number, call: LlmCall): InputRecord => ({
      bytes: codec.encode(call),
      source: { kind: 'kafka', partition, offset: '0' },
    })
    await processor.process([on(0, makeLlmCall({ occurred_at: '2026-03-03T11:00:00Z' }))])
    await processor.process([
      on(0, makeLlmCall({ occurred_at: '2026-03-02T11:59:00Z' })),
      on(1, makeLlmCall({ occurred_at: '2026-03-02T11:30:00Z' })),
      // Late on its own partition: 15 minutes behind partition 0's clock-capped watermark.
      on(0, makeLlmCall({ occurred_at: '2026-03-02T11:45:00Z' })),
    ])
    expect(store.rows.map((r) => r.late)).toEqual([false, false, false, true])
  })
})
