import { readdirSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { loadReportCatalog, QUERIES_DIR } from '../../processors/reports/report-catalog.ts'
import { parseReport, ReportDefinitionError } from '../../processors/reports/report-definition.ts'

const header = (params: string, period = 'period: range\n') =>
  `/*\ndescription: Calls per agent.\n${period}params:\n${params}*/\n`
const TENANT = "  tenant: { type: String, default: '', help: Only this tenant. }\n"
const BODY = `SELECT agent_id, count() AS calls FROM llm_calls
WHERE occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3,'UTC')}
  AND ({tenant:String} = '' OR tenant_id = {tenant:String})
GROUP BY agent_id`

function refusal(text: string): string {
  try {
    parseReport('broken.sql', text)
  } catch (error) {
    expect(error).toBeInstanceOf(ReportDefinitionError)
    return (error as Error).message
  }
  throw new Error('the report was accepted')
}

/** A statement's opening, up to the end of its `calls` subquery: the adjusted cost of each call. */
function preludeOf(sql: string): string {
  const calls = sql.indexOf('    calls AS (')
  return calls < 0 ? '' : sql.slice(0, sql.indexOf('\n    )', calls))
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

describe('the reports of sql/queries', () => {
  const files = readdirSync(QUERIES_DIR).filter((file) => file.endsWith('.sql'))
  const catalog = loadReportCatalog()

  it('all load, each named after its file, described, with its parameters', () => {
    const reports = catalog.list()
    expect(reports.map((report) => `${report.name}.sql`)).toEqual(files.sort())
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

  it('read llm_calls through one statement opening that includes repricing adjustments', () => {
    // Every report that reads the calls takes each call's cost from the same subqueries: its
    // latest adjustment, or what the audit says (NULL, unpriced, stays NULL).
    const readers = files
      .map((file) => readFileSync(new URL(file, QUERIES_DIR), 'utf8'))
      .filter((text) => text.includes('FROM llm_calls'))
      .map((text) => preludeOf(text.slice(text.indexOf('*/') + 2).trim()))
    expect(readers.length).toBeGreaterThanOrEqual(12)
    expect(readers[0]).toMatch(/coalesce\(r\.cost_usd, c\.cost_usd\) AS call_usd/)
    expect(readers[0]).toMatch(/argMax\(cost_usd, adjusted_at\)/)
    for (const prelude of readers) expect(prelude).toBe(readers[0])
  })
})
