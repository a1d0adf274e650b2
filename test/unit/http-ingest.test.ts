import { describe, expect, it } from 'vitest'
import type { Readiness } from '../../processors/ingest/event-bus.ts'
import { serveApi, type ServeApiOptions } from '../support/serve-api.ts'
import { makeLlmCallInput } from '../support/make-llm-call.ts'

const serve = (options: ServeApiOptions = {}) => serveApi(options)

interface IngestResponse {
  accepted: number
  rejected: number
  duplicates: number
  results: Array<{
    index: number
    line?: number
    event_id?: string
    status: string
    errors?: Array<{ path: string; message: string }>
  }>
}

const post = (url: string, body: string, type = 'application/json') =>
  fetch(`${url}/v1/events`, { method: 'POST', body, headers: { 'content-type': type } })

describe('POST /v1/events', () => {
  it('accepts a JSON array of good events', async () => {
    const { url, received } = await serve()
    const events = [makeLlmCallInput(), makeLlmCallInput()]
    const response = await post(url, JSON.stringify(events))
    expect(response.status).toBe(200)
    const body = (await response.json()) as {
      accepted: number
      results: Array<{ status: string; event_id: string }>
    }
    expect(body.accepted).toBe(2)
    expect(body.results.map((r) => r.event_id)).toEqual(events.map((e) => e.event_id))
    await expect.poll(() => received.length).toBe(2)
  })

  it('answers a resend in a later request duplicate and does not publish it again', async () => {
    // The bus here does not report duplicates itself (as with Kafka): the server remembers
    // what it accepted, and asks the audit about the rest.
    const { url, received } = await serve({ audited: ['00000000-0000-4000-8000-00000000a0d1'] })
    const event = makeLlmCallInput()
    const audited = makeLlmCallInput({ event_id: '00000000-0000-4000-8000-00000000a0d1' })
    const first = (await (await post(url, JSON.stringify([event]))).json()) as IngestResponse
    expect(first).toMatchObject({ accepted: 1, duplicates: 0 })
    const again = (await (
      await post(url, JSON.stringify([event, audited]))
    ).json()) as IngestResponse
    expect(again).toMatchObject({ accepted: 0, duplicates: 2 })
    expect(again.results.map((r) => r.status)).toEqual(['duplicate', 'duplicate'])
    await expect.poll(() => received.length).toBe(1)
  })

  it('rejects bad NDJSON items with field-level errors and accepts the good ones of the same request', async () => {
    const { url, received } = await serve()
    const good = makeLlmCallInput()
    const body = [
      JSON.stringify(good),
      '{oops',
      JSON.stringify(makeLlmCallInput({ input_tokens: -1 })),
      JSON.stringify(good),
    ].join('\n')
    const response = await post(url, body, 'application/x-ndjson')
    expect(response.status).toBe(207)
    const result = (await response.json()) as IngestResponse
    expect(result).toMatchObject({ accepted: 1, rejected: 2, duplicates: 1 })
    expect(result.results.map((r) => r.status)).toEqual([
      'accepted',
      'rejected',
      'rejected',
      'duplicate',
    ])
    expect(result.results[1]!.errors![0]!.message).toMatch(/malformed JSON/)
    expect(result.results[2]!.errors!.map((e) => e.path)).toEqual(['input_tokens'])
    await expect.poll(() => received.length).toBe(1)
  })

  it('accepts one pretty-printed event as a batch of one', async () => {
    const { url, received } = await serve()
    const event = makeLlmCallInput()
    const response = await post(url, JSON.stringify(event, null, 2))
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      accepted: 1,
      rejected: 0,
      duplicates: 0,
      results: [{ index: 0, event_id: event.event_id, status: 'accepted' }],
    })
    await expect.poll(() => received.length).toBe(1)
  })

  it('reports the body line of each NDJSON item, blank lines counted', async () => {
    const { url } = await serve()
    const body = [
      JSON.stringify(makeLlmCallInput()),
      '',
      JSON.stringify(makeLlmCallInput({ output_tokens: -5 })),
      '   ',
      '{oops',
    ].join('\n')
    const response = await post(url, body, 'application/x-ndjson')
    expect(response.status).toBe(207)
    const result = (await response.json()) as IngestResponse
    expect(result.results.map((r) => [r.index, r.line, r.status])).toEqual([
      [0, 1, 'accepted'],
      [1, 3, 'rejected'],
      [2, 5, 'rejected'],
    ])
    expect(result.results[1]!.errors!.map((e) => e.path)).toEqual(['output_tokens'])
  })

  it('reads NDJSON sent with a byte-order mark, CRLF line ends and characters of several bytes', async () => {
    const { url, received } = await serve()
    const first = makeLlmCallInput({ tags: { team: 'Zürich 🚀' } })
    const second = makeLlmCallInput({ agent_id: 'agent-ünïcode' })
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(`${JSON.stringify(first)}\r\n${JSON.stringify(second)}\r\n\r\n`),
    ])
    const response = await fetch(`${url}/v1/events`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-ndjson' },
    })
    const result = (await response.json()) as IngestResponse
    expect(result.results.map((r) => [r.line, r.status])).toEqual([
      [1, 'accepted'],
      [2, 'accepted'],
    ])
    await expect.poll(() => received.length).toBe(2)
    const calls = received.map((record) => ('event' in record ? record.event : undefined))
    expect(calls.map((call) => [call?.tags, call?.agent_id])).toEqual([
      [{ team: 'Zürich 🚀' }, first.agent_id],
      [{}, 'agent-ünïcode'],
    ])
  })

  it('answers a single event followed by blank lines as a batch of one, without line numbers', async () => {
    const { url, received } = await serve()
    const event = makeLlmCallInput()
    const response = await post(url, `${JSON.stringify(event)}\n\n  \n`)
    expect(await response.json()).toMatchObject({
      accepted: 1,
      results: [{ index: 0, event_id: event.event_id, status: 'accepted' }],
    })
    await expect.poll(() => received.length).toBe(1)
  })

  it('answers 400 when every item is bad, with per-line results for a body that is not JSON', async () => {
    const { url } = await serve()
    expect((await post(url, JSON.stringify([{ agent_id: 'x' }]))).status).toBe(400)
    const broken = await post(url, '{"a": 1,\n  "b": 2')
    expect(broken.status).toBe(400)
    const result = (await broken.json()) as IngestResponse
    expect(result).toMatchObject({ accepted: 0, rejected: 2, duplicates: 0 })
    expect(result.results.map((r) => [r.index, r.line])).toEqual([
      [0, 1],
      [1, 2],
    ])
    expect(result.results[0]!.errors![0]!.message).toMatch(/malformed JSON/)
    expect((await post(url, '  \n')).status).toBe(400)
  })

  it('rejects a broken JSON array as a whole, even when some of its lines parse', async () => {
    const { url, received } = await serve()
    const good = JSON.stringify(makeLlmCallInput())
    const response = await post(url, `[\n${good},\n{"broken": \n]`)
    expect(response.status).toBe(400)
    const result = (await response.json()) as IngestResponse
    expect(result).toMatchObject({ accepted: 0, rejected: 1 })
    expect(result.results[0]!.errors![0]!.message).toMatch(/not a valid JSON array/)
    expect(received).toHaveLength(0)
  })

  it('rejects an event older than the audit retention or far in the future, naming occurred_at', async () => {
    const { url, received } = await serve()
    const events = [
      makeLlmCallInput({ occurred_at: '2020-06-01T00:00:00Z' }),
      makeLlmCallInput({ occurred_at: '2026-03-09T00:00:00Z' }),
      makeLlmCallInput(),
    ]
    const response = await post(url, JSON.stringify(events))
    expect(response.status).toBe(207)
    const body = (await response.json()) as {
      results: Array<{ status: string; errors?: Array<{ path: string; message: string }> }>
    }
    expect(body.results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'accepted'])
    expect(body.results[0]!.errors).toEqual([
      {
        path: 'occurred_at',
        message: expect.stringMatching(/older than the audit retention/) as string,
      },
    ])
    expect(body.results[1]!.errors![0]!.message).toMatch(/in the future/)
    await expect.poll(() => received.length).toBe(1)
  })

  it('answers 503 with Retry-After when the queue is full, accepting nothing', async () => {
    const { url, release, received } = await serve({ capacity: 2, holdBatches: true })
    // Two events fill the queue; their answer waits until they are handled.
    const first = post(url, JSON.stringify([makeLlmCallInput(), makeLlmCallInput()]))
    await expect.poll(() => received.length).toBe(2)
    const response = await post(url, JSON.stringify([makeLlmCallInput()]))
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('1')
    expect(await response.json()).toEqual({
      error: 'not accepted, retry later: the ingest queue is full',
    })
    release()
    expect((await first).status).toBe(200)
    expect(received).toHaveLength(2)
  })

  it('answers 503 while the pipeline shuts down', async () => {
    const { url, bus } = await serve({ capacity: 10 })
    await bus.stop()
    const response = await post(url, JSON.stringify([makeLlmCallInput()]))
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('1')
  })

  it('refuses a body over the size limit with 413', async () => {
    const { url } = await serve({ maxBodyBytes: 200 })
    const response = await post(url, JSON.stringify([makeLlmCallInput(), makeLlmCallInput()]))
    expect(response.status).toBe(413)
  })

  it('reports health without details, and details only to a read token', async () => {
    const { url } = await serve({
      config: { auth: { tokens: [{ name: 'ops', role: 'read', token: 'read-token-0123456789' }] } },
    })
    const health = await fetch(`${url}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok' })
    expect((await fetch(`${url}/v1/status`)).status).toBe(401)
    const status = await fetch(`${url}/v1/status`, {
      headers: { authorization: 'Bearer read-token-0123456789' },
    })
    expect(await status.json()).toMatchObject({ pipeline: { received: 0 } })
  })

  it('answers /readyz 503 with the reason while input is not being consumed', async () => {
    let readiness: Readiness = { ready: true }
    const { url } = await serve({ readiness: () => readiness })
    expect((await fetch(`${url}/readyz`)).status).toBe(200)
    readiness = {
      ready: false,
      reason: 'the Kafka consumer stopped after an error it cannot retry: x',
    }
    const response = await fetch(`${url}/readyz`)
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({ status: 'not_ready', reason: readiness.reason })
  })
})
