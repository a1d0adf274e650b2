import { fileURLToPath } from 'node:url'
import {
  DiagnosticSeverity,
  fromFile,
  Parser,
  type AsyncAPIDocumentInterface,
  type Diagnostic,
  type SchemaParser,
} from '@asyncapi/parser'
import avro from 'avsc'
import type { Producer } from 'kafkajs'
import { z } from 'zod'
import { beforeAll, describe, expect, it } from 'vitest'
import { alertSchema, alertStreamOf, type Alert } from '../../alerts/alert.ts'
import { parseConfig, topicNames } from '../../platform/config.ts'
import { controlKey } from '../../processors/control/control-log.ts'
import { createKafkaDeadLetterSink } from '../../processors/ingest/kafka-dead-letters.ts'
import { spendDeltaSchema } from '../../processors/scale-out/spend-deltas.ts'
import { eventKey } from '../../producers/kafka-transport.ts'
import { controlCommandSchema, type ControlCommand } from '../../producers/guard/control-command.ts'
import { readLlmCallSchema } from '../../schemas/avro-codec.ts'

const DOCUMENT = fileURLToPath(new URL('../../docs/asyncapi.yaml', import.meta.url))

const AVRO_FORMATS = ['json', 'yaml', ''].map(
  (kind) => `application/vnd.apache.avro${kind ? `+${kind}` : ''};version=1.9.0`,
)

/** Avro payloads are checked by avsc, the library that reads them: a bad schema is an error. */
const avroSchemas: SchemaParser = {
  getMimeTypes: () => AVRO_FORMATS,
  validate: () => [],
  parse(input) {
    avro.Type.forSchema(input.data as avro.Schema)
    return input.data as never
  },
}

const newParser = () => new Parser({ schemaParsers: [avroSchemas] })

const SERIOUS = new Set<number>([DiagnosticSeverity.Error, DiagnosticSeverity.Warning])

const problems = (diagnostics: Diagnostic[]) =>
  diagnostics.filter((d) => SERIOUS.has(d.severity)).map((d) => `${d.path.join('.')}: ${d.message}`)

