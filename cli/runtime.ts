import { join, resolve } from 'node:path'
import { Partitioners } from 'kafkajs'
import type { Config } from '../platform/config.ts'
import { topicNames } from '../platform/config.ts'
import {
  createAuditStoreClient,
  type AuditStoreTarget,
  type ClickHouseClient,
} from '../platform/clickhouse.ts'
import type { Clock } from '../platform/clock.ts'
import { createKafka, ensureTopics } from '../platform/kafka.ts'
import { createReadOnlyQueries, type ReadOnlyQueries } from '../platform/sql/read-only-queries.ts'
import type { Logger } from '../platform/logger.ts'
import { createKafkaTransport } from '../producers/kafka-transport.ts'
import { createAuditSink, type AuditSink } from '../processors/audit/audit-sink.ts'
import { createClickHouseAuditStore } from '../processors/audit/audit-store.ts'
import { migrate } from '../processors/audit/migrations.ts'
import { createFileDeadLetterSink, deadLetterOf } from '../processors/ingest/dead-letters.ts'
import type { EventBus, Readiness } from '../processors/ingest/event-bus.ts'
import { createEventProcessor, type EventProcessor } from '../processors/ingest/event-processor.ts'
import { createInProcessBus } from '../processors/ingest/in-process-bus.ts'
import { createKafkaBus } from '../processors/ingest/kafka-bus.ts'
import { createKafkaDeadLetterSink } from '../processors/ingest/kafka-dead-letters.ts'
import type { Pricer } from '../processors/pricing/pricer.ts'
import { createPricing } from '../processors/pricing/pricing-setup.ts'
import { rebuildWindows } from '../processors/windows/window-rebuild.ts'
import { createScheduler } from '../platform/scheduler.ts'
import { createEventCodec } from '../schemas/avro-codec.ts'
import { createSchemaRegistry } from '../schemas/schema-registry.ts'

/**
 * The running pipeline, wired from one validated config: the composition root that
 * `spendguard start` and the end-to-end tests share.
 */
export interface Pipeline {
  readonly bus: EventBus
  readonly processor: EventProcessor
  readonly sink: AuditSink
  readonly pricer: Pricer
  readonly store: AuditStoreTarget
  readonly client: ClickHouseClient
  /** Read-only SQL over the audit, on a connection of its own (the reader user on a server). */
  readonly queries: ReadOnlyQueries
  /** The subset of `ids` that already have an audit row. */
  auditedEventIds(ids: string[]): Promise<Set<string>>
  /** The clock the pipeline reads; the HTTP ingest checks event times against it too. */
  readonly clock: Clock
  /** 'kafka' when brokers are configured, 'embedded' otherwise. */
  readonly transport: 'kafka' | 'embedded'
  /** Events accepted by the in-process transport and still waiting for the audit (0 on Kafka). */
  queued(): number
  /** Whether input is being consumed (GET /readyz). */
  readiness(): Readiness
  /** Settles with the error when the input can no longer be consumed (a consumer crash). */
  readonly fatal: Promise<unknown>
  start(): Promise<void>
  /** Drains the bus, flushes the sink, closes every client. Idempotent. */
  stop(): Promise<void>
}

/** The pricer of a configuration; what a loaded public price list left out is logged. */
export async function createPricerFromConfig(config: Config, logger?: Logger): Promise<Pricer> {
  const pricing = await createPricing(config.pricing)
  const report = pricing.userListReport
  if (report && logger) {
    logger.info(
      { loaded: report.loaded, skipped: report.skipped.length, file: config.pricing.catalogFile },
      'price list loaded',
    )
    for (const skipped of report.skipped.slice(0, 50))
      logger.warn(skipped, 'price list entry not loaded')
  }
  return pricing.pricer
}

/** Migrations run as the admin user on a server (the writer may only insert). */
async function runMigrations(config: Config, writer: ClickHouseClient, logger: Logger) {
  const migrationsLogger = logger.child({ component: 'migrations' })
  if (!config.clickhouse.url || !config.clickhouse.admin) return migrate(writer, migrationsLogger)
  const admin = createAuditStoreClient(config.clickhouse, { role: 'admin' }).client
  try {
    await migrate(admin, migrationsLogger)
  } finally {
    await admin.close()
  }
}

