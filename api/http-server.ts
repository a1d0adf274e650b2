import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Clock } from '../platform/clock.ts'
import { SpendGuardError } from '../platform/errors.ts'
import type { Logger } from '../platform/logger.ts'
import type { EventBus } from '../processors/ingest/event-bus.ts'
import { DEFAULT_EVENT_TIME_WINDOW, type EventTimeWindow } from '../schemas/event-time.ts'
import { splitBody, validateItems } from './ingest-request.ts'

export interface HttpServerOptions {
  bus: EventBus
  logger: Logger
  maxBodyBytes: number
  maxEventsPerRequest: number
  /** What /healthz reports besides status. */
  health: () => Record<string, unknown>
  /** Event times are checked against this clock (retention and future skew). */
  clock: Clock
  eventTimeWindow?: EventTimeWindow
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

/** Reads the body; past `limit` bytes it keeps draining the socket but stores nothing. */
function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
    })
    request.on('end', () => {
      if (size > limit) reject(new HttpError(413, `body exceeds ${limit} bytes`))
      else resolve(Buffer.concat(chunks).toString('utf8'))
    })
    request.on('error', reject)
  })
}

function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  response.end(text)
}

/**
 * The HTTP interface: `POST /v1/events` (a JSON array, one JSON event, or NDJSON; per-item
 * results, bad items rejected with field-level errors while good ones are accepted) and
 * `GET /healthz`.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  const { bus, logger } = options

  async function ingest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request, options.maxBodyBytes)
    const items = splitBody(body)
    if (items.length === 0) throw new HttpError(400, 'no events in the body')
    if (items.length > options.maxEventsPerRequest) {
      throw new HttpError(413, `at most ${options.maxEventsPerRequest} events per request`)
    }
    const { events, results } = validateItems(items, {
      now: options.clock.now(),
      window: options.eventTimeWindow ?? DEFAULT_EVENT_TIME_WINDOW,
    })
    if (events.length > 0) {
      try {
        await bus.publish(events)
      } catch (error) {
        if (error instanceof SpendGuardError && error.retriable) {
          throw new HttpError(503, `not accepted, retry later: ${error.message}`, {
            'retry-after': '1',
          })
        }
        throw error
      }
    }
    const accepted = results.filter((r) => r.status === 'accepted').length
    const rejected = results.filter((r) => r.status === 'rejected').length
    const duplicates = results.length - accepted - rejected
    const status = rejected === 0 ? 200 : accepted + duplicates > 0 ? 207 : 400
    send(response, status, { accepted, rejected, duplicates, results })
  }

  async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '/').split('?')[0]
    if (path === '/v1/events') {
      if (request.method !== 'POST') throw new HttpError(405, 'use POST', { allow: 'POST' })
      return ingest(request, response)
    }
    if (path === '/healthz' && request.method === 'GET') {
      return send(response, 200, { status: 'ok', ...options.health() })
    }
    throw new HttpError(404, `no route for ${request.method ?? 'GET'} ${path}`)
  }

  return createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (error instanceof HttpError) {
        send(response, error.status, { error: error.message }, error.headers)
        return
      }
      logger.error({ err: error, url: request.url }, 'request failed')
      send(response, 500, { error: 'internal error' })
    })
  })
}
