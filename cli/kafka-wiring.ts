import { randomUUID } from 'node:crypto'
import { allOf } from '../processors/detection/decision-store.ts'
import { kafkaControlLog } from '../processors/control/control-log.ts'
import { alertSchema, alertStreamOf } from '../alerts/alert.ts'
import type { DeadLetter } from '../processors/ingest/dead-letters.ts'
import { Partitioners } from 'kafkajs'
import { topicNames } from '../platform/config.ts'
import { ValidationError } from '../platform/errors.ts'
import { createKafka, ensureTopics } from '../platform/kafka.ts'
import { createKafkaTransport, toSendError } from '../producers/kafka-transport.ts'
import { createEventProcessor } from '../processors/ingest/event-processor.ts'
import { createKafkaBus } from '../processors/ingest/kafka-bus.ts'
import { createKafkaDeadLetterSink } from '../processors/ingest/kafka-dead-letters.ts'
import { createKafkaSource } from '../processors/ingest/kafka-source.ts'
import { spendDeltaSchema, type SpendDelta } from '../processors/scale-out/spend-deltas.ts'
import { createSpendInstance } from '../processors/scale-out/spend-instance.ts'
import { createEventCodec } from '../schemas/avro-codec.ts'
import { createSchemaRegistry } from '../schemas/schema-registry.ts'
import { processorOptions, type Transport, type TransportDeps } from './transport-wiring.ts'

function parseDelta(value: Buffer, partition: number, offset: string): SpendDelta {
  const parsed = spendDeltaSchema.safeParse(JSON.parse(value.toString('utf8')))
  if (!parsed.success)
    throw new ValidationError(
      parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
      `spend-deltas message at partition ${partition} offset ${offset} is not valid`,
    )
  return parsed.data
}

/**
 * The Kafka transport, scaled out (docs/adr/0007-scale-out.md): input partitions are shared
 * among the instances of one consumer group; each instance publishes the full values of the
 * window buckets its batches changed to `spend-deltas`, partitioned by key, and keeps the keys
 * of the spend-deltas partitions it owns (a group of its own).
 */
