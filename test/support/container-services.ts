import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClickHouseContainer } from '@testcontainers/clickhouse'
import { KafkaContainer } from '@testcontainers/kafka'
import { Kafka, logLevel } from 'kafkajs'
import { IMAGES } from './images.ts'
import type { AuditStoreService, KafkaBroker } from './test-services.ts'

/** Kafka (KRaft) and ClickHouse in containers, for machines with a Docker engine. */
export async function startContainerServices(
  topics: Array<{ name: string; partitions: number }>,
): Promise<{ broker: KafkaBroker; store: AuditStoreService }> {
  const [kafka, clickhouse] = await Promise.all([
    new KafkaContainer(IMAGES.kafka).withKraft().start(),
    new ClickHouseContainer(IMAGES.clickhouse).withDatabase('spendguard').start(),
  ])
  const brokers = [`${kafka.getHost()}:${kafka.getMappedPort(9093)}`]
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin()
  await admin.connect()
  await admin.createTopics({
    topics: topics.map((t) => ({ topic: t.name, numPartitions: t.partitions })),
    waitForLeaders: true,
  })
  await admin.disconnect()
  return {
    broker: {
      kind: 'kafka-container',
      brokers,
      supportsIdempotentBatches: true,
      logs: () => '',
      stop: async () => void (await kafka.stop()),
    },
    store: {
      kind: 'clickhouse-container',
      clickhouse: {
        url: clickhouse.getHttpUrl(),
        username: clickhouse.getUsername(),
        password: clickhouse.getPassword(),
        database: clickhouse.getDatabase(),
        dataDir: mkdtempSync(join(tmpdir(), 'spendguard-unused-')),
      },
      stop: async () => void (await clickhouse.stop()),
    },
  }
}
