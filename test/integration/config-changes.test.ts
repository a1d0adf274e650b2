import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAuditStoreClient } from '../../platform/clickhouse.ts'
import { parseConfig } from '../../platform/config.ts'
import { silentLogger } from '../../platform/logger.ts'
import { recordConfigChanges } from '../../processors/audit/config-changes.ts'
import { migrate } from '../../processors/audit/migrations.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-config-changes-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const LITERAL_URL = 'https://hooks.slack.com/services/T000/B000/literal-secret-path'
const LITERAL_KEY = 'R0UT1NGK3YWR1TT3N1NTH3F1L3'

const configWith = (slackUrl: string) =>
  parseConfig({
    clickhouse: { dataDir: join(work, 'store') },
    alerts: {
      slack: [{ name: 'finops', webhook_url: slackUrl }],
      pagerduty: [{ name: 'oncall', routing_key: '${PD_KEY}' }],
      webhooks: [
        { name: 'siem', url: 'https://siem.example.com/in', secret: LITERAL_KEY },
        // Not a reference the configuration resolves: the text itself is the secret.
        { name: 'archive', url: '${file:/run/secrets/archive-url}', secret: '${not a variable}' },
      ],
    },
  })

describe('configuration changes', () => {
  it('keep secrets written as references, and only a fingerprint of those written literally', async () => {
    const config = configWith(LITERAL_URL)
    const { client } = createAuditStoreClient(config.clickhouse)
    await migrate(client, silentLogger())
    const rows = async () => {
      const result = await client.query({
        query: `SELECT before, after FROM config_changes WHERE section = 'alerts' ORDER BY at`,
        format: 'JSONEachRow',
      })
      return result.json<{ before: string; after: string }>()
    }

    expect(await recordConfigChanges(client, config, 'test', Date.UTC(2026, 2, 2))).toContain(
      'alerts',
    )
    const [first] = await rows()
    expect(first!.after).not.toContain(LITERAL_URL)
    expect(first!.after).not.toContain(LITERAL_KEY)
    expect(first!.after).not.toContain('https://siem.example.com/in')
    expect(first!.after).toContain('${PD_KEY}')
    expect(first!.after).toContain('${file:/run/secrets/archive-url}')
    expect(first!.after).not.toContain('${not a variable}')
    const after = JSON.parse(first!.after) as {
      slack: Array<{ webhook_url: string }>
      webhooks: Array<{ secret: string }>
    }
    expect(after.slack[0]!.webhook_url).toMatch(/^\(written in the file; scrypt [0-9a-f]{32}\)$/)
    expect(after.webhooks[0]!.secret).toMatch(/^\(written in the file; scrypt [0-9a-f]{32}\)$/)

    // The same file again: nothing changed, nothing recorded.
    expect(await recordConfigChanges(client, config, 'test', Date.UTC(2026, 2, 3))).toEqual([])
    // A new literal URL shows as a change of its fingerprint, still without the value.
    const rotated = configWith(`${LITERAL_URL}-rotated`)
    expect(await recordConfigChanges(client, rotated, 'test', Date.UTC(2026, 2, 4))).toEqual([
      'alerts',
    ])
    const [, second] = await rows()
    expect(second!.before).toBe(first!.after)
    expect(second!.after).not.toBe(first!.after)
    expect(second!.after).not.toContain('literal-secret-path')
    await client.close()
  })

  it('reads a section recorded with a literal secret as it would be recorded now', async () => {
    const config = parseConfig({
      clickhouse: { dataDir: join(work, 'older') },
      alerts: { slack: [{ name: 'finops', webhook_url: LITERAL_URL }] },
    })
    const { client } = createAuditStoreClient(config.clickhouse)
    await migrate(client, silentLogger())
    // As an older version recorded it: the secret as written.
    await recordConfigChanges(client, config, 'test', Date.UTC(2026, 2, 2))
    await client.command({
      query: `ALTER TABLE config_changes UPDATE after = replaceRegexpOne(after,
        '"webhook_url":"[^"]*"', '"webhook_url":"${LITERAL_URL}"') WHERE section = 'alerts'
        SETTINGS mutations_sync = 1`,
    })
    const stored = await client.query({
      query: `SELECT after FROM config_changes WHERE section = 'alerts'`,
      format: 'JSONEachRow',
    })
    expect(JSON.stringify(await stored.json())).toContain(LITERAL_URL)
    // Unchanged file: no new row that would copy the old value into `before` again.
    expect(await recordConfigChanges(client, config, 'test', Date.UTC(2026, 2, 3))).toEqual([])
    await client.close()
  })
})
