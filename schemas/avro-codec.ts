import { readdirSync, readFileSync } from 'node:fs'
import avro from 'avsc'
import { SpendGuardError } from '../platform/errors.ts'
import { fingerprintBytes } from './fingerprint.ts'
import type { LlmCall } from './llm-call.ts'
import type { SchemaRegistry } from './schema-registry.ts'

/**
 * Avro encoding of llm_call events with a header that always identifies the writer schema:
 *
 * - Confluent framing when a schema registry is configured: byte 0x00, then the schema id
 *   as a 4-byte big-endian integer, then the Avro body.
 * - Avro single-object encoding otherwise: bytes 0xC3 0x01, then the 8-byte little-endian
 *   CRC-64-AVRO fingerprint of the writer schema, then the Avro body. Readers resolve the
 *   fingerprint against the writer schemas they ship (every released version of the schema).
 *
 * Decoding resolves the writer schema into the reader schema (Avro schema resolution), so an
 * old event stays readable after the schema gains optional fields, and the reverse.
 */

export const LLM_CALL_SCHEMA_PATH = new URL('./avro/llm_call.avsc', import.meta.url)

export const RELEASED_SCHEMAS_DIR = new URL('./avro/released/', import.meta.url)

/**
 * Every released llm_call writer schema (schemas/avro/released/llm_call.vN.avsc). A schema
 * that has been used to write events is never deleted from there: readers resolve old
 * events through it.
 */
export function readReleasedSchemas(): avro.Schema[] {
  return readdirSync(RELEASED_SCHEMAS_DIR)
    .filter((file) => /^llm_call\.v\d+\.avsc$/.test(file))
    .sort()
    .map(
      (file) =>
        JSON.parse(readFileSync(new URL(file, RELEASED_SCHEMAS_DIR), 'utf8')) as avro.Schema,
    )
}

/** Reads the current llm_call schema from schemas/avro. */
export function readLlmCallSchema(): avro.Schema {
  return JSON.parse(readFileSync(LLM_CALL_SCHEMA_PATH, 'utf8')) as avro.Schema
}

const CONFLUENT_MAGIC = 0x00
const SINGLE_OBJECT_MAGIC = Buffer.from([0xc3, 0x01])

export class DecodeError extends SpendGuardError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'DECODE_FAILED', retriable: false, cause })
  }
}

export interface EventCodec {
  /** Frames and encodes a validated event. */
  encode(event: LlmCall): Buffer
  /**
   * Decodes framed bytes into a plain object ready for zod validation (Avro nulls become
   * absent fields). Throws DecodeError for bytes that are not a known framing or schema.
   */
  decode(bytes: Buffer): Promise<Record<string, unknown>>
  /**
   * Decodes framed bytes into the Avro record as avsc reads it: every field present, null for
   * the absent ones (the processor's hot path validates it as it is, see fast-validate.ts).
   */
  decodeRecord(bytes: Buffer): Promise<Record<string, unknown>>
  /**
   * `decodeRecord` without waiting, for the hot path: the record when its writer schema is at
   * hand (single-object framing, or a registry id read before), undefined when the schema must
   * first be fetched from the registry. Throws DecodeError as `decodeRecord` does.
   */
  readRecord(bytes: Buffer): Record<string, unknown> | undefined
}

export interface CodecOptions {
  /** Reader (and writer) schema; the current llm_call schema by default. */
  schema?: avro.Schema
  /** Writer schemas this reader must decode (single-object framing); default: every released schema. */
  knownWriterSchemas?: avro.Schema[]
  /** With a registry: Confluent framing, schema registered under `subject`. */
  registry?: SchemaRegistry
  subject?: string
}

type AvroType = avro.Type
type AvroField = { name: string; default?: unknown }

/** True when a value is what a reader would fill in for the field anyway. */
function isDefault(value: unknown, fieldDefault: unknown): boolean {
  if (value === undefined) return true
  return value === fieldDefault || (fieldDefault === null && value === null)
}

function canonical(type: AvroType): string {
  return JSON.stringify(type.schema())
}

/** How to read a body of one writer schema. */
interface Writer {
  type: AvroType
  resolver?: avro.Resolver
}

