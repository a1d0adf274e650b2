import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadReportCatalog, QUERIES_DIR } from '../../processors/reports/report-catalog.ts'
import { parseReport, ReportDefinitionError } from '../../processors/reports/report-definition.ts'
import { parseFragment, type ReportFragment } from '../../processors/reports/report-fragment.ts'

const header = (params: string, period = 'period: range\n') =>
  `/*\ndescription: Calls per agent.\n${period}params:\n${params}*/\n`
const TENANT = "  tenant: { type: String, default: '', help: Only this tenant. }\n"
const BODY = `SELECT agent_id, count() AS calls FROM llm_calls
WHERE occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3,'UTC')}
  AND ({tenant:String} = '' OR tenant_id = {tenant:String})
GROUP BY agent_id`

/** A fragment as `_calls.sql` is written: a comment, then WITH and its subqueries. */
const CALLS_FILE = `/* The calls of the period. */
WITH
    calls AS (
        SELECT agent_id, tenant_id FROM llm_calls
        WHERE occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
            AND ({tenant:String} = '' OR tenant_id = {tenant:String})
    )
`
/** A fragment that must be accepted. */
function fragmentOf(file: string, text: string): ReportFragment {
  const fragment = parseFragment(file, text)
  if ('issue' in fragment) throw new Error(`${file} was refused: ${fragment.issue}`)
  return fragment
}
const CALLS = fragmentOf('_calls.sql', CALLS_FILE)
const FRAGMENTS = new Map([[CALLS.name, CALLS]])
const READS = 'reads: calls\n'

function refusal(text: string): string {
  try {
    parseReport('broken.sql', text, FRAGMENTS)
  } catch (error) {
    expect(error).toBeInstanceOf(ReportDefinitionError)
    return (error as Error).message
  }
  throw new Error('the report was accepted')
}

describe('a report file', () => {
  it('gives its description, its statement and its parameters, the period first', () => {
    const report = parseReport('calls-by-agent.sql', header(TENANT) + BODY)
    expect(report).toMatchObject({
      name: 'calls-by-agent',
      description: 'Calls per agent.',
      period: 'range',
      sql: BODY,
    })
    expect(report.params.map((param) => [param.name, param.type, param.required])).toEqual([
      ['month', 'YYYY-MM', false],
      ['from', "DateTime64(3, 'UTC')", false],
      ['to', "DateTime64(3, 'UTC')", false],
      ['tenant', 'String', false],
    ])
    const month = parseReport('m.sql', header(TENANT, 'period: month\n') + BODY)
    expect(month.params.map((param) => [param.name, param.required])).toEqual([
      ['month', true],
      ['tenant', false],
    ])
  })

  it('is refused when its header and its placeholders disagree', () => {
    expect(refusal(BODY)).toMatch(/must start with a \/\* \.\.\. \*\/ block of YAML/)
    expect(refusal(header('') + BODY)).toMatch(/\{tenant:String\} is not declared in its header/)
    expect(
      refusal(header(`${TENANT}  limit: { type: UInt32, default: 5, help: N. }\n`) + BODY),
    ).toMatch(/"limit" is declared but the statement never uses it/)
    expect(refusal(header('  tenant: { type: UInt32, help: T. }\n') + BODY)).toMatch(
      /\{tenant\} is declared as UInt32 but used as String/,
    )
    expect(refusal(header(TENANT) + BODY.replace("= ''", '= {tenant:UInt8}'))).toMatch(
      /\{tenant\} is used as String and as UInt8/,
    )
    // A period binds from and to: a statement that ignores them would report every month alike.
    expect(refusal(header(TENANT) + BODY.replace(/\{(from|to):[^}]+\}/g, 'now()'))).toMatch(
      /"from" is declared but the statement never uses it/,
    )
  })

  it('is refused when it declares what cannot be checked before the query runs', () => {
    expect(refusal(header('  from: { type: String, help: F. }\n') + BODY)).toMatch(
      /params\.from: is reserved/,
    )
    expect(
      refusal(header(TENANT.replace('String', 'Float64')) + BODY.replaceAll('String', 'Float64')),
    ).toMatch(/tenant: no support for Float64/)
    expect(
      refusal(
        header('  tenant: { type: UInt32, default: -1, help: T. }\n') +
          BODY.replaceAll('String', 'UInt32'),
      ),
    ).toMatch(/tenant: "-1" is not a whole number of 0 or more/)
    expect(refusal(`/*\ndescription: [unclosed\n*/\n${BODY}`)).toMatch(/its header is not YAML/)
    expect(refusal(`/*\ndescription: x\nperiod: week\n*/\n${BODY}`)).toMatch(/period: /)
  })
})

