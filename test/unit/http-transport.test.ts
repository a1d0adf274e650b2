import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../platform/clock.ts'
import { silentLogger } from '../../platform/logger.ts'
import { createEmitter } from '../../producers/emitter.ts'
import {
  createHttpTransport,
  HttpIngestRejectedError,
  parseRetryAfter,
} from '../../producers/http-transport.ts'
import { makeLlmCall, makeLlmCallInput } from '../support/make-llm-call.ts'

interface Received {
  method: string | undefined
  url: string | undefined
  headers: IncomingMessage['headers']
  body: unknown
}

type Handler = (req: Received, res: ServerResponse) => void

/** A real HTTP server on an ephemeral port; answers with the next handler in line. */
async function startIngest(...handlers: Handler[]) {
  const received: Received[] = []
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const entry = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: text ? (JSON.parse(text) as unknown) : undefined,
      }
      received.push(entry)
      const handler = handlers.length > 1 ? handlers.shift()! : handlers[0]!
      handler(entry, res)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  servers.push(server)
  return { url: `http://127.0.0.1:${port}`, received, server }
}

const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
})

function json(status: number, body: unknown, headers: Record<string, string> = {}): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers })
    res.end(JSON.stringify(body))
  }
}

/** The server's answer when it took every item of the request. */
const acceptAll: Handler = (req, res) => {
  const items = req.body as { event_id: string }[]
  json(200, {
    accepted: items.length,
    rejected: 0,
    results: items.map((item, index) => ({ index, event_id: item.event_id, status: 'accepted' })),
  })(req, res)
}

