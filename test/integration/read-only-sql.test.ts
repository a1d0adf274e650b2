import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createAuditStoreClient } from '../../platform/clickhouse.ts'
import { parseConfig } from '../../platform/config.ts'
import { createReadOnlyQueries, QueryRefusedError } from '../../platform/sql/read-only-queries.ts'
import { runCli, startPipeline } from '../support/cli-process.ts'
import { hostileStatements } from '../support/hostile-sql.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'
import { servicesMode } from '../support/test-services.ts'

const mode = await servicesMode()
const work = mkdtempSync(join(tmpdir(), 'spendguard-readonly-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const READ_TOKEN = 'finops-read-token-0123456789'
const INGEST_TOKEN = 'collector-ingest-token-0123456789'

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
}

/** The checksum files of the audit's own parts (their columns.txt names llm_calls' columns). */
function auditPartChecksumFiles(dataDir: string): string[] {
  return filesUnder(dataDir)
    .filter((f) => f.endsWith('/checksums.txt'))
    .filter((f) => readFileSync(join(f, '..', 'columns.txt'), 'utf8').includes('`unpriced_reason`'))
    .sort()
}

/**
 * The audit's part checksum files by path, with a digest of each: a part broken on disk changes
 * its file. Background merges may replace parts, so callers compare the parts both sides have.
 */
function partChecksums(dataDir: string): Map<string, string> {
  return new Map(
    auditPartChecksumFiles(dataDir).map((file) => [
      file,
      createHash('sha256').update(readFileSync(file)).digest('hex'),
    ]),
  )
}

function expectSameParts(before: Map<string, string>, after: Map<string, string>): void {
  const common = [...before.keys()].filter((file) => after.has(file))
  expect(common.length + after.size).toBeGreaterThan(0)
  for (const file of common)
    expect({ file, digest: after.get(file) }).toEqual({ file, digest: before.get(file) })
}

const FINGERPRINT =
  'SELECT count() AS rows, toString(groupBitXor(cityHash64(*))) AS digest FROM llm_calls'

describe('read-only SQL: hostile statements through the CLI, the HTTP API and the client', () => {
  it('refuses every one with a clear message; the audit and the file system are untouched', async () => {
    const dataDir = join(work, 'data')
    const outside = join(work, 'outside')
    mkdirSync(outside)
    const configFile = join(work, 'spendguard.json')
    writeFileSync(
      configFile,
      JSON.stringify({
        auth: {
          tokens: [
            { name: 'finops', role: 'read', token: READ_TOKEN },
            { name: 'collector', role: 'ingest', token: INGEST_TOKEN },
          ],
        },
      }),
    )
    const start = async () => {
      const { port, running } = await startPipeline(dataDir, configFile)
      return { port, running }
    }

    // An audit with 26 rows, written the way users write it.
    const first = await start()
    const events = Array.from({ length: 26 }, (_, i) =>
      makeLlmCallInput({ occurred_at: recentTime(), agent_id: `agent-${i % 3}`, model: 'gpt-4' }),
    )
    const posted = await fetch(`http://127.0.0.1:${first.port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${INGEST_TOKEN}` },
      body: JSON.stringify(events),
    })
    expect(await posted.json()).toMatchObject({ accepted: 26 })
    first.running.child.kill('SIGTERM')
    expect(await first.running.exited).toBe(0)

    const sql = (query: string, format = 'json') =>
      runCli(['sql', query, '--data-dir', dataDir, '--format', format])
    const before = JSON.parse((await sql(FINGERPRINT)).stdout) as { rows: string; digest: string }
    expect(before.rows).toBe('26')
    // A live part of the audit: the target of the attack that broke it before.
    const part = auditPartChecksumFiles(dataDir)[0]
    expect(part).toBeDefined()
    // A secret file beside the store: what a "table" named after a path would read.
    const secrets = join(work, 'secrets')
    mkdirSync(secrets)
    writeFileSync(join(secrets, 'token'), 'secret-content-123\n')
    const statements = hostileStatements(
      outside,
      part!.slice(0, -'checksums.txt'.length),
      join(secrets, 'tok'),
    )
    expect(statements.length).toBeGreaterThanOrEqual(40)
    const partsBefore = partChecksums(dataDir)

    // 1. The CLI, the store stopped.
    for (const statement of statements) {
      const result = await runCli(['sql', statement, '--data-dir', dataDir])
      expect({ statement, code: result.code }).toEqual({ statement, code: 1 })
      expect(result.stderr, statement).toMatch(/^spendguard: query refused: \S/m)
      expect(result.stderr, statement).not.toMatch(/\n\s+at /)
    }
    expectSameParts(partsBefore, partChecksums(dataDir))

    // 2. The HTTP API of a running pipeline, with a read token.
    const second = await start()
    const answers = await Promise.all(
      statements.map(async (statement) => {
        const response = await fetch(`http://127.0.0.1:${second.port}/v1/sql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${READ_TOKEN}` },
          body: JSON.stringify({ query: statement }),
        })
        return { statement, status: response.status, body: await response.json() }
      }),
    )
    for (const answer of answers) {
      expect(answer).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^query refused: \S/) as unknown },
      })
    }
    const allowed = await fetch(`http://127.0.0.1:${second.port}/v1/sql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${READ_TOKEN}` },
      body: JSON.stringify({
        query:
          'SELECT agent_id, count() AS calls FROM llm_calls GROUP BY agent_id ORDER BY agent_id',
      }),
    })
    expect(allowed.status).toBe(200)
    expect(((await allowed.json()) as { data: unknown[] }).data).toEqual([
      { agent_id: 'agent-0', calls: '9' },
      { agent_id: 'agent-1', calls: '9' },
      { agent_id: 'agent-2', calls: '8' },
    ])
    second.running.child.kill('SIGTERM')
    expect(await second.running.exited).toBe(0)

    // 3. Through @clickhouse/client, as every later reader and the server path use it.
    const { client, target } = createAuditStoreClient(
      parseConfig({ clickhouse: { dataDir } }).clickhouse,
      {
        create: false,
        role: 'reader',
      },
    )
    try {
      const queries = createReadOnlyQueries({ client, kind: target.kind })
      for (const statement of statements) {
        await expect(queries.run(statement, 'JSONEachRow'), statement).rejects.toBeInstanceOf(
          QueryRefusedError,
        )
      }
      // What FinOps people write still works: WITH subqueries, qualified names, IN a table.
      const count = async (query: string) =>
        (JSON.parse((await queries.run(query, 'JSONEachRow')).text) as { n: string }).n
      expect(
        await count('WITH t AS (SELECT agent_id FROM llm_calls) SELECT count() AS n FROM t'),
      ).toBe('26')
      expect(
        await count(
          "WITH a AS (SELECT agent_id FROM llm_calls), b AS (SELECT * FROM a WHERE agent_id = 'agent-0') SELECT count() AS n FROM b",
        ),
      ).toBe('9')
      expect(await count('SELECT count() AS n FROM default.llm_calls')).toBe('26')
      expect(
        await count(
          'SELECT count() AS n FROM llm_calls WHERE agent_id IN (SELECT agent_id FROM llm_calls_daily)',
        ),
      ).toBe('26')
      expect((await queries.run('SHOW TABLES', 'TabSeparated')).text).toContain('llm_calls\n')
    } finally {
      await client.close()
    }

    const after = JSON.parse((await sql(FINGERPRINT)).stdout) as { rows: string; digest: string }
    expect(after).toEqual(before)
    expect(readdirSync(outside)).toEqual([])
    // About a hundred CLI processes, each starting the TypeScript CLI: minutes on two cores.
  }, 480_000)

  it.skipIf(mode !== 'containers')(
    'refuses them on a ClickHouse server too (containers, where Docker runs)',
    async () => {
      const { ClickHouseContainer } = await import('@testcontainers/clickhouse')
      const { IMAGES } = await import('../support/images.ts')
      await using container = await new ClickHouseContainer(IMAGES.clickhouse)
        .withDatabase('spendguard')
        .start()
      const config = parseConfig({
        clickhouse: {
          url: container.getHttpUrl(),
          username: container.getUsername(),
          password: container.getPassword(),
          database: 'spendguard',
        },
      })
      const { client } = createAuditStoreClient(config.clickhouse, { role: 'reader' })
      try {
        const queries = createReadOnlyQueries({ client, kind: 'server' })
        for (const statement of hostileStatements(
          '/tmp/spendguard-outside',
          '/var/lib/clickhouse/',
          '/etc/pass',
        )) {
          await expect(queries.run(statement, 'JSONEachRow'), statement).rejects.toBeInstanceOf(
            QueryRefusedError,
          )
        }
      } finally {
        await client.close()
      }
    },
  )
})
