import { describe, expect, it } from 'vitest'
import { parseUsd } from '../../platform/money.ts'
import { SpendWindows } from '../../processors/windows/spend-windows.ts'
import { serveApi } from '../support/serve-api.ts'

const READ = 'read-token-0123456789abcdef'
const READ_ACME = 'read-acme-0123456789abcdef'
// serveApi's clock.
const NOW = Date.parse('2026-03-02T12:00:00Z')

function windowsWithSpend(): SpendWindows {
  const windows = new SpendWindows()
  const add = (tenant: string, user: string, usd: string, at = NOW - 60_000) =>
    windows.add(
      {
        occurred_at: at,
        tenant_id: tenant,
        agent_id: 'bot',
        user_id: user,
        model: 'gpt-4o',
        status: 'ok',
        input_tokens: 1000,
        output_tokens: 100,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: 0,
        latency_ms: 500,
      },
      parseUsd(usd),
      false,
      NOW,
    )
  add('default', 'u1', '0.09')
  add('default', 'u1', '0.09')
  add('default', 'u1', '0.09')
  add('default', 'u2', '1.5')
  add('acme', 'u9', '0.5')
  // Two hours ago: in the day, not in the last 15 minutes.
  add('default', 'u3', '7', NOW - 2 * 3_600_000)
  return windows
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` })

describe('GET /v1/spend', () => {
  const serve = () =>
    serveApi({
      windows: windowsWithSpend(),
      config: {
        auth: {
          tokens: [
            { name: 'finops', role: 'read', token: READ },
            { name: 'acme-finops', role: 'read', token: READ_ACME, tenant: 'acme' },
          ],
        },
      },
    })

  it('answers the keys of a dimension in a window, by cost, costs as exact decimals', async () => {
    const { url } = await serve()
    const response = await fetch(`${url}/v1/spend?dimension=user&window=15m&tenant=default`, {
      headers: auth(READ),
    })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { items: Array<Record<string, unknown>> }
    expect(body).toMatchObject({
      dimension: 'user',
      window: '15m',
      as_of: '2026-03-02T12:00:00.000Z',
    })
    expect(body.items.map((item) => [item.key, item.calls, item.cost_usd])).toEqual([
      ['u2', 1, '1.5'],
      ['u1', 3, '0.27'],
    ])
    expect(body.items[1]).toMatchObject({ failures: 0, input_tokens: 3000, output_tokens: 300 })
    expect(Number(body.items[1]!.p50_cost_usd)).toBeCloseTo(0.09, 3)

    const day = await fetch(`${url}/v1/spend?dimension=user&window=day&limit=1`, {
      headers: auth(READ),
    })
    expect(
      ((await day.json()) as { items: Array<{ key: string }> }).items.map((i) => i.key),
    ).toEqual(['u3'])
  })

  it('names the bad parameter', async () => {
    const { url } = await serve()
    for (const [query, message] of [
      ['dimension=colour', /dimension must be one of agent, feature/],
      ['window=2h', /window must be one of 1m, 15m, 1h, 24h, day, month/],
      ['limit=0', /limit must be a whole number/],
      ['as_of=yesterday', /as_of must be an ISO-8601 time/],
      ['dimensoin=user', /unknown parameter "dimensoin"/],
    ] as const) {
      const response = await fetch(`${url}/v1/spend?${query}`, { headers: auth(READ) })
      expect(response.status).toBe(400)
      expect(((await response.json()) as { error: string }).error).toMatch(message)
    }
  })

  it('needs a read token, and keeps a tenant-bound one to its tenant', async () => {
    const { url } = await serve()
    expect((await fetch(`${url}/v1/spend`)).status).toBe(401)
    const own = await fetch(`${url}/v1/spend?dimension=user`, { headers: auth(READ_ACME) })
    const body = (await own.json()) as { items: Array<{ tenant: string; key: string }> }
    expect(body.items.map((i) => [i.tenant, i.key])).toEqual([['acme', 'u9']])
    const other = await fetch(`${url}/v1/spend?dimension=user&tenant=default`, {
      headers: auth(READ_ACME),
    })
    expect(other.status).toBe(403)
  })
})

describe('POST /v1/sql with a tenant-bound token', () => {
  it('is refused, since SQL reads every tenant', async () => {
    const { url } = await serveApi({
      config: {
        auth: { tokens: [{ name: 'acme', role: 'read', token: READ_ACME, tenant: 'acme' }] },
      },
    })
    const response = await fetch(`${url}/v1/sql`, {
      method: 'POST',
      headers: { ...auth(READ_ACME), 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'SELECT 1' }),
    })
    expect(response.status).toBe(403)
    expect(((await response.json()) as { error: string }).error).toMatch(/bound to tenant "acme"/)
    // So are the other routes whose data spans every tenant.
    for (const path of ['/metrics', '/v1/controls', '/v1/reports/spend-by-team']) {
      const refused = await fetch(`${url}${path}`, { headers: auth(READ_ACME) })
      expect([path, refused.status]).toEqual([path, 403])
      expect(((await refused.json()) as { error: string }).error).toMatch(
        /every tenant.*; this token is bound to tenant "acme"$/,
      )
    }
  })
})
