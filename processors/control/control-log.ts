import type { ClickHouseClient } from '@clickhouse/client'
import type { Kafka, Producer } from 'kafkajs'
import { toSendError } from '../../producers/kafka-transport.ts'
import type { ControlCommand } from '../../producers/guard/control-command.ts'
import { kafkaControlSource } from '../../producers/guard/kafka-control-source.ts'
import { toClickHouseTime } from '../audit/audit-row.ts'
import { classifyStoreError } from '../audit/audit-store.ts'

/**
 * The durable, ordered log of control commands behind a control plane. Embedded, it is the
 * `control_commands` table; on Kafka, the compacted control topic (the table is then the
 * audit of what each process issued). Either way positions only grow, so a guard resuming an
 * SSE stream after position N misses nothing and sees nothing twice.
 */
export interface ControlLog {
  /** True when `open`'s deliveries go on and include what this process appends (Kafka). */
  readonly follows: boolean
  /**
   * Delivers every command logged so far, in order, resolving once it has; on Kafka it then
   * keeps delivering what any process appends.
   */
  open(deliver: (raw: unknown, seq: number) => void): Promise<void>
  /**
   * Makes the command durable; resolves with its position. A following log (Kafka) leaves the
   * audit row to the control plane.
   */
  append(command: ControlCommand, next: number): Promise<number>
  close(): Promise<void>
}

/** A row of `control_commands`: an issued command at its position, or a refusal (seq 0). */
export async function recordControlRow(
  client: ClickHouseClient,
  row: {
    seq: number
    command: Partial<ControlCommand> & Record<string, unknown>
    status: 'issued' | 'refused'
    refusal?: string
    at: number
  },
): Promise<void> {
  const { command } = row
  const time = (text: unknown) => {
    const ms = typeof text === 'string' ? Date.parse(text) : Number.NaN
    return Number.isNaN(ms) ? null : toClickHouseTime(ms)
  }
  try {
    await client.insert({
      table: 'control_commands',
      format: 'JSONEachRow',
      values: [
        {
          seq: row.seq,
          command_id: String(command.command_id ?? ''),
          action: String(command.action ?? ''),
          tenant_id: String(command.tenant ?? ''),
          scope_kind: String(command.scope?.kind ?? ''),
          scope_id: String(command.scope?.id ?? ''),
          issuer: String(command.issuer ?? ''),
          reason: String(command.reason ?? ''),
          issued_at: time(command.issued_at) ?? toClickHouseTime(row.at),
          expires_at: time(command.expires_at),
          body: JSON.stringify(command),
          recorded_at: toClickHouseTime(row.at),
          status: row.status,
          refusal: row.refusal ?? '',
        },
      ],
    })
  } catch (error) {
    throw classifyStoreError(error, 'insert control_commands')
  }
}

/** Embedded: the table is the log; positions are given by the control plane, one at a time. */
export function tableControlLog(client: ClickHouseClient, now: () => number): ControlLog {
  return {
    follows: false,
    async open(deliver) {
      const result = await client.query({
        query: `SELECT seq, body FROM control_commands WHERE status = 'issued' ORDER BY seq`,
        format: 'JSONEachRow',
      })
      for (const row of await result.json<{ seq: string; body: string }>()) {
        let raw: unknown
        try {
          raw = JSON.parse(row.body)
        } catch {
          raw = null
        }
        deliver(raw, Number(row.seq))
      }
    },
    async append(command, next) {
      await recordControlRow(client, { seq: next, command, status: 'issued', at: now() })
      return next
    },
    async close() {},
  }
}

export interface KafkaControlLogOptions {
  kafka: Kafka
  producer: Producer
  topic: string
  /** This process's own reader group (it reads the whole topic and commits nothing). */
  groupId: string
}

/** The key a command is compacted under: its scope, and the command it is or lifts. */
export function controlKey(command: ControlCommand): string {
  const scope = `${command.tenant ?? ''}/${command.scope.kind}/${command.scope.id}`
  if (command.action !== 'resume') return `${scope}#${command.command_id}`
  // A resume replaces the command it lifts; a resume of a whole scope replaces the previous one.
  return `${scope}#${command.resumes ?? '*'}`
}

/**
 * On Kafka the compacted control topic (one partition: one order) is the log every process
 * follows from the beginning; the position of a command is its offset + 1. A command is keyed
 * by scope and command id, and a resume by the command it lifts, so compaction drops a lifted
 * command together with nothing else and a reader of the compacted topic ends in the same
 * state as one that read it all.
 */
export function kafkaControlLog(options: KafkaControlLogOptions): ControlLog {
  const source = kafkaControlSource({
    kafka: options.kafka,
    topic: options.topic,
    groupId: options.groupId,
  })
  return {
    follows: true,
    open(deliver) {
      return new Promise((resolve) => {
        source.start({
          command: (raw, position) => deliver(raw, Number(position.split(':')[1]) + 1),
          caughtUp: () => resolve(),
          contact: () => {},
          lost: () => {},
        })
      })
    },
    async append(command) {
      let offset: string | undefined
      try {
        const [sent] = await options.producer.send({
          topic: options.topic,
          acks: -1,
          messages: [{ partition: 0, key: controlKey(command), value: JSON.stringify(command) }],
        })
        offset = sent?.baseOffset
      } catch (error) {
        throw toSendError(error, options.topic, 1)
      }
      if (offset === undefined) throw new Error(`${options.topic} gave no offset for a command`)
      return Number(offset) + 1
    },
    close: () => source.close(),
  }
}
