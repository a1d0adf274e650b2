import { SpendGuardError } from '../platform/errors.ts'

/**
 * The part of the Confluent Schema Registry REST API that SpendGuard needs: register a
 * writer schema under a subject, and fetch a schema by the id found in a message header.
 */
export interface SchemaRegistry {
  register(subject: string, schema: string): Promise<number>
  getSchema(id: number): Promise<string>
}

export interface SchemaRegistryOptions {
  url: string
  /** Injected for tests and proxies; the global fetch by default. */
  fetch?: typeof fetch
  timeoutMs?: number
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json'

export function createSchemaRegistry(options: SchemaRegistryOptions): SchemaRegistry {
  const doFetch = options.fetch ?? fetch
  const base = options.url.replace(/\/+$/, '')
  const byId = new Map<number, string>()

  async function call(path: string, init: RequestInit): Promise<unknown> {
    let response: Response
    try {
      response = await doFetch(`${base}${path}`, {
        ...init,
        headers: { accept: CONTENT_TYPE, 'content-type': CONTENT_TYPE },
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      })
    } catch (cause) {
      throw new SpendGuardError(`schema registry at ${base} is unreachable`, {
        code: 'SCHEMA_REGISTRY_UNAVAILABLE',
        retriable: true,
        cause,
      })
    }
    if (!response.ok) {
      const body = await response.text()
      throw new SpendGuardError(`schema registry ${path} answered ${response.status}: ${body}`, {
        code: 'SCHEMA_REGISTRY_ERROR',
        retriable: response.status >= 500 || response.status === 429,
      })
    }
    try {
      return await response.json()
    } catch (cause) {
      throw new SpendGuardError(`schema registry ${path} answered with a body that is not JSON`, {
        code: 'SCHEMA_REGISTRY_ERROR',
        retriable: true,
        cause,
      })
    }
  }

  return {
    async register(subject, schema) {
      const body = (await call(`/subjects/${encodeURIComponent(subject)}/versions`, {
        method: 'POST',
        body: JSON.stringify({ schema }),
      })) as { id?: unknown }
      if (typeof body.id !== 'number') {
        throw new SpendGuardError('schema registry answered without a schema id', {
          code: 'SCHEMA_REGISTRY_ERROR',
        })
      }
      byId.set(body.id, schema)
      return body.id
    },
    async getSchema(id) {
      const cached = byId.get(id)
      if (cached !== undefined) return cached
      const body = (await call(`/schemas/ids/${id}`, { method: 'GET' })) as { schema?: unknown }
      if (typeof body.schema !== 'string') {
        throw new SpendGuardError(`schema registry has no schema text for id ${id}`, {
          code: 'SCHEMA_REGISTRY_ERROR',
        })
      }
      byId.set(id, body.schema)
      return body.schema
    },
  }
}