describe('http transport', () => {
  it('POSTs the batch as a JSON array to /v1/events with its token and headers', async () => {
    const ingest = await startIngest(acceptAll)
    const transport = createHttpTransport({
      url: `${ingest.url}/`,
      token: 'sg-test',
      headers: { 'x-trace': 't1' },
    })
    const events = [makeLlmCall(), makeLlmCall({ agent_id: 'planner' })]
    await transport.send(events)
    expect(ingest.received).toHaveLength(1)
    const [request] = ingest.received
    expect(request).toMatchObject({ method: 'POST', url: '/v1/events' })
    expect(request!.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer sg-test',
      'x-trace': 't1',
    })
    expect(request!.body).toEqual(JSON.parse(JSON.stringify(events)))
    await transport.close()
  })

  it('treats duplicates as delivered', async () => {
    const ingest = await startIngest(
      json(207, { accepted: 0, rejected: 0, results: [{ index: 0, status: 'duplicate' }] }),
    )
    await createHttpTransport({ url: ingest.url }).send([makeLlmCall()])
  })

  it('throws HTTP_INGEST_REJECTED listing the rejected items and their fields', async () => {
    const events = [makeLlmCall(), makeLlmCall()]
    const ingest = await startIngest(
      json(207, {
        accepted: 1,
        rejected: 1,
        results: [
          { index: 0, event_id: events[0]!.event_id, status: 'accepted' },
          {
            index: 1,
            event_id: events[1]!.event_id,
            status: 'rejected',
            errors: [{ path: 'model', message: 'unknown model alias' }],
          },
        ],
      }),
    )
    const error = await createHttpTransport({ url: ingest.url })
      .send(events)
      .then(
        () => undefined,
        (e: unknown) => e,
      )
    expect(error).toBeInstanceOf(HttpIngestRejectedError)
    const rejected = error as HttpIngestRejectedError
    expect(rejected).toMatchObject({ code: 'HTTP_INGEST_REJECTED', retriable: false, delivered: 1 })
    expect(rejected.issues).toEqual([{ path: '[1].model', message: 'unknown model alias' }])
    expect(rejected.rejected[0]!.event_id).toBe(events[1]!.event_id)
    expect(rejected.message).toContain('[1].model: unknown model alias')
  })

  it('reads the per-item results of a 400 where every item was rejected', async () => {
    const ingest = await startIngest(
      json(400, {
        accepted: 0,
        rejected: 1,
        duplicates: 0,
        results: [{ index: 0, status: 'rejected', errors: [{ path: 'status', message: 'bad' }] }],
      }),
    )
    await expect(
      createHttpTransport({ url: ingest.url }).send([makeLlmCall()]),
    ).rejects.toMatchObject({
      code: 'HTTP_INGEST_REJECTED',
      delivered: 0,
      issues: [{ path: '[0].status', message: 'bad' }],
    })
  })

  it('makes 429 retriable and carries Retry-After as retryAfterMs', async () => {
    const ingest = await startIngest(json(429, { error: 'slow down' }, { 'retry-after': '2' }))
    await expect(
      createHttpTransport({ url: ingest.url }).send([makeLlmCall()]),
    ).rejects.toMatchObject({
      code: 'HTTP_SEND_FAILED',
      retriable: true,
      status: 429,
      retryAfterMs: 2000,
    })
  })

  it('makes 5xx retriable and other 4xx not', async () => {
    const ingest = await startIngest(json(503, {}), json(400, { error: 'not an array' }))
    const transport = createHttpTransport({ url: ingest.url })
    await expect(transport.send([makeLlmCall()])).rejects.toMatchObject({
      retriable: true,
      status: 503,
      retryAfterMs: undefined,
    })
    await expect(transport.send([makeLlmCall()])).rejects.toMatchObject({
      retriable: false,
      status: 400,
    })
  })

  it('makes a refused connection and a timeout retriable', async () => {
    const closed = await startIngest(acceptAll)
    closed.server.close()
    await once(closed.server, 'close')
    await expect(
      createHttpTransport({ url: closed.url }).send([makeLlmCall()]),
    ).rejects.toMatchObject({ code: 'HTTP_SEND_FAILED', retriable: true })

    const silent = await startIngest(() => {}) // never answers
    const transport = createHttpTransport({ url: silent.url, timeoutMs: 30 })
    await expect(transport.send([makeLlmCall()])).rejects.toMatchObject({ retriable: true })
  })

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 2, 10, 0, 0))
    const at = (value: string) => parseRetryAfter(new Headers({ 'retry-after': value }), clock)
    expect(at('7')).toBe(7000)
    expect(at('Mon, 02 Mar 2026 10:00:30 GMT')).toBe(30_000)
    expect(at('soon')).toBeUndefined()
  })

  it('drives emitter retries: waits the Retry-After, then delivers once', async () => {
    const ingest = await startIngest(json(503, {}, { 'retry-after': '3' }), acceptAll)
    const delays: number[] = []
    const emitter = createEmitter({
      transport: createHttpTransport({ url: ingest.url }),
      logger: silentLogger(),
      // Record each requested delay but fire at once: the test does not sleep.
      timers: {
        setTimeout: (fn, ms) => (delays.push(ms), setImmediate(fn)),
        clearTimeout: (handle) => clearImmediate(handle as NodeJS.Immediate),
      },
    })
    const input = makeLlmCallInput()
    emitter.emit(input)
    await emitter.close()
    expect(delays).toContain(3000)
    expect(ingest.received).toHaveLength(2)
    expect((ingest.received[1]!.body as { event_id: string }[]).map((e) => e.event_id)).toEqual([
      input.event_id,
    ])
    expect(emitter.stats()).toMatchObject({ sent: 1, failed: 0 })
  })

  it('counts the server-rejected part of a batch as failed in the emitter', async () => {
    const ingest = await startIngest((req, res) => {
      const items = req.body as unknown[]
      json(207, {
        accepted: items.length - 1,
        rejected: 1,
        results: items.map((_, index) =>
          index === 0
            ? { index, status: 'rejected', errors: [{ path: 'tags', message: 'too many' }] }
            : { index, status: 'accepted' },
        ),
      })(req, res)
    })
    const emitter = createEmitter({
      transport: createHttpTransport({ url: ingest.url }),
      logger: silentLogger(),
    })
    for (let i = 0; i < 3; i++) emitter.emit(makeLlmCallInput())
    await emitter.close()
    expect(emitter.stats()).toMatchObject({ accepted: 3, sent: 2, failed: 1 })
  })
})
