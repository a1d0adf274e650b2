import { describe, expect, it } from 'vitest'
import type { z } from 'zod'
import { readLlmCallSchema } from '../../schemas/avro-codec.ts'
import { llmCallSchema } from '../../schemas/llm-call.ts'

/**
 * The Avro schema (Kafka) and the zod mirror (JSON boundaries) describe one contract. This
 * compares them field by field and lists every disagreement, so a field added, renamed or
 * made optional in only one of them fails here with the field's name.
 */

type Family = 'string' | 'number' | 'boolean' | 'map' | 'array' | 'enum' | 'record'

interface FieldShape {
  families: Family[]
  /** Avro: a ["null", X] union with default null. zod: `.optional()`. */
  optional: boolean
  /** The non-null default, when there is one. */
  default?: unknown
  symbols?: string[]
  fields?: Map<string, FieldShape>
}

interface AvroField {
  name: string
  type: unknown
  default?: unknown
}

function avroShape(type: unknown, field?: AvroField): FieldShape {
  if (Array.isArray(type)) {
    const branches = type.filter((branch) => branch !== 'null')
    const nullable = branches.length < type.length
    if (branches.length !== 1 || type[0] !== 'null') {
      throw new Error(`${field?.name}: only ["null", X] unions are part of the contract`)
    }
    const inner = avroShape(branches[0])
    return { ...inner, optional: nullable && field !== undefined && field.default === null }
  }
  const base: FieldShape = { families: [], optional: false }
  if (field && 'default' in field) base.default = field.default
  if (typeof type === 'string') {
    const family = (
      { string: 'string', long: 'number', int: 'number', boolean: 'boolean' } as const
    )[type as 'string' | 'long' | 'int' | 'boolean']
    if (!family) throw new Error(`unexpected Avro type ${type}`)
    return { ...base, families: [family] }
  }
  const t = type as { type: string; symbols?: string[]; fields?: AvroField[] }
  switch (t.type) {
    case 'map':
      return { ...base, families: ['map'] }
    case 'array':
      return { ...base, families: ['array'] }
    case 'enum':
      return { ...base, families: ['enum'], symbols: t.symbols ?? [] }
    case 'record':
      return { ...base, families: ['record'], fields: avroFields(t.fields ?? []) }
    default:
      throw new Error(`unexpected Avro type ${t.type}`)
  }
}

function avroFields(fields: AvroField[]): Map<string, FieldShape> {
  return new Map(fields.map((field) => [field.name, avroShape(field.type, field)]))
}

interface ZodDef {
  type: string
  innerType?: z.ZodType
  defaultValue?: unknown
  options?: z.ZodType[]
  in?: z.ZodType
  entries?: Record<string, string>
  shape?: Record<string, z.ZodType>
}

const defOf = (schema: z.ZodType): ZodDef => (schema as unknown as { def: ZodDef }).def

function zodFamilies(schema: z.ZodType): Family[] {
  const def = defOf(schema)
  switch (def.type) {
    case 'string':
      return ['string']
    case 'number':
      return ['number']
    case 'boolean':
      return ['boolean']
    case 'record':
      return ['map']
    // The tags schema is a hand-written map check (zod's record drops `__proto__` keys).
    case 'custom':
      return ['map']
    case 'array':
      return ['array']
    case 'enum':
      return ['enum']
    case 'object':
      return ['record']
    case 'pipe':
      return zodFamilies(def.in!)
    case 'union':
      return [...new Set((def.options ?? []).flatMap(zodFamilies))]
    default:
      throw new Error(`unexpected zod type ${def.type}`)
  }
}

function zodShape(schema: z.ZodType): FieldShape {
  const def = defOf(schema)
  if (def.type === 'optional') return { ...zodShape(def.innerType!), optional: true }
  if (def.type === 'default') return { ...zodShape(def.innerType!), default: def.defaultValue }
  const shape: FieldShape = { families: zodFamilies(schema), optional: false }
  if (def.type === 'enum') shape.symbols = Object.values(def.entries ?? {})
  if (def.type === 'object') shape.fields = zodFields(def.shape ?? {})
  return shape
}

function zodFields(shape: Record<string, z.ZodType>): Map<string, FieldShape> {
  return new Map(Object.entries(shape).map(([name, field]) => [name, zodShape(field)]))
}

