import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { alertRoutingSchema } from '../alerts/routing.ts'
import { rulesShape } from '../processors/detection/rules.ts'
import { DIMENSIONS } from '../processors/windows/spend-windows.ts'
import { WINDOWS } from '../processors/windows/window-spans.ts'
import { ConfigError } from './errors.ts'

/**
 * The one configuration of a SpendGuard process. Every optional field has a default, so an
 * empty file (or no file) runs the product on its embedded defaults: in-process transport,
 * chDB under ./data. Environment variables override the file (see ENV_OVERRIDES). Every
 * object is strict: an unknown key (a typo such as `kafka.broker`) is an error, not ignored.
 */

const port = z.int().min(0).max(65_535)
const positiveInt = z.int().positive()
const usdPerMillion = z
  .string()
  .regex(/^\d+(\.\d{1,9})?$/, 'must be a decimal USD string per 1M tokens with at most 9 decimals')
const usdRates = z.strictObject({ input: usdPerMillion, output: usdPerMillion })
const credentials = z.strictObject({
  username: z.string().min(1),
  password: z.string().default(''),
})

/** One access token of the HTTP API. Exactly one of token, tokenFile, tokenEnv gives its value. */
export const accessTokenSchema = z
  .strictObject({
    /** Shown in logs and audit records instead of the secret. */
    name: z.string().min(1),
    /** ingest: POST events; read: spend, SQL, reports, status; admin: everything. */
    role: z.enum(['ingest', 'read', 'admin']),
    token: z.string().min(16, 'a token must be at least 16 characters').optional(),
    /** A file holding the token (re-read when it changes, for rotation without a restart). */
    tokenFile: z.string().min(1).optional(),
    /** An environment variable holding the token. */
    tokenEnv: z.string().min(1).optional(),
    /**
     * A token bound to a tenant may only write (ingest) or read live spend (read) of that tenant;
     * SQL, which reads every tenant's rows, is refused to it.
     */
    tenant: z.string().min(1).optional(),
  })
  .refine(
    (t) => [t.token, t.tokenFile, t.tokenEnv].filter((v) => v !== undefined).length === 1,
    'give exactly one of token, tokenFile, tokenEnv',
  )

