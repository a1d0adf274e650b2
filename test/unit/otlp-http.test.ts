import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { spanEventId } from '../../api/otlp-traces.ts'
import {
  chatRequestExport,
  genAiSpan,
  httpServerSpan,
  newSpanId,
  newTraceId,
  otlpExport,
} from '../support/otlp-export.ts'
import { serveApi } from '../support/serve-api.ts'

// serveApi's clock reads 2026-03-02T12:00:00Z.
const END = Date.parse('2026-03-02T11:59:00Z')

interface TracesAnswer {
  accepted: number
  rejected: number
  duplicates: number
  results: Array<{
    index: number
    event_id?: string
    status: string
    errors?: Array<{ path: string; message: string }>
  }>
}

const postTraces = (url: string, body: string | Buffer, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/traces`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  })

describe('POST /v1/traces', () => {
  it('accepts the GenAI span of a gzip-compressed export and answers a resend duplicate', async () => {
    const { url, received } = await serveApi()
    const traceId = newTraceId()
    const spanId = newSpanId()
    const body = gzipSync(JSON.stringify(chatRequestExport(END, { chat: { traceId, spanId } })))
    const first = await postTraces(url, body, { 'content-encoding': 'gzip' })
    expect(first.status).toBe(200)
    const eventId = spanEventId(traceId, spanId)
    expect(await first.json()).toEqual({
      accepted: 1,
      rejected: 0,
      duplicates: 0,
      // The HTTP server span around the call is not a model call.
      skipped: 1,
      results: [{ index: 0, event_id: eventId, status: 'accepted' }],
    })
    await expect.poll(() => received.length).toBe(1)
    expect(received[0]).toMatchObject({
      event: { event_id: eventId, model: 'gpt-4o', input_tokens: 1200, cache_read_tokens: 200 },
    })

    const again = await postTraces(url, body, { 'content-encoding': 'gzip' })
    expect(await again.json()).toMatchObject({ accepted: 0, duplicates: 1 })
    expect(received).toHaveLength(1)
  })

  it('answers 207 with the refused span named, the good spans of the export accepted', async () => {
    const { url, received } = await serveApi()
    const bad = genAiSpan({ endMs: END, attributes: { 'gen_ai.usage.input_tokens': -1 } })
    const good = genAiSpan({ endMs: END })
    const response = await postTraces(
      url,
      JSON.stringify(otlpExport([httpServerSpan(newTraceId(), newSpanId(), END), bad, good])),
    )
    expect(response.status).toBe(207)
    const answer = (await response.json()) as TracesAnswer
    expect(answer).toMatchObject({ accepted: 1, rejected: 1, duplicates: 0 })
    // Results count the GenAI spans only, in export order: the HTTP span is not among them.
    expect(answer.results.map((r) => [r.index, r.status])).toEqual([
      [0, 'rejected'],
      [1, 'accepted'],
    ])
    expect(answer.results[0]!.errors![0]!.message).toBe(
      `span ${bad.spanId} (chat gpt-4o): gen_ai.usage.input_tokens must not be negative (got -1)`,
    )
    await expect.poll(() => received.length).toBe(1)
  })

  it('refuses a body that is not an OTLP export, and protobuf, saying what to send', async () => {
    const { url } = await serveApi()
    const events = await postTraces(url, JSON.stringify([{ agent_id: 'x' }]))
    expect(events.status).toBe(400)
    expect(((await events.json()) as { error: string }).error).toMatch(
      /not an OTLP trace export: expected a JSON object with a "resourceSpans" array/,
    )
    const protobuf = await postTraces(url, Buffer.from([0x0a, 0x00]), {
      'content-type': 'application/x-protobuf',
    })
    expect(protobuf.status).toBe(415)
    expect(((await protobuf.json()) as { error: string }).error).toBe(
      'Content-Type application/x-protobuf is not accepted here; send one of application/json (OTLP protobuf is not read: set the exporter protocol to http/json)',
    )
  })

  it('answers a quiet export (no model call among its spans) 200 with every span skipped', async () => {
    const { url, received } = await serveApi()
    const quiet = otlpExport([httpServerSpan(newTraceId(), newSpanId(), END)])
    const answer = await postTraces(url, JSON.stringify(quiet))
    expect(answer.status).toBe(200)
    expect(await answer.json()).toEqual({
      accepted: 0,
      rejected: 0,
      duplicates: 0,
      skipped: 1,
      results: [],
    })
    expect(received).toEqual([])
  })
})