describe('a report that reads a fragment', () => {
  const OWN = 'SELECT agent_id, count() AS calls FROM calls GROUP BY agent_id'

  it('runs the fragment in front of its own statement, whether that starts with SELECT or WITH', () => {
    expect(CALLS.name).toBe('calls')
    const select = parseReport('a.sql', header(TENANT, `period: range\n${READS}`) + OWN, FRAGMENTS)
    expect(select.reads).toEqual(['calls'])
    expect(select.sql).toBe(`WITH${CALLS.subqueries}\n${OWN}`)
    expect(select.sql).toMatch(/^WITH\n {4}calls AS \(\n/)
    // Its own subqueries follow the fragment's in the one WITH.
    const own = `WITH\n    top AS (SELECT agent_id FROM calls LIMIT 1)\nSELECT * FROM top`
    const withOwn = parseReport('b.sql', header(TENANT, `period: range\n${READS}`) + own, FRAGMENTS)
    expect(withOwn.sql).toBe(
      `WITH${CALLS.subqueries},\n    top AS (SELECT agent_id FROM calls LIMIT 1)\nSELECT * FROM top`,
    )
    // The period and tenant it declares are used by the fragment alone, and that counts.
    expect([...select.placeholders.keys()].sort()).toEqual(['from', 'tenant', 'to'])
    expect(select.params.map((param) => param.name)).toEqual(['month', 'from', 'to', 'tenant'])
  })

  it("is held to the fragment's placeholders as to its own", () => {
    expect(refusal(header('', `period: range\n${READS}`) + OWN)).toMatch(
      /\{tenant:String\} is not declared in its header \(_calls\.sql, which it reads, uses it\)/,
    )
    expect(refusal(header(TENANT, READS) + OWN)).toMatch(
      /\{from:DateTime64\(3, 'UTC'\)\} is not declared in its header \(_calls\.sql/,
    )
    expect(
      refusal(header('  tenant: { type: UInt32, help: T. }\n', `period: range\n${READS}`) + OWN),
    ).toMatch(/\{tenant\} is declared as UInt32 but used as String \(_calls\.sql/)
  })

  it('is refused when what it reads and what its header says disagree', () => {
    const range = (reads: string) => header(TENANT, `period: range\n${reads}`)
    expect(refusal(range('reads: sessions\n') + OWN)).toMatch(
      /reads: no fragment "sessions" \(the fragments are calls\)/,
    )
    expect(refusal(range('reads: [calls, calls]\n') + OWN)).toMatch(/"calls" is given twice/)
    expect(refusal(range(READS) + BODY)).toMatch(
      /"calls" is declared but the statement never reads FROM calls/,
    )
    expect(refusal(range('') + OWN)).toMatch(/reads FROM calls without "reads: calls"/)
    expect(refusal(range(READS) + `-- a comment first\n${OWN}`)).toMatch(
      /starts its statement with WITH or SELECT/,
    )
    // A report that reads no fragment may name a subquery of its own like one.
    const own = `WITH calls AS (${BODY})\nSELECT * FROM calls`
    expect(parseReport('c.sql', range('') + own, FRAGMENTS).sql).toBe(own)
  })

  it('is refused when the fragment is not a WITH of subqueries, one named after its file', () => {
    const issueOf = (file: string, text: string) => {
      const fragment = parseFragment(file, text)
      return 'issue' in fragment ? fragment.issue : 'accepted'
    }
    const ctes = 'WITH\n    calls AS (SELECT 1)'
    expect(issueOf('_calls.sql', `${ctes}\nSELECT * FROM calls`)).toBe(
      'a fragment is WITH and its subqueries, one of them "calls AS (...)", without a SELECT after them',
    )
    expect(issueOf('_calls.sql', 'calls AS (SELECT 1)')).toMatch(/a fragment is WITH/)
    expect(issueOf('_spend.sql', ctes)).toMatch(/"spend AS \(\.\.\.\)"/)
    expect(fragmentOf('_calls.sql', `/* A comment. */\n${ctes}\n`).subqueries).toBe(
      '\n    calls AS (SELECT 1)',
    )
  })
})

/** A directory of report files (name -> content) removed when the test's `await using` ends. */
function queriesDir(files: Record<string, string>): { url: URL } & AsyncDisposable {
  const path = mkdtempSync(join(tmpdir(), 'spendguard-queries-'))
  for (const [name, content] of Object.entries(files)) writeFileSync(join(path, name), content)
  return {
    url: pathToFileURL(`${path}/`),
    [Symbol.asyncDispose]: () => Promise.resolve(rmSync(path, { recursive: true, force: true })),
  }
}

describe('a directory of reports', () => {
  it('lists its reports, not the fragments they read', async () => {
    const report = `${header(TENANT, `period: range\n${READS}`)}SELECT count() FROM calls`
    await using dir = queriesDir({ '_calls.sql': CALLS_FILE, 'per-agent.sql': report })
    const catalog = loadReportCatalog(dir.url)
    expect(catalog.list().map((summary) => summary.name)).toEqual(['per-agent'])
    expect(catalog.get('per-agent').sql).toBe(`WITH${CALLS.subqueries}\nSELECT count() FROM calls`)
  })

  it('is refused when a fragment is misnamed or malformed, naming the file', async () => {
    await using misnamed = queriesDir({ '_the-calls.sql': CALLS_FILE })
    expect(() => loadReportCatalog(misnamed.url)).toThrow(
      /report _the-calls\.sql: a fragment file is named _lower_case_with_underscores\.sql/,
    )
    await using malformed = queriesDir({ '_calls.sql': `${CALLS_FILE}SELECT 1\n` })
    expect(() => loadReportCatalog(malformed.url)).toThrow(
      /report _calls\.sql: a fragment is WITH and its subqueries/,
    )
  })
})

describe('the reports of sql/queries', () => {
  const files = readdirSync(QUERIES_DIR).filter((file) => file.endsWith('.sql'))
  // `_calls.sql` and the like are fragments that reports read, not reports.
  const reportFiles = files.filter((file) => !file.startsWith('_'))
  const catalog = loadReportCatalog()

  it('all load, each named after its file, described, with its parameters', () => {
    expect(files).toContain('_calls.sql')
    const reports = catalog.list()
    expect(reports.map((report) => `${report.name}.sql`)).toEqual(reportFiles.sort())
    expect(reports.map((report) => report.name)).toEqual(
      expect.arrayContaining([
        'spend-by-agent',
        'spend-by-feature',
        'spend-by-user',
        'spend-by-team',
        'spend-by-model',
        'spend-by-tag',
        'top-sessions',
        'cost-quantiles-by-model',
        'chargeback-by-team',
        'violations',
        'loops',
        'unpriced-models',
        'budget-burn-down',
        'adjustments',
      ]),
    )
    for (const report of reports) {
      expect(report.description.length).toBeGreaterThan(20)
      expect(report.params.map((param) => param.name)).toContain('month')
      for (const param of report.params) expect(param.help).not.toBe('')
    }
  })

  it('read llm_calls only through the calls fragment, which includes repricing adjustments', () => {
    // Every report that reads the calls takes each call's cost from the same subqueries: its
    // latest adjustment, or what the audit says (NULL, unpriced, stays NULL).
    const fragment = fragmentOf(
      '_calls.sql',
      readFileSync(new URL('_calls.sql', QUERIES_DIR), 'utf8'),
    )
    expect(fragment.subqueries).toMatch(/coalesce\(r\.cost_usd, c\.cost_usd\) AS call_usd/)
    expect(fragment.subqueries).toMatch(/argMax\(cost_usd, adjusted_at\)/)
    for (const file of reportFiles) {
      const text = readFileSync(new URL(file, QUERIES_DIR), 'utf8')
      expect(text.slice(text.indexOf('*/')), file).not.toMatch(/\bllm_calls\b/)
    }
    const readers = catalog
      .list()
      .map((summary) => catalog.get(summary.name))
      .filter((report) => report.reads.includes('calls'))
    expect(readers.length).toBeGreaterThanOrEqual(12)
    for (const report of readers)
      expect(report.sql.startsWith(`WITH${fragment.subqueries}`), report.name).toBe(true)
  })
})