export async function createPipeline(
  config: Config,
  logger: Logger,
  clock: Clock,
): Promise<Pipeline> {
  const pricer = await createPricerFromConfig(config, logger)
  const { client, target } = createAuditStoreClient(config.clickhouse)
  const closers: Array<() => Promise<void>> = [() => client.close()]
  try {
    await runMigrations(config, client, logger)
    // Its own connection: reads never share a session (or, on a server, a user) with writes.
    const reader = createAuditStoreClient(config.clickhouse, { role: 'reader' }).client
    closers.push(() => reader.close())
    const queries = createReadOnlyQueries({
      client: reader,
      kind: target.kind,
      limits: config.query,
    })
    const auditStore = createClickHouseAuditStore(client)
    const sink = createAuditSink({
      store: auditStore,
      logger: logger.child({ component: 'audit-sink' }),
      batchSize: config.audit.batchSize,
      flushIntervalMs: config.audit.flushIntervalMs,
      recentIdsCapacity: config.audit.recentIdsCapacity,
    })
    closers.unshift(() => sink.close())

    let bus: EventBus
    let abandon = () => {}
    let queued = () => 0
    let onFatal: (error: unknown) => void = () => {}
    const fatal = new Promise<unknown>((resolve) => (onFatal = resolve))
    let processor: EventProcessor
    const processorOptions = {
      pricer,
      flushEachBatch: config.kafka.brokers.length === 0,
      sink,
      clock,
      logger: logger.child({ component: 'processor' }),
      allowedLatenessMs: config.pipeline.allowedLatenessMs,
    }
    if (config.kafka.brokers.length > 0) {
      const topics = topicNames(config)
      const kafka = createKafka(config.kafka, logger)
      const admin = kafka.admin()
      await admin.connect()
      try {
        const created = await ensureTopics(
          admin,
          [topics.llmCalls, topics.dlq].map((topic) => ({
            topic,
            numPartitions: config.kafka.partitions,
            replicationFactor: config.kafka.replicationFactor,
          })),
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
      closers.unshift(() => publisher.close())
      const consumer = kafka.consumer({ groupId: config.kafka.groupId })
      await consumer.connect()
      bus = createKafkaBus({
        publisher,
        consumer,
        topic: topics.llmCalls,
        logger: logger.child({ component: 'kafka-bus' }),
        partitionsConsumedConcurrently: config.kafka.partitions,
        onFatal,
      })
      processor = createEventProcessor({
        ...processorOptions,
        codec,
        deadLetters: createKafkaDeadLetterSink(producer, topics.dlq),
      })
    } else {
      const deadLetters = createFileDeadLetterSink(
        join(resolve(config.clickhouse.dataDir), 'dead-letters.ndjson'),
      )
      const inProcess = createInProcessBus({
        logger: logger.child({ component: 'in-process-bus' }),
        capacity: config.pipeline.maxQueuedEvents,
        // One bus batch fills one insert, so a batch never waits on the sink's flush timer.
        batchSize: config.audit.batchSize,
        park: (records, error) =>
          deadLetters.publish(
            records.map((record) =>
              deadLetterOf(
                record,
                {
                  code: 'SHUTDOWN_UNWRITTEN',
                  reason: `not audited before the shutdown deadline: ${error instanceof Error ? error.message : String(error)}`,
                },
                clock.now(),
              ),
            ),
          ),
      })
      abandon = () => inProcess.abandon()
      queued = () => inProcess.queued()
      bus = inProcess
      processor = createEventProcessor({ ...processorOptions, deadLetters })
    }
    closers.unshift(() => bus.stop())
    const scheduler = createScheduler({ logger: logger.child({ component: 'scheduler' }) })
    closers.unshift(() => scheduler.stop())

    let stopping: Promise<void> | undefined
    return {
      bus,
      processor,
      sink,
      pricer,
      store: target,
      client,
      queries,
      auditedEventIds: (ids) => auditStore.existingEventIds(ids),
      clock,
      transport: config.kafka.brokers.length > 0 ? 'kafka' : 'embedded',
      readiness: () => bus.readiness(),
      queued: () => queued(),
      fatal,
      async start() {
        // Live totals start from the audit, which holds exactly what was audited before.
        const began = Date.now()
        const calls = await rebuildWindows(reader, {
          now: clock.now(),
          into: () => processor.windows,
        })
        logger.info({ calls, ms: Date.now() - began }, 'windows rebuilt from the audit')
        scheduler.every('window sweep', 60_000, () => processor.windows.sweep(clock.now()))
        await bus.start(async (records) => {
          await processor.process(records)
        })
      },
      stop() {
        stopping ??= (async () => {
          // Past the deadline a store that is still down stops being retried: on Kafka the
          // batch stays uncommitted, embedded the queue is parked in the dead-letter file.
          const deadline = setTimeout(() => {
            logger.error(
              { deadlineMs: config.pipeline.shutdownTimeoutMs },
              'shutdown deadline passed',
            )
            abandon()
            sink.abandonRetries()
          }, config.pipeline.shutdownTimeoutMs)
          // Every step runs even when an earlier one fails; the first failure is reported.
          const failures: unknown[] = []
          for (const close of closers) {
            await close().catch((error: unknown) => {
              logger.error({ err: error }, 'shutdown step failed')
              failures.push(error)
            })
          }
          clearTimeout(deadline)
          if (failures.length > 0) throw failures[0]
        })()
        return stopping
      },
    }
  } catch (error) {
    for (const close of closers)
      await close().catch((closeError: unknown) => logger.warn({ err: closeError }, 'close failed'))
    throw error
  }
}
