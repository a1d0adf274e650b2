import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAuditStoreClient } from '../../platform/clickhouse.ts'
import { parseConfig } from '../../platform/config.ts'
import { splitStatements } from '../../processors/audit/migrations.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'spendguard-access-sql-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

const usersSql = readFileSync(new URL('../../sql/access/users.sql', import.meta.url), 'utf8')

describe('sql/access/users.sql', () => {
  it("parses on ClickHouse's parser and gives each user only its duty", async () => {
    const { client } = createAuditStoreClient(parseConfig({ clickhouse: { dataDir } }).clickhouse)
    const canonical: string[] = []
    try {
      for (const statement of splitStatements(usersSql.replace(/__SPENDGUARD_\w+__/g, 'pw'))) {
        const result = await client.query({
          query: 'SELECT formatQuerySingleLine({q:String}) AS q',
          query_params: { q: statement },
          format: 'JSONEachRow',
        })
        canonical.push((await result.json<{ q: string }>())[0]!.q)
      }
    } finally {
      await client.close()
    }
    const grantsOf = (user: string) =>
      canonical.filter((s) => s.startsWith('GRANT') && s.endsWith(`TO ${user}`))
    expect(grantsOf('spendguard_reader')).toEqual([
      'GRANT SELECT ON spendguard.* TO spendguard_reader',
    ])
    expect(grantsOf('spendguard_writer')).toEqual([
      'GRANT INSERT, SELECT ON spendguard.* TO spendguard_writer',
    ])
    for (const grant of [...grantsOf('spendguard_writer'), ...grantsOf('spendguard_admin')]) {
      expect(grant).not.toMatch(
        /\b(DELETE|DROP|TRUNCATE|OPTIMIZE|UPDATE|ALL)\b|ALTER (DELETE|UPDATE|TABLE)\b/,
      )
    }
  })

  it('names the users and database the compose file connects with', () => {
    const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')
    for (const user of ['spendguard_writer', 'spendguard_reader', 'spendguard_admin'])
      expect(usersSql).toContain(`CREATE USER IF NOT EXISTS ${user} `)
    expect(compose).toMatch(/SPENDGUARD_CLICKHOUSE_USER: spendguard_writer/)
    expect(compose).toMatch(/SPENDGUARD_CLICKHOUSE_READER_USER: spendguard_reader/)
    expect(compose).toMatch(/SPENDGUARD_CLICKHOUSE_ADMIN_USER: spendguard_admin/)
    expect(compose).toMatch(/SPENDGUARD_CLICKHOUSE_DATABASE: spendguard/)
  })
})