export const configSchema = z.strictObject({
  kafka: z
    .strictObject({
      /** No brokers: the embedded in-process transport. */
      brokers: z.array(z.string().min(1)).default([]),
      clientId: z.string().default('spendguard'),
      /** Prepended to every topic name, e.g. "prod." */
      topicPrefix: z.string().default(''),
      groupId: z.string().default('spendguard-processor'),
      /** Partitions of the topics SpendGuard creates when they are missing. */
      partitions: positiveInt.default(3),
      replicationFactor: positiveInt.default(1),
      compression: z.enum(['none', 'gzip']).default('none'),
      /** Idempotent producer (no duplicates from producer retries); needs a broker that supports it. */
      idempotent: z.boolean().default(true),
      ssl: z.boolean().default(false),
      sasl: z
        .strictObject({
          mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
          username: z.string(),
          password: z.string(),
        })
        .optional(),
    })
    .prefault({}),
  schemaRegistry: z
    .strictObject({
      /** With a URL, events use Confluent framing; without, Avro single-object framing. */
      url: z.url().optional(),
    })
    .prefault({}),
  clickhouse: z
    .strictObject({
      /** A ClickHouse server URL; without one, chDB runs in-process under dataDir. */
      url: z.url().optional(),
      username: z.string().default('default'),
      password: z.string().default(''),
      database: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
        .default('default'),
      dataDir: z.string().default('./data'),
      /**
       * Server only: the user that reads (sql, reports) and the one that runs migrations. Both
       * default to username/password, which is the writer's (INSERT) user.
       */
      reader: credentials.optional(),
      admin: credentials.optional(),
    })
    .prefault({}),
  query: z
    .strictObject({
      /** Limits of every read-only query (`spendguard sql`, POST /v1/sql); 0: no limit. */
      maxExecutionTimeSeconds: z.int().nonnegative().default(30),
      maxResultRows: z.int().nonnegative().default(100_000),
      maxMemoryUsageBytes: z
        .int()
        .nonnegative()
        .default(1024 * 1024 * 1024),
      maxRowsToRead: z.int().nonnegative().default(0),
    })
    .prefault({}),
  auth: z
    .strictObject({
      tokens: z.array(accessTokenSchema).default([]),
      /** A JSON file with a list of tokens in the same shape, re-read when it changes. */
      tokensFile: z.string().min(1).optional(),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: port.default(8787),
      /** Largest accepted request body. */
      maxBodyBytes: positiveInt.default(5 * 1024 * 1024),
      /** Largest number of events in one request. */
      maxEventsPerRequest: positiveInt.default(10_000),
      /** Origins (scheme://host:port) a browser may call the API from; none by default. */
      allowedOrigins: z.array(z.string().min(1)).default([]),
      /**
       * Host header names the API answers to. Empty: loopback names when listening on a
       * loopback address, that address too when listening on one other address, any on a
       * wildcard address (which needs tokens).
       */
      allowedHosts: z.array(z.string().min(1)).default([]),
    })
    .prefault({}),
  pricing: z
    .strictObject({
      /**
       * Your catalog, in SpendGuard's format or the public JSON price-list format: its entries
       * override SpendGuard's own and the curated data, per model.
       */
      catalogFile: z.string().optional(),
      selfHosted: z
        .strictObject({
          /** Providers that run on your own hardware: their calls cost the rates below. */
          providers: z
            .array(z.string().min(1))
            .default(['self-hosted', 'ollama', 'vllm', 'tgi', 'llama.cpp', 'lmstudio', 'local']),
          /** Amortised USD per 1M tokens for every self-hosted model; zero by default. */
          default: usdRates.default({ input: '0', output: '0' }),
          /** Per model id (lower-case), overriding the default. */
          models: z.record(z.string(), usdRates).default({}),
        })
        .prefault({}),
    })
    .prefault({}),
  audit: z
    .strictObject({
      /** Rows per insert. */
      batchSize: positiveInt.default(1000),
      /** Longest time a row waits before its batch is written. */
      flushIntervalMs: positiveInt.default(1000),
      /** Event ids remembered in memory to drop repeats without asking the store. */
      recentIdsCapacity: positiveInt.default(200_000),
    })
    .prefault({}),
  pipeline: z
    .strictObject({
      /** Events accepted over HTTP but not yet processed (embedded transport). */
      maxQueuedEvents: positiveInt.default(100_000),
      /** Event-time lateness tolerated before an event counts as late. */
      allowedLatenessMs: z.int().nonnegative().default(120_000),
      /** On SIGTERM, how long to keep retrying an unavailable audit store before giving up. */
      shutdownTimeoutMs: positiveInt.default(30_000),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  control: z
    .strictObject({
      /**
       * The Ed25519 private key (PEM) that signs control commands; made on first start when
       * missing, with its public key beside it (`<file>.pub`) for guards to trust. Default:
       * `control-signing-key.pem` in the data directory.
       */
      signingKeyFile: z.string().min(1).optional(),
      /** The id guards know the key by (rotate by giving a new key a new id). */
      keyId: z.string().min(1).default('spendguard-1'),
    })
    .prefault({}),
  /** Prometheus metrics at GET /metrics (docs/metrics.md). */
  metrics: z
    .strictObject({
      /** Node.js process metrics (CPU, memory, event loop, GC) beside SpendGuard's own. */
      process: z.boolean().default(true),
      /** The live spend gauge, `spendguard_spend_usd`: one series per window, dimension and key. */
      spend: z
        .strictObject({
          windows: z.array(z.enum(WINDOWS)).default(['day', 'month']),
          dimensions: z.array(z.enum(DIMENSIONS)).default(['tenant', 'agent', 'model']),
          /**
           * The cardinality bound: keys per window and dimension with a series of their own,
           * most expensive first; the others are summed into one series keyed `__other__`.
           */
          maxKeys: z.int().nonnegative().default(200),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Where alerts go: Slack, PagerDuty, webhooks, routes, cooldown (docs/alerts.md). */
  alerts: alertRoutingSchema,
  // Detection rules (SPEC section 6): budgets, anomalies, loops, policy, agents.
  ...rulesShape,
})

export type Config = z.output<typeof configSchema>
export type AccessTokenConfig = z.output<typeof accessTokenSchema>
export type ConfigInput = z.input<typeof configSchema>

/** Environment variable -> config path; list values are comma-separated. */
export const ENV_OVERRIDES: Record<string, { path: string[]; kind: 'string' | 'int' | 'list' }> = {
  SPENDGUARD_KAFKA_BROKERS: { path: ['kafka', 'brokers'], kind: 'list' },
  SPENDGUARD_KAFKA_TOPIC_PREFIX: { path: ['kafka', 'topicPrefix'], kind: 'string' },
  SPENDGUARD_KAFKA_GROUP_ID: { path: ['kafka', 'groupId'], kind: 'string' },
  SPENDGUARD_SCHEMA_REGISTRY_URL: { path: ['schemaRegistry', 'url'], kind: 'string' },
  SPENDGUARD_CLICKHOUSE_URL: { path: ['clickhouse', 'url'], kind: 'string' },
  SPENDGUARD_CLICKHOUSE_USER: { path: ['clickhouse', 'username'], kind: 'string' },
  SPENDGUARD_CLICKHOUSE_PASSWORD: { path: ['clickhouse', 'password'], kind: 'string' },
  SPENDGUARD_CLICKHOUSE_DATABASE: { path: ['clickhouse', 'database'], kind: 'string' },
  SPENDGUARD_CLICKHOUSE_READER_USER: { path: ['clickhouse', 'reader', 'username'], kind: 'string' },
  SPENDGUARD_CLICKHOUSE_READER_PASSWORD: {
    path: ['clickhouse', 'reader', 'password'],
    kind: 'string',
  },
  SPENDGUARD_CLICKHOUSE_ADMIN_USER: { path: ['clickhouse', 'admin', 'username'], kind: 'string' },
  SPENDGUARD_CLICKHOUSE_ADMIN_PASSWORD: {
    path: ['clickhouse', 'admin', 'password'],
    kind: 'string',
  },
  SPENDGUARD_TOKENS_FILE: { path: ['auth', 'tokensFile'], kind: 'string' },
  SPENDGUARD_DATA_DIR: { path: ['clickhouse', 'dataDir'], kind: 'string' },
  SPENDGUARD_HTTP_HOST: { path: ['http', 'host'], kind: 'string' },
  SPENDGUARD_HTTP_PORT: { path: ['http', 'port'], kind: 'int' },
  SPENDGUARD_PRICE_CATALOG: { path: ['pricing', 'catalogFile'], kind: 'string' },
  SPENDGUARD_LOG_LEVEL: { path: ['log', 'level'], kind: 'string' },
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target
  for (const key of path.slice(0, -1)) {
    const next = node[key]
    if (typeof next !== 'object' || next === null) node[key] = {}
    node = node[key] as Record<string, unknown>
  }
  node[path[path.length - 1]!] = value
}

/** "a.b: message" for each problem; an unknown key is named by its own path. */
function describeIssue(issue: z.core.$ZodIssue): string[] {
  const at = (path: PropertyKey[]): string => path.map(String).join('.') || '(root)'
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${at([...issue.path, key])}: unrecognized key`)
  }
  return [`${at(issue.path)}: ${issue.message}`]
}

/** Validates a config document; the error names every bad field and every unknown key. */
export function parseConfig(document: unknown, source = 'configuration'): Config {
  const parsed = configSchema.safeParse(document ?? {})
  if (parsed.success) return parsed.data
  const detail = parsed.error.issues.flatMap(describeIssue).join('; ')
  throw new ConfigError(`invalid ${source}: ${detail}`)
}

export interface LoadConfigOptions {
  /** A JSON config file; none means defaults plus environment. */
  file?: string
  env?: Record<string, string | undefined>
  /** Command-line values, applied last. */
  overrides?: Array<{ path: string[]; value: unknown }>
}

/** Reads the file, applies environment overrides and command-line values, validates. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  let document: Record<string, unknown> = {}
  if (options.file) {
    let text: string
    try {
      text = readFileSync(options.file, 'utf8')
    } catch (cause) {
      throw new ConfigError(`cannot read config file ${options.file}`, cause)
    }
    document = parseConfigText(text, options.file)
  }
  for (const [name, target] of Object.entries(ENV_OVERRIDES)) {
    const raw = options.env?.[name]
    if (raw === undefined || raw === '') continue
    let value: unknown = raw
    if (target.kind === 'list')
      value = raw
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    if (target.kind === 'int') {
      value = Number(raw)
      if (!Number.isInteger(value)) throw new ConfigError(`${name}: "${raw}" is not an integer`)
    }
    setPath(document, target.path, value)
  }
  for (const { path, value } of options.overrides ?? []) setPath(document, path, value)
  return parseConfig(document, options.file ? `config file ${options.file}` : 'configuration')
}

/** A configuration document: YAML for a .yaml/.yml file (JSON is YAML too), JSON otherwise. */
export function parseConfigText(text: string, file: string): Record<string, unknown> {
  const yaml = /\.ya?ml$/i.test(file)
  let document: unknown
  try {
    document = yaml ? parseYaml(text) : JSON.parse(text)
  } catch (cause) {
    const detail = cause instanceof Error ? `: ${cause.message}` : ''
    throw new ConfigError(
      `config file ${file} is not valid ${yaml ? 'YAML' : 'JSON'}${detail}`,
      cause,
    )
  }
  if (document === null || document === undefined) return {}
  if (typeof document !== 'object' || Array.isArray(document))
    throw new ConfigError(`config file ${file} must hold an object of settings`)
  return document as Record<string, unknown>
}

/** Full topic names for a config. */
export function topicNames(config: Config): {
  llmCalls: string
  spendDeltas: string
  dlq: string
  alerts: string
  control: string
} {
  const prefix = config.kafka.topicPrefix
  return {
    llmCalls: `${prefix}llm-calls`,
    spendDeltas: `${prefix}spend-deltas`,
    dlq: `${prefix}dlq`,
    alerts: `${prefix}alerts`,
    control: `${prefix}control`,
  }
}