type JsonSchema = {
  type?: string | string[]
  enum?: unknown[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  items?: JsonSchema
}

/** What two copies of a message schema must agree on: types, fields, required, enums. */
function shape(schema: JsonSchema): unknown {
  return {
    ...(schema.type !== undefined ? { type: [schema.type].flat().sort() } : {}),
    ...(schema.enum ? { enum: schema.enum.map(String).sort() } : {}),
    ...(schema.properties
      ? {
          properties: Object.fromEntries(
            Object.entries(schema.properties).map(([name, field]) => [name, shape(field)]),
          ),
        }
      : {}),
    ...(schema.required ? { required: [...schema.required].sort() } : {}),
    ...(schema.items ? { items: shape(schema.items) } : {}),
  }
}

describe('docs/asyncapi.yaml', () => {
  let document: AsyncAPIDocumentInterface
  let diagnostics: Diagnostic[]

  beforeAll(async () => {
    const parsed = await fromFile(newParser(), DOCUMENT).parse()
    diagnostics = parsed.diagnostics
    document = parsed.document!
  })

  it('is a valid AsyncAPI 3 document: no errors, no warnings', () => {
    expect(problems(diagnostics)).toEqual([])
    expect(document.version()).toMatch(/^3\./)
  })

  it('has a channel for every topic the code uses, and none for a topic it does not', () => {
    for (const topicPrefix of ['', 'prod.']) {
      const config = parseConfig({ kafka: { topicPrefix } })
      const addresses = document
        .channels()
        .all()
        .map((channel) => channel.address()!.replace('{prefix}', config.kafka.topicPrefix))
      expect(addresses.sort()).toEqual(Object.values(topicNames(config)).sort())
    }
  })

  it('says how the topics are created: partitions, compaction of control', () => {
    const config = parseConfig({})
    const topics = topicNames(config)
    for (const channel of document.channels().all()) {
      const kafka = channel.bindings().get('kafka')!.value<{
        partitions: number
        topicConfiguration: Record<string, string[]>
      }>()
      const isControl = channel.address() === `{prefix}${topics.control}`
      expect(kafka.partitions).toBe(isControl ? 1 : config.kafka.partitions)
      expect(kafka.topicConfiguration['cleanup.policy']).toEqual([isControl ? 'compact' : 'delete'])
    }
    const groups = document
      .operations()
      .all()
      .map((operation) => operation.bindings().get('kafka')?.value<{ groupId?: object }>())
      .map((binding) => (binding?.groupId as { default?: string } | undefined)?.default)
      .filter((group) => group !== undefined)
    const group = config.kafka.groupId
    expect(groups.sort()).toEqual([group, `${group}.alerts`, `${group}.spend-deltas`])
  })

  it('describes llm-calls with the Avro schema the codec writes', () => {
    const message = document
      .messages()
      .all()
      .find((m) => m.id() === 'llmCall')!
    expect(message.schemaFormat()).toBe(AVRO_FORMATS[0])
    const payload = message.payload()!.json<{ schema: unknown }>()
    // The parser adds its own `x-parser-*` marks; the schema is the file's, not a copy.
    expect(payload.schema).toMatchObject(readLlmCallSchema() as object)
  })

  it('describes the JSON messages as the zod schemas that read them', () => {
    const payloadOf = (id: string) =>
      document
        .messages()
        .all()
        .find((m) => m.id() === id)!
        .payload()!
        .json<JsonSchema>()
    const zodShape = (schema: z.ZodType) =>
      shape(z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) as JsonSchema)
    expect(shape(payloadOf('alert'))).toEqual(zodShape(alertSchema))
    expect(shape(payloadOf('spendDelta'))).toEqual(zodShape(spendDeltaSchema))
    expect(shape(payloadOf('controlCommand'))).toEqual(zodShape(controlCommandSchema))
  })

  it('names the dead-letter headers the sink writes, and the keys as the code builds them', async () => {
    const sent: Array<{ key: string; headers: Record<string, string> }> = []
    const producer = {
      send: (record: { messages: typeof sent }) => {
        sent.push(...record.messages)
        return Promise.resolve([])
      },
    } as unknown as Producer
    await createKafkaDeadLetterSink(producer, 'dlq').publish([
      {
        code: 'DECODE_FAILED',
        reason: 'not framed Avro',
        issues: [],
        original: Buffer.from('oops'),
        source: { kind: 'kafka', partition: 1, offset: '40211' },
        failedAt: 0,
      },
    ])
    const deadLetter = document
      .messages()
      .all()
      .find((m) => m.id() === 'deadLetter')!
    const headers = deadLetter.headers()!.json<JsonSchema>()
    expect(Object.keys(headers.properties!).sort()).toEqual(Object.keys(sent[0]!.headers).sort())
    expect(headers.required!.sort()).toEqual(Object.keys(sent[0]!.headers).sort())

    const keyExamples = (id: string) =>
      document
        .messages()
        .all()
        .find((m) => m.id() === id)!
        .bindings()
        .get('kafka')!
        .value<{ key: { examples: string[] } }>().key.examples
    expect(keyExamples('deadLetter')).toContain(sent[0]!.key)
    expect(keyExamples('llmCall')).toEqual([
      eventKey({ tenant_id: 'acme', agent_id: 'support-bot' }),
    ])
    const alert = { type: 'budget.threshold', scope: { kind: 'agent', id: 'support-bot' } }
    expect(keyExamples('alert')).toEqual([
      alertStreamOf({ ...alert, evidence: { tenant: 'acme' } } as unknown as Alert),
    ])
    const block = {
      command_id: '3f6c2b1e',
      action: 'block',
      tenant: 'acme',
      scope: { kind: 'agent', id: 'blog-outline' },
    } as ControlCommand
    expect(keyExamples('controlCommand')).toEqual([
      controlKey(block),
      controlKey({ ...block, command_id: '9a1d', action: 'resume' }),
    ])
  })

  it('reports an Avro payload that is not a valid Avro schema as an error', async () => {
    const broken = {
      asyncapi: '3.0.0',
      info: { title: 'broken', version: '1.0.0' },
      channels: {
        calls: {
          address: 'calls',
          messages: {
            call: {
              payload: {
                schemaFormat: AVRO_FORMATS[0],
                schema: { type: 'record', name: 'Call', fields: [{ name: 'x', type: 'nope' }] },
              },
            },
          },
        },
      },
    }
    const { diagnostics: found } = await newParser().parse(broken)
    expect(problems(found).join('\n')).toMatch(/nope/)
  })
})
