import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getContainerRuntimeClient } from 'testcontainers'
import { startMokapi } from './mokapi-broker.ts'

/**
 * The real protocol servers the integration tests talk to. The mode comes from
 * SPENDGUARD_TEST_SERVICES:
 * - `embedded`: Mokapi (Kafka wire protocol over TCP) from node_modules, and chDB in-process
 *   through @clickhouse/client;
 * - `containers`: Kafka and ClickHouse containers through testcontainers (needs Docker);
 * - `auto` (default): containers when a Docker engine answers, embedded otherwise.
 * Any other value fails at once.
 */
export interface KafkaBroker {
  kind: 'mokapi' | 'kafka-container'
  brokers: string[]
  /** Mokapi cannot take idempotent multi-record batches. */
  supportsIdempotentBatches: boolean
  logs(): string
  stop(): Promise<void>
}

export interface AuditStoreService {
  kind: 'chdb' | 'clickhouse-container'
  /** For the config: `url` for a server, `dataDir` for chDB. */
  clickhouse: {
    url?: string
    username?: string
    password?: string
    database?: string
    dataDir: string
  }
  stop(): Promise<void>
}

export interface TestServices {
  broker: KafkaBroker
  store: AuditStoreService
  [Symbol.asyncDispose](): Promise<void>
}

type Mode = 'embedded' | 'containers'

/** The topics `spendguard start` on Kafka uses under `prefix`, as `pipelineConfigFor` sizes them. */
export function pipelineTopics(prefix: string): Array<{ name: string; partitions: number }> {
  return [
    { name: `${prefix}llm-calls`, partitions: 2 },
    { name: `${prefix}spend-deltas`, partitions: 2 },
    { name: `${prefix}dlq`, partitions: 1 },
    { name: `${prefix}alerts`, partitions: 1 },
    { name: `${prefix}control`, partitions: 1 },
  ]
}

/**
 * A SpendGuard config document pointing at the test services: topics `<prefix>llm-calls` and
 * `<prefix>dlq` (two partitions for the input), its own consumer group.
 */
export function pipelineConfigFor(
  services: TestServices,
  prefix: string,
  audit: { batchSize?: number; flushIntervalMs: number },
) {
  return {
    kafka: {
      brokers: services.broker.brokers,
      topicPrefix: prefix,
      groupId: `${prefix}processor`,
      partitions: 2,
      idempotent: services.broker.supportsIdempotentBatches,
    },
    clickhouse: services.store.clickhouse,
    audit,
  }
}

async function dockerAvailable(): Promise<boolean> {
  try {
    await getContainerRuntimeClient()
    return true
  } catch {
    // No engine: the only answer testcontainers gives is to throw; it means "use embedded".
    return false
  }
}

export async function servicesMode(): Promise<Mode> {
  const raw = process.env.SPENDGUARD_TEST_SERVICES ?? 'auto'
  if (raw === 'embedded' || raw === 'containers') return raw
  if (raw !== 'auto')
    throw new Error(`SPENDGUARD_TEST_SERVICES must be auto, embedded or containers, not "${raw}"`)
  return (await dockerAvailable()) ? 'containers' : 'embedded'
}

/** Starts a broker with the given topics and an empty audit store; dispose stops both. */
export async function startTestServices(
  topics: Array<{ name: string; partitions: number }>,
): Promise<TestServices> {
  const mode = await servicesMode()
  if (mode === 'containers') {
    const { startContainerServices } = await import('./container-services.ts')
    const { broker, store } = await startContainerServices(topics)
    return {
      broker,
      store,
      [Symbol.asyncDispose]: async () => void (await Promise.all([broker.stop(), store.stop()])),
    }
  }
  const broker = await startMokapi(topics)
  const dataDir = mkdtempSync(join(tmpdir(), 'spendguard-chdb-'))
  const store: AuditStoreService = {
    kind: 'chdb',
    clickhouse: { dataDir },
    stop: () => Promise.resolve(rmSync(dataDir, { recursive: true, force: true })),
  }
  return {
    broker,
    store,
    async [Symbol.asyncDispose]() {
      await broker.stop()
      await store.stop()
    },
  }
}
