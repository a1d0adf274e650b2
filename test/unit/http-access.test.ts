import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { makeLlmCallInput } from '../support/make-llm-call.ts'
import { serveApi } from '../support/serve-api.ts'

const INGEST = 'ingest-token-0123456789abcdef'
const INGEST_ACME = 'ingest-acme-0123456789abcdef'
const READ = 'read-token-0123456789abcdef'
const ADMIN = 'admin-token-0123456789abcdef'

const tokens = {
  tokens: [
    { name: 'collector', role: 'ingest' as const, token: INGEST },
    { name: 'acme-collector', role: 'ingest' as const, token: INGEST_ACME, tenant: 'acme' },
    { name: 'finops', role: 'read' as const, token: READ },
    { name: 'ops', role: 'admin' as const, tokenEnv: 'OPS_TOKEN' },
  ],
}

const work = mkdtempSync(join(tmpdir(), 'spendguard-access-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

function postEvents(
  url: string,
  body: unknown,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  return fetch(`${url}/v1/events`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  })
}

const bearer = (token: string) => ({
  'content-type': 'application/json',
  authorization: `Bearer ${token}`,
})

interface Results {
  accepted: number
  duplicates: number
  rejected: number
  results: Array<{ status: string; errors?: Array<{ path: string; message: string }> }>
}

describe('HTTP API access tokens', () => {
  const serve = () => serveApi({ config: { auth: tokens }, env: { OPS_TOKEN: ADMIN } })

  it('answers 401 without a token and with an unknown one, 403 with a read token', async () => {
    const { url, received } = await serve()
    const event = makeLlmCallInput()
    const none = await postEvents(url, [event])
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer')
    expect((await postEvents(url, [event], bearer('not-a-token-at-all-xx'))).status).toBe(401)
    const read = await postEvents(url, [event], bearer(READ))
    expect(read.status).toBe(403)
    expect(received).toHaveLength(0)
  })

  it('accepts the same request with an ingest token or an admin token (from the environment)', async () => {
    const { url, received } = await serve()
    expect((await postEvents(url, [makeLlmCallInput()], bearer(INGEST))).status).toBe(200)
    expect((await postEvents(url, [makeLlmCallInput()], bearer(ADMIN))).status).toBe(200)
    await expect.poll(() => received.length).toBe(2)
  })

  it('rejects per item the events of another tenant for a tenant-bound token', async () => {
    const { url, received } = await serve()
    const response = await postEvents(
      url,
      [
        makeLlmCallInput({ tenant_id: 'acme' }),
        makeLlmCallInput({ tenant_id: 'globex' }),
        makeLlmCallInput({ tenant_id: undefined }),
      ],
      bearer(INGEST_ACME),
    )
    expect(response.status).toBe(207)
    const body = (await response.json()) as Results
    expect(body.results.map((r) => r.status)).toEqual(['accepted', 'rejected', 'accepted'])
    expect(body.results[1]!.errors).toEqual([
      { path: 'tenant_id', message: 'this token may only write events of tenant "acme"' },
    ])
    await expect.poll(() => received.length).toBe(2)
  })

  it('lets a read token use SQL and an ingest token not', async () => {
    const { url } = await serve()
    const sql = (token: string) =>
      fetch(`${url}/v1/sql`, {
        method: 'POST',
        headers: bearer(token),
        body: JSON.stringify({ query: 'SELECT 1' }),
      })
    const asReader = await sql(READ)
    expect(asReader.status).toBe(200)
    expect(await asReader.text()).toBe('ran: SELECT 1')
    expect((await sql(INGEST)).status).toBe(403)
  })

  it('rotates without a restart: a tokens file re-read replaces the old token', async () => {
    const file = join(work, 'tokens.json')
    const write = (token: string) =>
      writeFileSync(file, JSON.stringify([{ name: 'rotating', role: 'ingest', token }]))
    write('first-token-0123456789abc')
    const { url, access } = await serveApi({ config: { auth: { tokensFile: file } } })
    expect(
      (await postEvents(url, [makeLlmCallInput()], bearer('first-token-0123456789abc'))).status,
    ).toBe(200)
    write('second-token-0123456789abc')
    access.reload()
    expect(
      (await postEvents(url, [makeLlmCallInput()], bearer('first-token-0123456789abc'))).status,
    ).toBe(401)
    expect(
      (await postEvents(url, [makeLlmCallInput()], bearer('second-token-0123456789abc'))).status,
    ).toBe(200)
    // An emptied file does not open an API started behind tokens.
    writeFileSync(file, '[]')
    access.reload()
    expect((await postEvents(url, [makeLlmCallInput()])).status).toBe(401)
    expect(
      (await postEvents(url, [makeLlmCallInput()], bearer('second-token-0123456789abc'))).status,
    ).toBe(200)
    // A broken file keeps the tokens in force rather than opening or locking the API.
    writeFileSync(file, '[{"name": "half')
    access.reload()
    expect(
      (await postEvents(url, [makeLlmCallInput()], bearer('second-token-0123456789abc'))).status,
    ).toBe(200)
  })
})

describe('HTTP API browser safety', () => {
  it('refuses a cross-origin text/plain post, which a web page can send without a preflight', async () => {
    const { url, received } = await serveApi()
    const response = await postEvents(url, JSON.stringify([makeLlmCallInput()]), {
      'content-type': 'text/plain',
      origin: 'https://evil.example',
    })
    expect(response.status).toBe(403)
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
    // Even from the same origin, text/plain is not a documented type.
    const plain = await postEvents(url, JSON.stringify([makeLlmCallInput()]), {
      'content-type': 'text/plain',
    })
    expect(plain.status).toBe(415)
    expect(((await plain.json()) as { error: string }).error).toMatch(/application\/json/)
    expect(received).toHaveLength(0)
  })

  it('answers a preflight and serves an allowed origin, and only that one', async () => {
    const { url } = await serveApi({
      config: { http: { allowedOrigins: ['https://dash.example'] } },
    })
    const preflight = await fetch(`${url}/v1/events`, {
      method: 'OPTIONS',
      headers: { origin: 'https://dash.example', 'access-control-request-method': 'POST' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://dash.example')
    const allowed = await postEvents(url, [makeLlmCallInput()], {
      'content-type': 'application/json',
      origin: 'https://dash.example',
    })
    expect(allowed.status).toBe(200)
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://dash.example')
    const other = await fetch(`${url}/v1/events`, {
      method: 'OPTIONS',
      headers: { origin: 'https://other.example' },
    })
    expect(other.status).toBe(403)
  })

  it('answers only to its own host names (DNS rebinding)', async () => {
    const { port } = await serveApi()
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port, path: '/healthz', headers: { host: 'attacker.example:80' } },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(421)
  })
})

describe('HTTP ingest answers honestly', () => {
  it('answers duplicate for an event audited or accepted before, in a later request', async () => {
    const audited = makeLlmCallInput()
    const { url, received } = await serveApi({ audited: [audited.event_id] })
    const first = makeLlmCallInput()
    expect(await (await postEvents(url, [first])).json()).toMatchObject({ accepted: 1 })
    const again = (await (await postEvents(url, [first, audited])).json()) as Results
    expect(again).toMatchObject({ accepted: 0, duplicates: 2 })
    expect(again.results.map((r) => r.status)).toEqual(['duplicate', 'duplicate'])
    await expect.poll(() => received.length).toBe(1)
  })

  it('rejects a body that is not valid UTF-8 instead of storing replacement characters', async () => {
    const { url, received } = await serveApi()
    const json = Buffer.from(JSON.stringify([makeLlmCallInput({ agent_id: 'agent-AAAA' })]))
    const at = json.indexOf('AAAA')
    json[at] = 0xff
    json[at + 1] = 0xfe
    const response = await postEvents(url, json)
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ error: 'the body is not valid UTF-8' })
    expect(received).toHaveLength(0)
  })

  it('rejects a declared non-UTF-8 charset and ignores a UTF-8 byte-order mark', async () => {
    const { url } = await serveApi()
    const latin1 = await postEvents(url, [makeLlmCallInput()], {
      'content-type': 'application/json; charset=iso-8859-1',
    })
    expect(latin1.status).toBe(415)
    expect(((await latin1.json()) as { error: string }).error).toMatch(/charset iso-8859-1.*UTF-8/)
    const withBom = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(JSON.stringify([makeLlmCallInput()])),
    ])
    const bom = await postEvents(url, withBom, {
      'content-type': 'application/json; charset=UTF-8',
    })
    expect(await bom.json()).toMatchObject({ accepted: 1, rejected: 0 })
  })

  it('rejects the nil UUID as an event id and keeps a __proto__ tag as data', async () => {
    const { url, received } = await serveApi()
    const nil = makeLlmCallInput({ event_id: '00000000-0000-0000-0000-000000000000' })
    const tagged = makeLlmCallInput()
    const body = JSON.stringify([nil, tagged]).replace(
      `"event_id":"${tagged.event_id}"`,
      `"event_id":"${tagged.event_id}","tags":{"__proto__":"polluted","team":"x"}`,
    )
    const answer = (await (await postEvents(url, body)).json()) as Results
    expect(answer.results[0]).toMatchObject({
      status: 'rejected',
      errors: [{ path: 'event_id', message: 'must not be the nil UUID' }],
    })
    expect(answer.results[1]!.status).toBe('accepted')
    await expect.poll(() => received.length).toBe(1)
    const tags = (received[0] as unknown as { event: { tags: Record<string, string> } }).event.tags
    expect(Object.keys(tags)).toEqual(['__proto__', 'team'])
    expect(tags['__proto__']).toBe('polluted')
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})
