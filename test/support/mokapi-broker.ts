import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, waitForPort } from './free-port.ts'
import type { KafkaBroker } from './test-services.ts'

/**
 * Mokapi, a Kafka-wire-protocol broker shipped on npm (go-mokapi), started from
 * node_modules on a free port. What it needs, learnt by experiment with kafkajs 2.2:
 * - every topic declared as a channel of the AsyncAPI file with an octet-stream message
 *   (topics made through the admin API make it fail on the consumer's offset fetch);
 * - no compression and no idempotent producer with multi-record batches (both unsupported);
 * - the Go binary spawned directly: the npm wrapper does not pass SIGTERM on.
 */
function mokapiBinary(): string {
  const require = createRequire(import.meta.url)
  return require(`@go-mokapi/${process.platform}-${process.arch}`) as string
}

function asyncApi(port: number, topics: Array<{ name: string; partitions: number }>): string {
  const channels = topics
    .map(
      (topic, i) => `  channel${i}:
    address: ${topic.name}
    messages:
      bytes${i}:
        contentType: application/octet-stream
    bindings:
      kafka:
        partitions: ${topic.partitions}`,
    )
    .join('\n')
  return `asyncapi: 3.0.0
info:
  title: SpendGuard test broker
  version: 1.0.0
servers:
  local:
    host: 127.0.0.1:${port}
    protocol: kafka
channels:
${channels}
`
}

export async function startMokapi(
  topics: Array<{ name: string; partitions: number }>,
): Promise<KafkaBroker> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'spendguard-mokapi-'))
  const file = join(dir, 'asyncapi.yaml')
  writeFileSync(file, asyncApi(port, topics))
  const child = spawn(
    mokapiBinary(),
    [
      '--api-port=0',
      '--health-enabled=false',
      '--mcp-server-enabled=false',
      '--log-level=warn',
      file,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  try {
    await waitForPort(port, 20_000, () => `mokapi output:\n${output}`)
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  return {
    kind: 'mokapi',
    brokers: [`127.0.0.1:${port}`],
    supportsIdempotentBatches: false,
    logs: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
