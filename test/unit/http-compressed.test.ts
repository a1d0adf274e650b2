import { deflateSync, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { makeLlmCallInput } from '../support/make-llm-call.ts'
import { serveApi } from '../support/serve-api.ts'

const ndjson = (count: number) =>
  Array.from({ length: count }, () =>
    JSON.stringify(makeLlmCallInput({ occurred_at: '2026-03-02T11:59:00.000Z' })),
  ).join('\n')

const post = (
  url: string,
  body: Buffer | string,
  encoding: string,
  type = 'application/x-ndjson',
) =>
  fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': type, 'content-encoding': encoding },
    body,
  })

describe('compressed ingest bodies (Content-Encoding)', () => {
  it('accepts gzip and deflate bodies as if they were sent plain', async () => {
    const { url, received } = await serveApi()
    const gzipped = await post(url, gzipSync(ndjson(3)), 'gzip')
    expect(gzipped.status).toBe(200)
    expect(await gzipped.json()).toMatchObject({ accepted: 3, rejected: 0 })
    const deflated = await post(url, deflateSync(ndjson(2)), 'deflate')
    expect(await deflated.json()).toMatchObject({ accepted: 2 })
    await expect.poll(() => received.length).toBe(5)
  })

  it('refuses what it cannot read with a reason, never the bytes it could not read', async () => {
    const { url } = await serveApi({ maxBodyBytes: 10_000 })
    const brotli = await post(url, 'x', 'br')
    expect(brotli.status).toBe(415)
    expect(await brotli.json()).toEqual({
      error: 'Content-Encoding br is not supported: use gzip, deflate or none',
    })
    // A plain body labelled gzip (what a misconfigured shipper sends).
    const notGzip = await post(url, ndjson(1), 'gzip')
    expect(notGzip.status).toBe(400)
    expect(await notGzip.json()).toEqual({
      error: 'the body is not valid gzip data (Content-Encoding)',
    })
    // Small as sent, far past the limit once inflated.
    const bomb = await post(url, gzipSync(Buffer.alloc(5_000_000, ' ')), 'gzip')
    expect(bomb.status).toBe(413)
    expect(await bomb.json()).toEqual({ error: 'body exceeds 10000 bytes once inflated' })
    // Compressed but not labelled: the answer says which header is missing.
    const unlabelled = await fetch(`${url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: gzipSync(ndjson(1)),
    })
    expect(unlabelled.status).toBe(400)
    expect(await unlabelled.json()).toEqual({
      error: 'the body looks gzip-compressed: send it with Content-Encoding: gzip',
    })
    // The raw gzip answer of old: binary garbage is not echoed in any error.
    const garbled = await post(
      url,
      Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 0xff]),
      'gzip',
    )
    expect(garbled.status).toBe(400)
    expect((await garbled.text()).includes('\ufffd')).toBe(false)
  })
})
