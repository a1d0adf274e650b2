import { randomUUID } from 'node:crypto'
import type { Consumer, Kafka } from 'kafkajs'
import type { ControlSource, ControlSourceHandlers } from './control-source.ts'

export interface KafkaControlSourceOptions {
  /** The agent's own kafkajs client (the SDK does not depend on kafkajs). */
  kafka: Kafka
  /** The compacted control topic (`control`, or `<prefix>control`). */
  topic: string
  /**
   * A consumer group of this reader alone (default: a fresh one per source), so every reader
   * reads the whole topic; nothing is ever committed.
   */
  groupId?: string
  /** No fetch answered for this long: the source is reported lost until one is. */
  silenceMs?: number
  /**
   * How long the broker may hold a fetch that finds nothing (default 250 ms). A broker answers
   * as soon as a command arrives; a lower value only costs empty fetches.
   */
  maxWaitMs?: number
}

/**
 * Reads the compacted control topic from the beginning, reports itself caught up once it has
 * read up to the end offsets it found when it joined, then follows. A consumer that crashes
 * beyond kafkajs's own retries is started again, reading from the beginning once more (the
 * guard applies a command it already holds as a no-op).
 */
export function kafkaControlSource(options: KafkaControlSourceOptions): ControlSource {
  const silenceMs = options.silenceMs ?? 30_000
  const groupId = options.groupId ?? `spendguard-guard-${randomUUID()}`
  let consumer: Consumer | undefined
  let closed = false
  let watchdog: NodeJS.Timeout | undefined

  async function endOffsets(): Promise<Map<number, bigint>> {
    const admin = options.kafka.admin()
    await admin.connect()
    try {
      const offsets = await admin.fetchTopicOffsets(options.topic)
      return new Map(
        offsets
          .filter((partition) => BigInt(partition.high) > BigInt(partition.low))
          .map((partition) => [partition.partition, BigInt(partition.high)]),
      )
    } finally {
      await admin.disconnect()
    }
  }

  async function run(handlers: ControlSourceHandlers): Promise<void> {
    let delay = 250
    let caughtUp = false
    let lost = false
    const contact = () => {
      handlers.contact()
      if (lost && caughtUp) {
        lost = false
        handlers.caughtUp()
      }
      clearTimeout(watchdog)
      watchdog = setTimeout(() => {
        lost = true
        handlers.lost(`no fetch from the control topic answered for ${silenceMs} ms`)
      }, silenceMs).unref()
    }
    while (!closed) {
      try {
        caughtUp = false
        const pending = await endOffsets()
        const reader = options.kafka.consumer({
          groupId,
          maxWaitTimeInMs: options.maxWaitMs ?? 250,
        })
        consumer = reader
        const crashed = new Promise<string>((resolve) => {
          reader.on(reader.events.CRASH, (event) => {
            if (!event.payload.restart) resolve(String(event.payload.error?.message))
          })
        })
        reader.on(reader.events.FETCH, contact)
        await reader.connect()
        // Closed while connecting: this reader must not be left running.
        if (closed) {
          await reader.disconnect().catch(() => {})
          return
        }
        await reader.subscribe({ topic: options.topic, fromBeginning: true })
        await reader.run({
          autoCommit: false,
          eachMessage: ({ partition, message }) => {
            contact()
            // A tombstone (no value) carries no command to obey.
            if (message.value !== null) {
              let raw: unknown
              try {
                raw = JSON.parse(message.value.toString('utf8'))
              } catch {
                raw = null
              }
              handlers.command(raw, `${partition}:${message.offset}`)
            }
            const end = pending.get(partition)
            if (end !== undefined && BigInt(message.offset) + 1n >= end) {
              pending.delete(partition)
              if (pending.size === 0 && !caughtUp) {
                caughtUp = true
                handlers.caughtUp()
              }
            }
            return Promise.resolve()
          },
        })
        if (pending.size === 0 && !caughtUp) {
          caughtUp = true
          handlers.caughtUp()
        }
        delay = 250
        const error = await crashed
        if (closed) return
        throw new Error(`the control topic reader stopped: ${error}`)
      } catch (error) {
        if (closed) return
        lost = true
        handlers.lost(error instanceof Error ? error.message : String(error))
        await consumer?.disconnect().catch(() => {})
        await new Promise((resolve) => setTimeout(resolve, delay).unref())
        delay = Math.min(delay * 2, 5000)
      }
    }
  }

  return {
    start(handlers) {
      void run(handlers)
    },
    async close() {
      closed = true
      clearTimeout(watchdog)
      await consumer?.disconnect().catch(() => {})
    },
  }
}