/** Every disagreement between the two field maps, one readable line each. */
function compareSchemas(
  avro: Map<string, FieldShape>,
  zod: Map<string, FieldShape>,
  prefix = '',
): string[] {
  const problems: string[] = []
  for (const name of avro.keys()) {
    if (!zod.has(name)) problems.push(`${prefix}${name}: in Avro only`)
  }
  for (const [name, z] of zod) {
    const a = avro.get(name)
    const path = `${prefix}${name}`
    if (!a) {
      problems.push(`${path}: in zod only`)
      continue
    }
    if (a.optional !== z.optional) {
      problems.push(`${path}: optional in ${a.optional ? 'Avro' : 'zod'} only`)
    }
    if ((a.default !== undefined) !== (z.default !== undefined)) {
      problems.push(`${path}: has a default in ${a.default !== undefined ? 'Avro' : 'zod'} only`)
    } else if (a.default !== undefined && JSON.stringify(a.default) !== JSON.stringify(z.default)) {
      problems.push(
        `${path}: default ${JSON.stringify(a.default)} in Avro, ${JSON.stringify(z.default)} in zod`,
      )
    }
    // An event time is a long in Avro and "epoch ms or ISO string" in zod: the zod families
    // must include the Avro family.
    const avroFamily = a.families[0]
    if (avroFamily === undefined || !z.families.includes(avroFamily)) {
      problems.push(`${path}: Avro ${a.families.join('|')} but zod ${z.families.join('|')}`)
    }
    if (JSON.stringify(a.symbols) !== JSON.stringify(z.symbols)) {
      problems.push(`${path}: symbols ${JSON.stringify(a.symbols)} vs ${JSON.stringify(z.symbols)}`)
    }
    if (a.fields && z.fields) problems.push(...compareSchemas(a.fields, z.fields, `${path}.`))
  }
  return problems
}

function avroTopLevel(schema: unknown): Map<string, FieldShape> {
  return avroFields((schema as { fields: AvroField[] }).fields)
}

const zodTopLevel = zodFields(llmCallSchema.shape)

describe('the Avro schema and the zod mirror', () => {
  it('agree on every field, its optionality, default, enum symbols and type family', () => {
    expect(compareSchemas(avroTopLevel(readLlmCallSchema()), zodTopLevel)).toEqual([])
  })

  it('have the same field names, in the same order', () => {
    const avroNames = (readLlmCallSchema() as unknown as { fields: AvroField[] }).fields.map(
      (f) => f.name,
    )
    expect(avroNames).toEqual(Object.keys(llmCallSchema.shape))
    expect(avroNames).toHaveLength(40)
  })

  it('compare the defaulted and enum fields the contract names', () => {
    const avro = avroTopLevel(readLlmCallSchema())
    expect(avro.get('tenant_id')?.default).toBe('default')
    expect(zodTopLevel.get('tenant_id')?.default).toBe('default')
    expect(zodTopLevel.get('endpoint')).toMatchObject({
      default: 'realtime',
      symbols: ['realtime', 'batch'],
    })
    expect(avro.get('status')?.symbols).toEqual(['ok', 'error', 'timeout', 'blocked'])
    expect(avro.get('fallback')?.fields?.get('exception_id')?.optional).toBe(true)
    expect(zodTopLevel.get('fallback')?.fields?.get('exception_id')?.optional).toBe(true)
  })

  it('detects a field added to the Avro schema only', () => {
    const schema = structuredClone(readLlmCallSchema()) as unknown as { fields: AvroField[] }
    schema.fields.push({ name: 'cost_center', type: ['null', 'string'], default: null })
    expect(compareSchemas(avroTopLevel(schema), zodTopLevel)).toEqual(['cost_center: in Avro only'])
  })

  it('detects drift in optionality, enum symbols and nested fallback fields', () => {
    const schema = structuredClone(readLlmCallSchema()) as unknown as {
      fields: (AvroField & { type: unknown })[]
    }
    const field = (name: string) => schema.fields.find((f) => f.name === name)!
    // user_id made required in Avro only
    field('user_id').type = 'string'
    delete field('user_id').default
    // a status symbol added in Avro only
    ;(field('status').type as { symbols: string[] }).symbols.push('cancelled')
    // a field of the nested fallback record dropped in Avro only
    const fallback = (field('fallback').type as unknown[])[1] as { fields: AvroField[] }
    fallback.fields = fallback.fields.filter((f) => f.name !== 'reason')
    // a type family changed: latency_ms as a string
    field('latency_ms').type = ['null', 'string']
    expect(compareSchemas(avroTopLevel(schema), zodTopLevel)).toEqual([
      'user_id: optional in zod only',
      'status: symbols ["ok","error","timeout","blocked","cancelled"] vs ["ok","error","timeout","blocked"]',
      'latency_ms: Avro string but zod number',
      'fallback.reason: in zod only',
    ])
  })
})