export async function wireKafka(deps: TransportDeps): Promise<Transport> {
  const { config, logger, clock } = deps
  const topics = topicNames(config)
  const kafka = createKafka(config.kafka, logger)
  const admin = kafka.admin()
  await admin.connect()
  try {
    const created = await ensureTopics(
      admin,
      [topics.llmCalls, topics.spendDeltas, topics.dlq, topics.alerts].map((topic) => ({
        topic,
        numPartitions: config.kafka.partitions,
        replicationFactor: config.kafka.replicationFactor,
      })),
    )
    // The control log: one partition (one order), compacted (docs/control.md).
    created.push(
      ...(await ensureTopics(admin, [
        {
          topic: topics.control,
          numPartitions: 1,
          replicationFactor: config.kafka.replicationFactor,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ])),
    )
    if (created.length > 0) logger.info({ topics: created }, 'created topics')
  } finally {
    await admin.disconnect()
  }
  // One request in flight keeps per-partition order even when a send is retried.
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: config.kafka.idempotent,
    maxInFlightRequests: 1,
  })
  await producer.connect()
  const codec = await createEventCodec({
    ...(config.schemaRegistry.url
      ? { registry: createSchemaRegistry({ url: config.schemaRegistry.url }) }
      : {}),
    subject: `${topics.llmCalls}-value`,
  })
  const publisher = createKafkaTransport({
    producer,
    codec,
    topic: topics.llmCalls,
    compression: config.kafka.compression,
  })
  const instance = createSpendInstance({
    client: deps.reader,
    clock,
    onError: (error) => logger.warn({ err: error }, 'building owned windows failed; retried later'),
    deltaPartitions: config.kafka.partitions,
    async publish(messages) {
      try {
        await producer.send({
          topic: topics.spendDeltas,
          acks: -1,
          messages: messages.map((message) => ({
            partition: message.partition,
            key: String(message.delta.source_partition),
            value: JSON.stringify(message.delta),
          })),
        })
      } catch (error) {
        // A broker hiccup is retried with the batch; the runner pauses only what cannot pass.
        throw toSendError(error, topics.spendDeltas, messages.length)
      }
    },
  })
  const processor = createEventProcessor({
    ...processorOptions(deps),
    codec,
    deadLetters: createKafkaDeadLetterSink(producer, topics.dlq),
    flushEachBatch: true,
    windowsOf: (source) => instance.windowsOf(source),
    // Detectors read every input share this instance holds (see docs/adr/0008).
    detectionSources: () => instance.shares(),
    decisions: allOf([
      deps.decisions,
      {
        // Alerts also go to the alerts topic (the alert router reads it), keyed by tenant, type
        // and scope: one router holds the cooldown and the open incidents of each.
        async record(decisions) {
          if (decisions.alerts.length === 0) return
          try {
            await producer.send({
              topic: topics.alerts,
              acks: -1,
              messages: decisions.alerts.map((alert) => ({
                key: alertStreamOf(alert),
                value: JSON.stringify(alert),
              })),
            })
          } catch (error) {
            throw toSendError(error, topics.alerts, decisions.alerts.length)
          }
        },
      },
    ]),
  })
  // Partition 0 of the alerts topic (of the input, without alert receivers) makes its holder
  // the process that runs the schedules.
  const held = new Set<number>()
  const hold = (assigned: number[], revoked: number[]) => {
    for (const partition of revoked) held.delete(partition)
    for (const partition of assigned) held.add(partition)
  }
  const inputConsumer = kafka.consumer({ groupId: config.kafka.groupId })
  await inputConsumer.connect()
  const bus = createKafkaBus({
    publisher,
    consumer: inputConsumer,
    topic: topics.llmCalls,
    logger: logger.child({ component: 'kafka-bus' }),
    partitionsConsumedConcurrently: config.kafka.partitions,
    onAssignment: (assigned, revoked) => {
      instance.revoke(revoked, [])
      if (!deps.alertRouter) hold(assigned, revoked)
    },
    onFatal: (error) => deps.onFatal(error),
    onLag: deps.observers?.consumerLag,
  })
  const deltasConsumer = kafka.consumer({ groupId: `${config.kafka.groupId}.spend-deltas` })
  await deltasConsumer.connect()
  const deltas = createKafkaSource({
    consumer: deltasConsumer,
    topic: topics.spendDeltas,
    logger: logger.child({ component: 'spend-deltas' }),
    partitionsConsumedConcurrently: config.kafka.partitions,
    onAssignment: (assigned, revoked) => {
      instance.revoke([], revoked)
      // Owned keys are built from the audit at once, not when their first delta arrives, so
      // the live view is whole after a restart even without new traffic.
      instance.own(assigned)
    },
    onFatal: (error) => deps.onFatal(error),
    onLag: deps.observers?.consumerLag,
    handle: (batch) =>
      instance.handleDeltas(
        batch.partition,
        batch.records.map((record) => parseDelta(record.value, batch.partition, record.offset)),
        BigInt(batch.nextOffset) >= BigInt(batch.highWatermark),
      ),
  })
  // The alerts topic, routed by one consumer group: an alert's offset is committed once its
  // deliveries are done (or failed for good and recorded); an unreadable record is dead-lettered.
  const router = deps.alertRouter
  const alertsConsumer = router
    ? kafka.consumer({ groupId: `${config.kafka.groupId}.alerts` })
    : undefined
  await alertsConsumer?.connect()
  const alertDeadLetters = createKafkaDeadLetterSink(producer, topics.dlq)
  const alerts =
    router && alertsConsumer
      ? createKafkaSource({
          consumer: alertsConsumer,
          topic: topics.alerts,
          logger: logger.child({ component: 'alerts-topic' }),
          onAssignment: hold,
          onFatal: (error) => deps.onFatal(error),
          onLag: deps.observers?.consumerLag,
          async handle(batch) {
            const letters: DeadLetter[] = []
            for (const record of batch.records) {
              let parsed: ReturnType<typeof alertSchema.safeParse> | undefined
              try {
                parsed = alertSchema.safeParse(JSON.parse(record.value.toString('utf8')))
              } catch {
                parsed = undefined
              }
              if (parsed?.success) router.route(parsed.data)
              else
                letters.push({
                  code: 'ALERT_UNREADABLE',
                  reason: parsed
                    ? `not an alert: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`
                    : 'not JSON',
                  issues: [],
                  original: record.value,
                  source: { kind: 'kafka', partition: batch.partition, offset: record.offset },
                  failedAt: clock.now(),
                })
            }
            await alertDeadLetters.publish(letters)
            await router.drain()
          },
        })
      : undefined
  const controlLog = kafkaControlLog({
    kafka,
    producer,
    topic: topics.control,
    groupId: `${config.kafka.groupId}.control.${randomUUID()}`,
  })
  return {
    bus,
    processor,
    controlLog,
    leads: () => held.has(0),
    closers: [
      () => bus.stop(),
      () => deltas.stop(),
      ...(alerts ? [() => alerts.stop()] : []),
      () => controlLog.close(),
      () => publisher.close(),
    ],
    spend: (query) => instance.view(query),
    async start() {
      await bus.start(async (records) => {
        const first = records[0]!.source
        const last = records[records.length - 1]!.source
        await instance.handleInput(
          processor,
          first.partition!,
          records,
          (BigInt(last.offset!) + 1n).toString(),
        )
      })
      await deltas.start()
      await alerts?.start()
    },
    readiness() {
      const input = bus.readiness()
      if (!input.ready) return input
      const owned = deltas.readiness()
      return owned.ready ? input : owned
    },
    sweep: () => {
      instance.sweep()
      processor.detection.sweep(clock.now())
    },
    abandon: () => {},
    queued: () => 0,
    status: () => instance.status(),
  }
}
