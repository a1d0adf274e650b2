import {
  Kafka,
  logLevel,
  type Admin,
  type ITopicConfig,
  type LogEntry,
  type SASLOptions,
} from 'kafkajs'
import type { Config } from './config.ts'
import type { Logger } from './logger.ts'

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
}

/** A kafkajs client whose log lines go through our pino logger. */
export function createKafka(config: Config['kafka'], logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' })
  return new Kafka({
    clientId: config.clientId,
    brokers: config.brokers,
    ssl: config.ssl,
    ...(config.sasl ? { sasl: config.sasl as SASLOptions } : {}),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry
        log[LEVELS[level] ?? 'info'](rest, message)
      },
  })
}

/** Creates the topics that are missing; existing ones are left as they are. */
export async function ensureTopics(admin: Admin, topics: ITopicConfig[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics())
  const missing = topics.filter((topic) => !existing.has(topic.topic))
  if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true })
  return missing.map((topic) => topic.topic)
}
