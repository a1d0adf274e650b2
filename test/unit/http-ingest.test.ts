import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { createHttpServer } from '../../api/http-server.ts'
import { silentLogger } from '../../platform/logger.ts'
import type { EventBus } from '../../processors/ingest/event-bus.ts'
import type { InputRecord } from '../../processors/ingest/event-processor.ts'
import { createInProcessBus } from '../../processors/ingest/in-process-bus.ts'
import { makeLlmCallInput } from '../support/make-llm-call.ts'

let close: (() => Promise<void>) | undefined
afterEach(async () => {
  await close?.()
  close = undefined
})

async function serve(options: { capacity?: number; maxBodyBytes?: number } = {}) {
  const bus: EventBus = createInProcessBus({
    logger: silentLogger(),
    capacity: options.capacity ?? 1000,
  })
  const received: InputRecord[] = []
  await bus.start((records) => {
    received.push(...records)
    return Promise.resolve()
  })
  const server = createHttpServer({
    bus,
    logger: silentLogger(),
    maxBodyBytes: options.maxBodyBytes ?? 1_000_000,
    maxEventsPerRequest: 100,
    health: () => ({ pipeline: { received: received.length } }),
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  close = async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await bus.stop()
  }
  return { url, received, bus }
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
    const result = (await response.json()) as {
      accepted: number
      rejected: number
      duplicates: number
      results: Array<{
        index: number
        status: string
        errors?: Array<{ path: string; message: string }>
      }>
    }
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

  it('answers 400 when every item is bad, and for a body that is not an array or NDJSON', async () => {
    const { url } = await serve()
    expect((await post(url, JSON.stringify([{ agent_id: 'x' }]))).status).toBe(400)
    const broken = await post(url, '[{"a": 1')
    expect(broken.status).toBe(400)
    expect(((await broken.json()) as { error: string }).error).toMatch(/not a valid JSON array/)
  })

  it('answers 503 with Retry-After when the queue is full, accepting nothing', async () => {
    const { url, bus } = await serve({ capacity: 1 })
    await bus.stop() // a stopped bus refuses new events as a full one does
    const response = await post(url, JSON.stringify([makeLlmCallInput(), makeLlmCallInput()]))
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('1')
  })

  it('refuses a body over the size limit with 413', async () => {
    const { url } = await serve({ maxBodyBytes: 200 })
    const response = await post(url, JSON.stringify([makeLlmCallInput(), makeLlmCallInput()]))
    expect(response.status).toBe(413)
  })

  it('reports health', async () => {
    const { url } = await serve()
    const response = await fetch(`${url}/healthz`)
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ status: 'ok', pipeline: { received: 0 } })
  })
})
