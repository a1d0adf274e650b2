/**
 * A guard in a process of its own, as an agent service would run it: follows the control topic
 * over Kafka and answers one `check` per line of standard input (a JSON call context) with one
 * line of JSON on standard output. Prints `{"ready":true}` once caught up.
 *
 * Environment: BROKERS (comma-separated), TOPIC, PUBLIC_KEY_FILE, KEY_ID, FAIL_MODE.
 */
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { Kafka, logLevel } from 'kafkajs'
import { createGuard } from '../../producers/guard/guard.ts'
import { kafkaControlSource } from '../../producers/guard/kafka-control-source.ts'

const env = (name: string) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

const kafka = new Kafka({
  clientId: 'guard-process',
  brokers: env('BROKERS').split(','),
  logLevel: logLevel.NOTHING,
})
const guard = createGuard({
  source: kafkaControlSource({ kafka, topic: env('TOPIC') }),
  trustedKeys: [
    {
      id: process.env.KEY_ID ?? 'spendguard-1',
      publicKey: readFileSync(env('PUBLIC_KEY_FILE'), 'utf8'),
    },
  ],
  failMode: process.env.FAIL_MODE === 'closed' ? 'closed' : 'open',
})
await guard.ready
process.stdout.write(`${JSON.stringify({ ready: true })}\n`)
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') continue
  const decision = guard.check(JSON.parse(line) as Parameters<typeof guard.check>[0])
  process.stdout.write(`${JSON.stringify({ ...decision, counters: guard.counters })}\n`)
}
await guard.close()
