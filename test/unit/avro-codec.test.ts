import { readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import avro from 'avsc'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createEventCodec,
  DecodeError,
  readLlmCallSchema,
  readReleasedSchemas,
} from '../../schemas/avro-codec.ts'
import { crc64Avro, fingerprintBytes } from '../../schemas/fingerprint.ts'
import type { LlmCall, LlmCallInput } from '../../schemas/llm-call.ts'
import { createSchemaRegistry } from '../../schemas/schema-registry.ts'
import { parseLlmCall } from '../../schemas/validate.ts'
import { GOLDEN_EVENT_V1 } from '../fixtures/golden/golden-event.ts'
import { makeLlmCall } from '../support/make-llm-call.ts'

interface RecordSchema {
  type: 'record'
  name: string
  fields: { name: string; type: unknown; default?: unknown }[]
}

const currentSchema = () => readLlmCallSchema() as unknown as RecordSchema

const releasedSchema = (version: number) =>
  JSON.parse(
    readFileSync(
      new URL(`../../schemas/avro/released/llm_call.v${version}.avsc`, import.meta.url),
      'utf8',
    ),
  ) as avro.Schema

function fullEvent(overrides: Partial<LlmCallInput> = {}): LlmCall {
  return makeLlmCall({
    started_at: '2026-03-02T10:14:59.000Z',
    tags: { cost_center: 'cc-1', region: 'eu' },
    tool_calls: ['search', 'fetch_page'],
    fallback: { from_model: 'gpt-4o-mini', reason: 'low confidence', exception_id: 'EXC-1' },
    response_model: 'gpt-4o-mini-2024-07-18',
    endpoint: 'batch',
    input_tokens: 2000,
    cache_read_tokens: 1500,
    output_tokens: 400,
    reasoning_tokens: 100,
    content_simhash: 'deadbeefdeadbeef',
    iteration: 4,
    provider_reported_cost: '0.0004125',
    ...overrides,
  })
}

async function expectDecodeError(promise: Promise<unknown>): Promise<DecodeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DecodeError)
  expect(error).toMatchObject({ code: 'DECODE_FAILED', retriable: false })
  return error as DecodeError
}

describe('CRC-64-AVRO', () => {
  it('matches the fingerprints published with the Avro reference implementations', () => {
    // Apache Avro's test suites: "int" -> 0x7275d51a3f395c8f, single-object header
    // C3 01 8F 5C 39 3F 1A D5 75 72; "string" -> 0x8f014872634503c7.
    expect(crc64Avro('"int"')).toBe(0x7275d51a3f395c8fn)
    expect(fingerprintBytes('"int"')).toEqual(
      Buffer.from([0x8f, 0x5c, 0x39, 0x3f, 0x1a, 0xd5, 0x75, 0x72]),
    )
    expect(crc64Avro('"string"')).toBe(0x8f014872634503c7n)
  })
})

