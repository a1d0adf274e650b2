/**
 * Attributes of OTLP/HTTP JSON spans and resources, and which of them fill which `llm_call`
 * field (docs/otlp.md has the same table for people).
 */

/** An OTLP `AnyValue` in the JSON encoding: 64-bit integers may come as decimal strings. */
export interface OtlpAnyValue {
  stringValue?: unknown
  intValue?: unknown
  doubleValue?: unknown
  boolValue?: unknown
  arrayValue?: { values?: unknown }
}

export interface OtlpKeyValue {
  key?: unknown
  value?: OtlpAnyValue
}

/** Where a value was found: the attribute key, for messages that name it. */
export interface Found<T> {
  key: string
  value: T
}

/** Explicit SpendGuard attribution: `spendguard.<field>` wins over every convention. */
const OWN = 'spendguard.'

/**
 * Event fields read from the span, then from its resource: for each, the keys in order of
 * preference. The first key that holds a value wins.
 */
export const SPAN_FIELDS: ReadonlyArray<readonly [string, readonly string[]]> = (
  [
    ['tenant_id', []],
    ['agent_id', ['gen_ai.agent.name', 'gen_ai.agent.id', 'service.name']],
    ['agent_version', ['gen_ai.agent.version', 'service.version']],
    ['feature_id', []],
    ['user_id', ['user.id', 'enduser.id']],
    ['session_id', ['gen_ai.conversation.id', 'session.id']],
    ['team_id', []],
    ['environment', ['deployment.environment.name', 'deployment.environment']],
    ['workflow_id', []],
    ['parent_agent_id', []],
    ['task_category', []],
    ['endpoint', []],
    ['service_tier', ['openai.response.service_tier', 'openai.request.service_tier']],
    ['request_fingerprint', []],
    ['content_simhash', []],
    ['provider_reported_cost', []],
  ] as const
).map(([field, keys]) => [field, [`${OWN}${field}`, ...keys]] as const)

/**
 * Token counts, read from the span only, current convention names first, then the names
 * older instrumentations still send.
 */
export const TOKEN_FIELDS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['input_tokens', ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens']],
  ['output_tokens', ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens']],
  [
    'cache_read_tokens',
    ['gen_ai.usage.cache_read.input_tokens', 'gen_ai.usage.cache_read_input_tokens'],
  ],
  [
    'cache_write_tokens',
    ['gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.cache_creation_input_tokens'],
  ],
  ['reasoning_tokens', ['gen_ai.usage.reasoning.output_tokens']],
]

/** `spendguard.tags.<name>` attributes become the event's tags. */
export const TAG_PREFIX = `${OWN}tags.`

/** The SDKs' stand-in when no service name was set: no agent is named by it. */
const UNNAMED_SERVICE = /^unknown_service(:|$)/

export interface AttributeReader {
  /** A string (or a number, as its decimal text) under `key`; empty strings are absent. */
  text(key: string): Found<string> | undefined
  /** The first of `keys` that holds a text value, in each layer in turn. */
  first(keys: readonly string[]): Found<string> | undefined
  /** A token count: a non-negative whole number, as intValue, an integral double or digits. */
  count(keys: readonly string[]): Found<number> | { key: string; problem: string } | undefined
  /** A string array (or one string) under `key`. */
  texts(key: string): string[]
  /** Text values of the keys that start with `prefix`, by the rest of the key. */
  prefixed(prefix: string): Record<string, string>
}

type Layer = ReadonlyMap<string, OtlpAnyValue>

function layerOf(attributes: readonly OtlpKeyValue[]): Layer {
  const layer = new Map<string, OtlpAnyValue>()
  for (const attribute of attributes) {
    const value = attribute?.value
    if (typeof attribute?.key === 'string' && typeof value === 'object' && value !== null)
      layer.set(attribute.key, value)
  }
  return layer
}

function textOf(value: OtlpAnyValue | null | undefined): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  if (typeof value.stringValue === 'string')
    return value.stringValue.trim() === '' ? undefined : value.stringValue
  if (typeof value.intValue === 'string' && /^-?\d+$/.test(value.intValue)) return value.intValue
  if (typeof value.intValue === 'number' && Number.isSafeInteger(value.intValue))
    return String(value.intValue)
  return undefined
}

/** The text under `key` in one layer; the SDKs' stand-in service name counts as none. */
function textIn(layer: Layer, key: string): Found<string> | undefined {
  const value = textOf(layer.get(key))
  if (value === undefined) return undefined
  if (key === 'service.name' && UNNAMED_SERVICE.test(value)) return undefined
  return { key, value }
}

/** A whole number from an AnyValue, or why it is not one. */
function countOf(value: OtlpAnyValue): number | string {
  const raw =
    value.intValue ??
    value.doubleValue ??
    (typeof value.stringValue === 'string' ? value.stringValue.trim() : undefined)
  const number =
    typeof raw === 'number'
      ? raw
      : typeof raw === 'string' && /^-?\d+$/.test(raw)
        ? Number(raw)
        : Number.NaN
  if (!Number.isSafeInteger(number))
    return `must be a whole number of tokens (got ${JSON.stringify(raw ?? value)})`
  if (number < 0) return `must not be negative (got ${number})`
  return number
}

/**
 * Reads attributes from layers in order (the span's, then its resource's): a key found in an
 * earlier layer wins, and `first` tries all its keys in one layer before the next.
 */
export function attributeReader(
  ...layers: ReadonlyArray<readonly OtlpKeyValue[]>
): AttributeReader {
  const maps = layers.map(layerOf)
  const first = (keys: readonly string[]): Found<string> | undefined => {
    for (const map of maps)
      for (const key of keys) {
        const found = textIn(map, key)
        if (found) return found
      }
    return undefined
  }
  return {
    text: (key) => first([key]),
    first,
    count(keys) {
      for (const map of maps)
        for (const key of keys) {
          const value = map.get(key)
          if (value === undefined) continue
          const count = countOf(value)
          return typeof count === 'number' ? { key, value: count } : { key, problem: count }
        }
      return undefined
    },
    texts(key) {
      for (const map of maps) {
        const value = map.get(key)
        if (value === undefined) continue
        const list = value.arrayValue?.values
        const values = Array.isArray(list) ? (list as OtlpAnyValue[]) : [value]
        return values.map(textOf).filter((text): text is string => text !== undefined)
      }
      return []
    },
    prefixed(prefix) {
      // No prototype: a tag named "__proto__" is a tag like any other.
      const tags = Object.create(null) as Record<string, string>
      // The last layer first, so the span's own value wins.
      for (const map of [...maps].reverse())
        for (const [key, value] of map) {
          const name = key.slice(prefix.length)
          const tag = key.startsWith(prefix) && name !== '' ? textOf(value) : undefined
          if (tag !== undefined) tags[name] = tag
        }
      return tags
    },
  }
}