/** Builds a codec; with a registry it first registers the writer schema to learn its id. */
export async function createEventCodec(options: CodecOptions = {}): Promise<EventCodec> {
  const readerType = avro.Type.forSchema(options.schema ?? readLlmCallSchema())
  const readerFingerprint = fingerprintBytes(canonical(readerType)).toString('hex')
  // Single-object framing names a known writer schema. An older one (its fields are all the
  // reader's) is read with itself, no resolver: SpendGuard's schemas only add optional fields,
  // so such a record simply lacks the newer ones, which validation fills with their defaults.
  // A writer with fields this reader does not know goes through a resolver that drops them.
  const readerFields = new Set(
    (readerType.schema() as { fields: AvroField[] }).fields.map((field) => field.name),
  )
  const byFingerprint = new Map<string, Writer>([[readerFingerprint, { type: readerType }]])
  for (const schema of options.knownWriterSchemas ?? readReleasedSchemas()) {
    const writerType = avro.Type.forSchema(schema)
    const key = fingerprintBytes(canonical(writerType)).toString('hex')
    if (key === readerFingerprint) continue
    const fields = (writerType.schema() as { fields: AvroField[] }).fields
    byFingerprint.set(
      key,
      fields.every((field) => readerFields.has(field.name))
        ? { type: writerType }
        : { type: readerType, resolver: readerType.createResolver(writerType) },
    )
  }

  const registry = options.registry
  let header: Buffer
  /** Registry-less only: older writer schemas, oldest first, each with the fields it lacks. */
  let olderWriters: Array<{ type: AvroType; header: Buffer; lacks: AvroField[] }> = []
  if (registry) {
    // Register the full schema, defaults included: the parsing canonical form drops them, and
    // the registry's compatibility checks need a new field's default to accept it.
    const id = await registry.register(
      options.subject ?? 'llm-calls-value',
      JSON.stringify(readerType.schema({ exportAttrs: true })),
    )
    header = Buffer.alloc(5)
    header.writeUInt8(CONFLUENT_MAGIC, 0)
    header.writeInt32BE(id, 1)
  } else {
    header = Buffer.concat([SINGLE_OBJECT_MAGIC, Buffer.from(readerFingerprint, 'hex')])
    // An event that needs nothing a newer schema added is written with the oldest released
    // schema that holds it, so readers deployed before that schema keep reading it (a rolling
    // upgrade: producers first or consumers first). Only events that use a new field need the
    // new readers.
    // With its attributes: the canonical form drops the defaults this needs.
    const fields = (readerType.schema({ exportAttrs: true }) as { fields: AvroField[] }).fields
    olderWriters = (options.knownWriterSchemas ?? readReleasedSchemas())
      .map((schema) => avro.Type.forSchema(schema))
      .filter((type) => canonical(type) !== canonical(readerType))
      .map((type) => {
        const own = (type.schema() as { fields: AvroField[] }).fields.map((f) => f.name)
        const names = new Set(own)
        // Only a schema this one extends by appending (SpendGuard's own releases) qualifies.
        const prefix = own.every((name, i) => fields[i]?.name === name)
        return {
          prefix,
          type,
          header: Buffer.concat([SINGLE_OBJECT_MAGIC, fingerprintBytes(canonical(type))]),
          lacks: fields.filter((field) => !names.has(field.name)),
        }
      })
      .filter((writer) => writer.prefix && writer.lacks.every((field) => 'default' in field))
      .sort((a, b) => b.lacks.length - a.lacks.length)
  }
  const byRegistryId = new Map<number, avro.Resolver | null>()

  async function resolverForRegistryId(id: number): Promise<avro.Resolver | null> {
    const cached = byRegistryId.get(id)
    if (cached !== undefined) return cached
    if (!registry)
      throw new DecodeError(`schema registry framing (id ${id}) but no registry is configured`)
    // A registry failure propagates as is (it carries its own `retriable`); a schema this
    // reader cannot parse or resolve is a property of the message: not retriable.
    const text = await registry.getSchema(id)
    let resolver: avro.Resolver | null
    try {
      const writerType = avro.Type.forSchema(JSON.parse(text) as avro.Schema)
      resolver =
        canonical(writerType) === canonical(readerType)
          ? null
          : readerType.createResolver(writerType)
    } catch (cause) {
      throw new DecodeError(
        `writer schema ${id} from the registry cannot be read as an llm_call`,
        cause,
      )
    }
    byRegistryId.set(id, resolver)
    return resolver
  }

  function decodeBody(
    body: Buffer,
    resolver: avro.Resolver | null,
    type: AvroType = readerType,
  ): Record<string, unknown> {
    try {
      return (resolver ? type.fromBuffer(body, resolver) : type.fromBuffer(body)) as Record<
        string,
        unknown
      >
    } catch (cause) {
      throw new DecodeError('the Avro body does not match its writer schema', cause)
    }
  }

  /**
   * An event from a newer writer this reader has never seen. SpendGuard's schemas only ever
   * gain optional fields at the end of the record (a test holds every released schema to
   * that), so the body starts with the fields this reader knows, in its own encoding; the
   * newer fields after them are skipped. The result still goes through validation.
   */
  function decodeNewerWriter(body: Buffer, fingerprint: string): Record<string, unknown> {
    try {
      return readerType.fromBuffer(body, undefined, true) as Record<string, unknown>
    } catch (cause) {
      throw new DecodeError(
        `unknown writer schema fingerprint ${fingerprint}, and the body does not start with the fields this reader knows`,
        cause,
      )
    }
  }

  // Consecutive messages mostly share a writer: its fingerprint is compared, not re-hexed.
  let lastFingerprint: Buffer | undefined
  let lastWriter: Writer = { type: readerType }

  function writerOf(bytes: Buffer): Writer | undefined {
    if (lastFingerprint !== undefined && bytes.compare(lastFingerprint, 0, 8, 2, 10) === 0)
      return lastWriter
    const writer = byFingerprint.get(bytes.subarray(2, 10).toString('hex'))
    if (writer !== undefined) {
      lastFingerprint = Buffer.from(bytes.subarray(2, 10))
      lastWriter = writer
    }
    return writer
  }

  function readRecord(bytes: Buffer): Record<string, unknown> | undefined {
    if (bytes.length >= 10 && bytes[0] === 0xc3 && bytes[1] === 0x01) {
      const writer = writerOf(bytes)
      if (writer === undefined)
        return decodeNewerWriter(bytes.subarray(10), bytes.subarray(2, 10).toString('hex'))
      return decodeBody(bytes.subarray(10), writer.resolver ?? null, writer.type)
    }
    if (bytes.length >= 5 && bytes[0] === CONFLUENT_MAGIC) {
      const resolver = byRegistryId.get(bytes.readInt32BE(1))
      return resolver === undefined ? undefined : decodeBody(bytes.subarray(5), resolver)
    }
    throw new DecodeError(
      'unknown framing: expected Avro single-object (C3 01) or schema registry (00) header',
    )
  }

  async function decodeRecord(bytes: Buffer): Promise<Record<string, unknown>> {
    const record = readRecord(bytes)
    if (record !== undefined) return record
    // Only registry framing of an id not read before gets here: fetch its schema first.
    return decodeBody(bytes.subarray(5), await resolverForRegistryId(bytes.readInt32BE(1)))
  }

  return {
    encode(event) {
      const record = event as unknown as Record<string, unknown>
      for (const older of olderWriters) {
        if (older.lacks.every((field) => isDefault(record[field.name], field.default))) {
          return Buffer.concat([older.header, older.type.toBuffer(event)])
        }
      }
      // avsc writes a field's default (null for optional ones) when the event leaves it out.
      return Buffer.concat([header, readerType.toBuffer(event)])
    },
    async decode(bytes) {
      return fromAvroRecord(await decodeRecord(bytes))
    },
    decodeRecord,
    readRecord,
  }
}

/** Avro record to a plain object for validation: nulls become absent fields. */
export function fromAvroRecord(record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(record)) {
    if (value === null || value === undefined) continue
    if (key === 'fallback') out[key] = fromAvroRecord(value as Record<string, unknown>)
    else out[key] = value
  }
  return out
}