describe('single-object encoding', () => {
  it('round-trips an event with tags, tool calls, fallback and absent optional fields', async () => {
    const codec = await createEventCodec()
    const event = fullEvent()
    expect(event.agent_version).toBeUndefined()
    const decoded = parseLlmCall(await codec.decode(codec.encode(event)))
    expect(decoded).toEqual(event)
    expect('agent_version' in decoded).toBe(false)
  })

  it('round-trips a minimal event: defaults kept, a fallback without exception id', async () => {
    const codec = await createEventCodec()
    const event = parseLlmCall({
      event_id: '6f1c2a4e-8b3d-4c5e-9f70-1a2b3c4d5e6f',
      occurred_at: 1772446500000,
      agent_id: 'a',
      model: 'm',
      status: 'timeout',
      fallback: { from_model: 'x', reason: 'y' },
    })
    const decoded = parseLlmCall(await codec.decode(codec.encode(event)))
    expect(decoded).toEqual(event)
    expect(decoded.fallback).toEqual({ from_model: 'x', reason: 'y' })
  })

  it('starts with C3 01 and the 8-byte fingerprint of the canonical writer schema', async () => {
    const codec = await createEventCodec()
    // An event with a v2 field is written under the current schema.
    const bytes = codec.encode(fullEvent({ service_tier: 'flex' }))
    expect([...bytes.subarray(0, 2)]).toEqual([0xc3, 0x01])
    const canonical = JSON.stringify(avro.Type.forSchema(readLlmCallSchema()).schema())
    expect(canonical.startsWith('{"name":"io.spendguard.events.LlmCall","type":"record"')).toBe(
      true,
    )
    expect(bytes.subarray(2, 10)).toEqual(fingerprintBytes(canonical))
    expect(bytes.subarray(2, 10).readBigUInt64LE()).toBe(crc64Avro(canonical))
  })

  it('reads events of an older writer that lacked an optional field: the field is absent', async () => {
    const old = currentSchema()
    old.fields = old.fields.filter((f) => f.name !== 'content_simhash')
    const oldWriter = await createEventCodec({ schema: old as unknown as avro.Schema })
    const event = fullEvent()
    const bytes = oldWriter.encode(event)

    const reader = await createEventCodec({ knownWriterSchemas: [old as unknown as avro.Schema] })
    const decoded = parseLlmCall(await reader.decode(bytes))
    expect(decoded.content_simhash).toBeUndefined()
    const { content_simhash: _dropped, ...rest } = event
    expect(decoded).toEqual(rest)
  })

  it('reads events of a newer writer with an added optional field: the field is ignored', async () => {
    const next = currentSchema()
    next.fields.push({ name: 'cost_center', type: ['null', 'string'], default: null })
    const newWriter = await createEventCodec({ schema: next as unknown as avro.Schema })
    const event = fullEvent()
    const bytes = newWriter.encode({ ...event, cost_center: 'cc-9' } as LlmCall)

    const reader = await createEventCodec({ knownWriterSchemas: [next as unknown as avro.Schema] })
    const decoded = await reader.decode(bytes)
    expect(decoded).not.toHaveProperty('cost_center')
    expect(parseLlmCall(decoded)).toEqual(event)
  })

  it('reads a newer writer it has never seen (registry-less): known fields read, new ones skipped', async () => {
    // A reader that knows only v1, as a processor deployed before v2 was released.
    const v1 = releasedSchema(1)
    const oldReader = await createEventCodec({ schema: v1, knownWriterSchemas: [v1] })
    const event = fullEvent({
      cache_write_tokens: 300,
      cache_write_1h_tokens: 100,
      service_tier: 'flex',
    })
    const bytes = (await createEventCodec()).encode(event)
    const decoded = parseLlmCall(await oldReader.decode(bytes))
    const { cache_write_1h_tokens: _w, service_tier: _t, usage_reported: _u, ...v1Fields } = event
    expect(decoded).toMatchObject(v1Fields)
    expect(decoded.cache_write_tokens).toBe(300)
  })

  it('writes an event that uses no v2 field under v1, so readers of the previous release read it', async () => {
    const codec = await createEventCodec()
    const v1Fingerprint = fingerprintBytes(
      JSON.stringify(avro.Type.forSchema(releasedSchema(1)).schema()),
    )
    const plain = codec.encode(fullEvent())
    expect(plain.subarray(2, 10)).toEqual(v1Fingerprint)
    const decoded = parseLlmCall(await codec.decode(plain))
    expect(decoded).toMatchObject({
      cache_write_1h_tokens: 0,
      usage_reported: true,
      input_tokens: 2000,
    })
    // An event that needs a v2 field is written under v2 (and needs readers that know it).
    for (const overrides of [
      { cache_write_tokens: 10, cache_write_1h_tokens: 10 },
      { service_tier: 'flex' },
      {
        usage_reported: false,
        input_tokens: 0,
        output_tokens: 0,
        cache_read_tokens: 0,
        reasoning_tokens: 0,
      },
    ]) {
      const event = fullEvent(overrides)
      const bytes = codec.encode(event)
      expect(bytes.subarray(2, 10)).not.toEqual(v1Fingerprint)
      expect(parseLlmCall(await codec.decode(bytes))).toEqual(event)
    }
  })

  it('holds every released schema to the rule that makes that safe: fields are only appended, optional', () => {
    const released = readReleasedSchemas() as unknown as Array<{
      fields: Array<{ name: string; type: unknown; default?: unknown }>
    }>
    expect(released.length).toBeGreaterThanOrEqual(2)
    for (let v = 1; v < released.length; v++) {
      const before = released[v - 1]!.fields
      const after = released[v]!.fields
      expect(after.slice(0, before.length)).toEqual(before)
      for (const added of after.slice(before.length)) expect(added).toHaveProperty('default')
    }
    // The current schema is the newest released one.
    expect(currentSchema()).toEqual(released[released.length - 1])
  })

  it('refuses bytes under an unknown fingerprint that do not start with a readable event', async () => {
    const reader = await createEventCodec()
    const header = Buffer.from([0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8])
    const error = await expectDecodeError(
      reader.decode(Buffer.concat([header, Buffer.from([0xff, 0xff, 0xff])])),
    )
    expect(error.message).toMatch(/unknown writer schema fingerprint 0102030405060708/)
  })

  it('refuses garbage: unknown framing, a truncated body, random bytes after the header', async () => {
    const codec = await createEventCodec()
    const event = fullEvent()
    const bytes = codec.encode(event)
    await expectDecodeError(codec.decode(Buffer.from('{"event_id":"not avro"}')))
    await expectDecodeError(codec.decode(Buffer.alloc(0)))
    await expectDecodeError(codec.decode(bytes.subarray(0, bytes.length - 5)))
    await expectDecodeError(
      codec.decode(Buffer.concat([bytes.subarray(0, 10), Buffer.from([0xff, 0xff, 0xff, 0x7f])])),
    )
    // Confluent framing without a registry configured
    await expectDecodeError(codec.decode(Buffer.from([0, 0, 0, 0, 1, 2, 3])))
    // Read without waiting, the same bytes fail the same way.
    expect(() => codec.readRecord(Buffer.from('{"event_id":"not avro"}'))).toThrow(DecodeError)
    expect(() => codec.readRecord(bytes.subarray(0, bytes.length - 5))).toThrow(DecodeError)
    expect(codec.readRecord(bytes)?.event_id).toBe(event.event_id)
  })
})

