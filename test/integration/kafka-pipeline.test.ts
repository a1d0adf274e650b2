import { randomUUID } from 'node:crypto'
import { Kafka, logLevel, Partitioners, type KafkaMessage } from 'kafkajs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPipeline, type Pipeline } from '../../cli/runtime.ts'
import { parseConfig, type Config } from '../../platform/config.ts'
import { systemClock } from '../../platform/clock.ts'
import { createLogger } from '../../platform/logger.ts'
import { createEmitter } from '../../producers/emitter.ts'
import { createKafkaTransport } from '../../producers/kafka-transport.ts'
import { createEventCodec, type EventCodec } from '../../schemas/avro-codec.ts'
import type { LlmCall } from '../../schemas/llm-call.ts'
import { makeLlmCall, makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'
import {
  pipelineConfigFor,
  pipelineTopics,
  startTestServices,
  type TestServices,
} from '../support/test-services.ts'

/**
 * The whole path over real protocols: the SDK emitter produces Avro over TCP to a
 * Kafka-protocol broker, the processor consumes it in a consumer group, prices each event
 * and writes audit rows through @clickhouse/client into a ClickHouse engine; bad records go
 * to the dlq topic; a restarted processor resumes from its committed offsets.
 */
const prefix = `it-${randomUUID().slice(0, 8)}.`
const topics = { llmCalls: `${prefix}llm-calls`, dlq: `${prefix}dlq` }
const logger = createLogger({ level: 'warn' })

let services: TestServices
let config: Config
let codec: EventCodec
let kafka: Kafka

beforeAll(async () => {
  // Every topic the pipeline uses: a fetch from a topic Mokapi does not hold hangs until the
  // request times out (30 s), which a stop then waits for.
  services = await startTestServices(pipelineTopics(prefix))
  config = parseConfig({
    ...pipelineConfigFor(services, prefix, { batchSize: 25, flushIntervalMs: 200 }),
    log: { level: 'warn' },
  })
  codec = await createEventCodec()
  kafka = new Kafka({
    clientId: 'it-client',
    brokers: services.broker.brokers,
    logLevel: logLevel.NOTHING,
  })
})

afterAll(async () => {
  await services?.[Symbol.asyncDispose]()
})

/** Emits events with the SDK's emitter over a fresh kafkajs producer. */
async function emit(events: ReturnType<typeof makeLlmCallInput>[]): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
  await producer.connect()
  const emitter = createEmitter({
    transport: createKafkaTransport({ producer, codec, topic: topics.llmCalls }),
    logger,
    maxBatchSize: 20,
  })
  for (const event of events) emitter.emit(event)
  await emitter.close()
  expect(emitter.stats()).toMatchObject({ sent: events.length, dropped: 0, failed: 0 })
}

async function auditCount(pipeline: Pipeline): Promise<number> {
  const result = await pipeline.client.query({
    query: 'SELECT count() AS n FROM llm_calls',
    format: 'JSONEachRow',
  })
  const [row] = await result.json<{ n: string }>()
  return Number(row?.n ?? 0)
}

async function readTopic(topic: string, expected: number): Promise<KafkaMessage[]> {
  const consumer = kafka.consumer({ groupId: `${prefix}reader-${randomUUID().slice(0, 6)}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const messages: KafkaMessage[] = []
  await consumer.run({
    eachMessage: ({ message }) => {
      messages.push(message)
      return Promise.resolve()
    },
  })
  await expect
    .poll(() => messages.length, { timeout: 60_000, interval: 200 })
    .toBeGreaterThanOrEqual(expected)
  await consumer.disconnect()
  return messages
}

describe(`pipeline over Kafka protocol and ClickHouse engine`, () => {
  const first = Array.from({ length: 30 }, () =>
    makeLlmCallInput({
      occurred_at: recentTime(),
      model: 'gpt-4',
      input_tokens: 1800,
      output_tokens: 600,
    }),
  )
  // Avro can carry a negative long; only the contract's validation stops it.
  const negative: LlmCall = { ...makeLlmCall({ occurred_at: recentTime() }), input_tokens: -5 }
  const garbage = Buffer.from('this is not avro at all')

  it('audits every good event exactly, dead-letters bad records with their reason and bytes', async () => {
    const pipeline = await createPipeline(config, logger, systemClock)
    try {
      await pipeline.start()
      await emit(first)
      // Two bad records straight onto the topic, past the SDK's validation.
      const raw = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
      await raw.connect()
      const badAvro = codec.encode(negative)
      await raw.send({
        topic: topics.llmCalls,
        messages: [
          { key: 'acme/bad', value: garbage },
          { key: 'acme/bad', value: badAvro },
        ],
      })
      await raw.disconnect()

      await expect.poll(() => auditCount(pipeline), { timeout: 60_000, interval: 250 }).toBe(30)
      await expect.poll(() => pipeline.processor.metrics.deadLettered, { timeout: 30_000 }).toBe(2)

      const totals = await pipeline.client.query({
        query: `SELECT toString(sum(cost_usd)) AS usd, uniqExact(event_id) AS ids, any(price_version) AS version,
                       groupUniqArray(source) AS sources, min(source_offset) >= 0 AS has_offsets
                FROM llm_calls`,
        format: 'JSONEachRow',
      })
      expect(await totals.json()).toEqual([
        {
          usd: '2.7',
          ids: '30',
          version: expect.stringMatching(
            /^genai-prices@\d+\.\d+\.\d+:openai\/gpt-4@always$/,
          ) as unknown,
          sources: ['kafka'],
          has_offsets: 1,
        },
      ])

      const letters = await readTopic(topics.dlq, 2)
      const byCode = new Map(letters.map((m) => [m.headers?.['spendguard.code']?.toString(), m]))
      expect(byCode.get('DECODE_FAILED')?.value).toEqual(garbage)
      const invalid = byCode.get('VALIDATION_FAILED')
      expect(invalid?.value).toEqual(badAvro)
      const issues = JSON.parse(
        invalid?.headers?.['spendguard.issues']?.toString() ?? '[]',
      ) as Array<{ path: string }>
      expect(issues.map((issue) => issue.path)).toContain('input_tokens')
    } finally {
      await pipeline.stop()
    }
  })

  it('resumes from committed offsets after a restart: nothing lost, nothing counted twice', async () => {
    const later = Array.from({ length: 10 }, () =>
      makeLlmCallInput({
        occurred_at: recentTime(),
        model: 'gpt-4o-mini',
        input_tokens: 1000,
        output_tokens: 100,
      }),
    )
    // Produced while no processor runs, and one already-audited event sent again.
    await emit([...later, first[0]!])

    const pipeline = await createPipeline(config, logger, systemClock)
    try {
      await pipeline.start()
      await expect.poll(() => auditCount(pipeline), { timeout: 60_000, interval: 250 }).toBe(40)
      await expect.poll(() => pipeline.processor.metrics.received, { timeout: 30_000 }).toBe(11)
      expect(pipeline.processor.metrics.duplicates).toBe(1)
      expect(pipeline.processor.metrics.deadLettered).toBe(0)
      const engine = await pipeline.client.query({
        query: 'SELECT version() AS v',
        format: 'JSONEachRow',
      })
      expect((await engine.json<{ v: string }>())[0]?.v).toMatch(/^\d+\.\d+/)
    } finally {
      await pipeline.stop()
    }
  })
})
