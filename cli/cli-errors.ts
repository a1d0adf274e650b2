/**
 * What a person can do about a failure the CLI did not expect: system errors (a port in use, a
 * host that does not answer) told in words with the setting to change, instead of a stack trace.
 */

interface SystemError {
  code?: string
  syscall?: string
  address?: string
  port?: number
  hostname?: string
  message: string
  name: string
  cause?: unknown
}

const REACH = {
  ECONNREFUSED: 'nothing listens there (connection refused)',
  ENOTFOUND: 'the host name is not known',
  EAI_AGAIN: 'the host name could not be looked up',
  ETIMEDOUT: 'it did not answer in time',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  ECONNRESET: 'it closed the connection',
} as const

/** The errors of a chain: the error, its cause, its cause's cause, ... */
function chain(error: unknown): SystemError[] {
  const found: SystemError[] = []
  let current = error
  while (current instanceof Error && found.length < 10) {
    const error: SystemError = current
    found.push(error)
    current = error.cause
  }
  return found
}

/** A message for an error a person can act on, or undefined when it is a real surprise. */
export function actionableMessage(error: unknown): string | undefined {
  const errors = chain(error)
  const kafka = errors.some((e) => e.name.startsWith('KafkaJS'))
  for (const e of errors) {
    if (e.code === 'EADDRINUSE')
      return `cannot listen on ${e.address ?? 'the address'}:${e.port ?? '?'}: the port is in use (is another spendguard start running?). Choose another with --port or SPENDGUARD_HTTP_PORT.`
    if (e.code === 'EACCES' && e.syscall === 'listen')
      return `cannot listen on ${e.address ?? 'the address'}:${e.port ?? '?'}: not permitted (ports below 1024 need privileges). Choose another with --port or SPENDGUARD_HTTP_PORT.`
    if (e.code === 'EADDRNOTAVAIL' && e.syscall === 'listen')
      return `cannot listen on ${e.address ?? 'the address'}: this machine has no such address. Choose another with --host or SPENDGUARD_HTTP_HOST.`
    if (e.code !== undefined && e.code in REACH) {
      const where =
        e.address !== undefined
          ? `${e.address}${e.port === undefined ? '' : `:${e.port}`}`
          : (e.hostname ?? (kafka ? 'the Kafka brokers' : 'the server'))
      const why = REACH[e.code as keyof typeof REACH]
      const setting = kafka
        ? 'the Kafka brokers (kafka.brokers in the configuration, or SPENDGUARD_KAFKA_BROKERS)'
        : 'the server (clickhouse.url in the configuration or SPENDGUARD_CLICKHOUSE_URL for ClickHouse; kafka.brokers or SPENDGUARD_KAFKA_BROKERS for Kafka)'
      return `cannot reach ${where}: ${why}. Check that it runs and the address of ${setting}.`
    }
  }
  // kafkajs reports a broker it never reached as a connection error without a system code.
  const connection = errors.find((e) => e.name === 'KafkaJSConnectionError')
  if (connection)
    return `cannot reach the Kafka brokers: ${connection.message}. Check that they run and kafka.brokers in the configuration (or SPENDGUARD_KAFKA_BROKERS).`
  return undefined
}