describe('golden sample v1', () => {
  it('still decodes, field by field, with the current codec', async () => {
    const dir = new URL('../fixtures/golden/', import.meta.url)
    const bytes = readFileSync(new URL('llm_call-v1.single-object.bin', dir))
    const v1 = JSON.parse(
      readFileSync(
        new URL('../../schemas/avro/released/llm_call.v1.avsc', import.meta.url),
        'utf8',
      ),
    ) as avro.Schema
    // The fixture is consistent: its header is the fingerprint of the v1 writer schema.
    expect(bytes.subarray(2, 10)).toEqual(
      fingerprintBytes(JSON.stringify(avro.Type.forSchema(v1).schema())),
    )

    // The default codec: it must know every released writer schema without being told.
    const codec = await createEventCodec()
    const decoded = parseLlmCall(await codec.decode(bytes))
    expect(decoded).toEqual({
      ...GOLDEN_EVENT_V1,
      occurred_at: Date.UTC(2026, 2, 2, 10, 15, 0, 250),
      started_at: Date.UTC(2026, 2, 2, 10, 14, 58),
      // Fields added in v2 take their defaults when a v1 writer is resolved.
      cache_write_1h_tokens: 0,
      usage_reported: true,
    })
    // Spelled out, so a reader of this test sees what v1 carries.
    expect(decoded.event_id).toBe('0b6f6c9e-3f7a-4d2b-9c1e-5a8d7e6f4b3a')
    expect(decoded.tags).toEqual({ cost_center: 'cc-1234', 'job kind': 'bulk generation' })
    expect(decoded.tool_calls).toEqual(['search_catalog', 'write_description'])
    expect(decoded.fallback).toEqual({
      from_model: 'llama3.1',
      reason: 'quality gate failed',
      exception_id: 'EXC-17',
    })
    expect([decoded.endpoint, decoded.status]).toEqual(['batch', 'error'])
    expect([
      decoded.input_tokens,
      decoded.output_tokens,
      decoded.cache_read_tokens,
      decoded.cache_write_tokens,
      decoded.reasoning_tokens,
    ]).toEqual([1800, 600, 1024, 128, 200])
    expect(Object.keys(decoded)).toHaveLength(39)
  })
})

