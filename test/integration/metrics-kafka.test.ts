import { randomUUID } from 'node:crypto'
import { Kafka, logLevel, Partitioners } from 'kafkajs'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { describe, expect, it } from 'vitest'
import { createPipeline } from '../../cli/runtime.ts'
import { systemClock } from '../../platform/clock.ts'
import { parseConfig } from '../../platform/config.ts'
import { createLogger } from '../../platform/logger.ts'
import { createKafkaTransport } from '../../producers/kafka-transport.ts'
import { createEventCodec } from '../../schemas/avro-codec.ts'
import { makeLlmCall, recentTime } from '../support/make-llm-call.ts'
import { pipelineConfigFor, pipelineTopics, startTestServices } from '../support/test-services.ts'

describe('GET /metrics of a pipeline on Kafka', () => {
  it('reports the consumer lag of each partition it holds, and what it audited', async () => {
    const prefix = `metrics-${randomUUID().slice(0, 8)}.`
    await using services = await startTestServices(pipelineTopics(prefix))
    const config = parseConfig({
      ...pipelineConfigFor(services, prefix, { flushIntervalMs: 100 }),
      log: { level: 'warn' },
    })
    const pipeline = await createPipeline(config, createLogger({ level: 'warn' }), systemClock)
    try {
      await pipeline.start()
      const kafka = new Kafka({ brokers: services.broker.brokers, logLevel: logLevel.NOTHING })
      const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner })
      await producer.connect()
      const codec = await createEventCodec()
      const transport = createKafkaTransport({ producer, codec, topic: `${prefix}llm-calls` })
      // Four agents: their keys spread the records over the input partitions.
      await transport.send(
        Array.from({ length: 20 }, (_, i) =>
          makeLlmCall({ occurred_at: recentTime(), agent_id: `agent-${i % 4}` }),
        ),
      )
      await producer.disconnect()
      await expect
        .poll(() => pipeline.processor.metrics.audited, { timeout: 60_000, interval: 200 })
        .toBe(20)

      // The lag is set once a batch's offsets are committed, a moment after it is audited.
      const scrape = async () => parsePrometheusTextFormat((await pipeline.metrics!.render()).text)
      const inputLags = (found: Awaited<ReturnType<typeof scrape>>) =>
        (found.find((f) => f.name === 'spendguard_kafka_consumer_lag')?.metrics ?? []).filter(
          (sample) => sample.labels?.topic === `${prefix}llm-calls`,
        )
      await expect
        .poll(async () => inputLags(await scrape()).map((sample) => sample.value), {
          timeout: 30_000,
          interval: 200,
        })
        .toSatisfy((values: unknown[]) => values.length > 0 && values.every((v) => v === '0'))
      const families = await scrape()
      const value = (name: string) => families.find((f) => f.name === name)?.metrics[0]?.value
      expect(value('spendguard_events_received_total')).toBe('20')
      expect(value('spendguard_events_audited_total')).toBe('20')
      expect(value('spendguard_queue_depth')).toBe('0')
      const lags = families.find((f) => f.name === 'spendguard_kafka_consumer_lag')?.metrics ?? []
      // The input has been read to its end on the partitions that held records.
      const input = lags.filter((sample) => sample.labels?.topic === `${prefix}llm-calls`)
      expect(input.length).toBeGreaterThan(0)
      for (const sample of input) {
        expect(['0', '1']).toContain(sample.labels?.partition)
        expect(sample.value).toBe('0')
      }
    } finally {
      await pipeline.stop()
    }
  })
})