/** A tiny Confluent Schema Registry: POST /subjects/:s/versions, GET /schemas/ids/:id. */
function startRegistry(): Promise<{ server: Server; url: string; registered: string[] }> {
  const schemas: string[] = []
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk.toString()))
    req.on('end', () => {
      res.setHeader('content-type', 'application/vnd.schemaregistry.v1+json')
      const byId = /^\/schemas\/ids\/(\d+)$/.exec(req.url ?? '')
      if (req.method === 'POST' && /^\/subjects\/[^/]+\/versions$/.test(req.url ?? '')) {
        const { schema } = JSON.parse(body) as { schema: string }
        let index = schemas.indexOf(schema)
        if (index < 0) index = schemas.push(schema) - 1
        res.end(JSON.stringify({ id: 100 + index }))
      } else if (req.method === 'GET' && byId) {
        const schema = schemas[Number(byId[1]) - 100]
        res.statusCode = schema === undefined ? 404 : 200
        res.end(JSON.stringify(schema === undefined ? { error_code: 40403 } : { schema }))
      } else {
        res.statusCode = 404
        res.end('{}')
      }
    })
  })
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      resolve({ server, url: `http://127.0.0.1:${port}`, registered: schemas })
    }),
  )
}

describe('Confluent framing with a schema registry', () => {
  let registry: Awaited<ReturnType<typeof startRegistry>>
  beforeAll(async () => {
    registry = await startRegistry()
  })
  afterAll(
    () =>
      new Promise<void>((resolve, reject) =>
        registry.server.close((e) => (e ? reject(e) : resolve())),
      ),
  )

  it('writes 0x00 + the big-endian schema id, and another client decodes by fetching the id', async () => {
    const writer = await createEventCodec({ registry: createSchemaRegistry({ url: registry.url }) })
    const event = fullEvent()
    const bytes = writer.encode(event)
    expect(bytes[0]).toBe(0x00)
    expect([...bytes.subarray(1, 5)]).toEqual([0, 0, 0, 100])
    expect(bytes.readInt32BE(1)).toBe(100)

    // The registered schema keeps its defaults, which the registry's compatibility checks need.
    const registered = JSON.parse(registry.registered[0]!) as RecordSchema
    expect(registered.fields.find((f) => f.name === 'tenant_id')?.default).toBe('default')

    const reader = await createEventCodec({
      registry: createSchemaRegistry({ url: registry.url }),
    })
    // Read at once only when the id was fetched before; the first time needs the registry.
    expect(reader.readRecord(bytes)).toBeUndefined()
    expect(parseLlmCall(await reader.decode(bytes))).toEqual(event)
    expect(reader.readRecord(bytes)).toEqual(await reader.decodeRecord(bytes))
    expect(reader.readRecord(bytes)?.event_id).toBe(event.event_id)
  })

  it('decodes an older writer registered under another id', async () => {
    const old = currentSchema()
    old.fields = old.fields.filter((f) => f.name !== 'iteration')
    const writer = await createEventCodec({
      schema: old as unknown as avro.Schema,
      registry: createSchemaRegistry({ url: registry.url }),
    })
    const bytes = writer.encode(fullEvent())
    expect(bytes.readInt32BE(1)).toBeGreaterThan(100)
    const reader = await createEventCodec({
      registry: createSchemaRegistry({ url: registry.url }),
    })
    const decoded = parseLlmCall(await reader.decode(bytes))
    expect(decoded.iteration).toBeUndefined()
    expect(decoded.agent_id).toBe('support-bot')
  })

  it('reports an id the registry does not know as a registry error, not retriable', async () => {
    const reader = await createEventCodec({
      registry: createSchemaRegistry({ url: registry.url }),
    })
    await expect(reader.decode(Buffer.from([0, 0, 0, 0x30, 0x39, 2]))).rejects.toMatchObject({
      code: 'SCHEMA_REGISTRY_ERROR',
      retriable: false,
    })
  })
})
