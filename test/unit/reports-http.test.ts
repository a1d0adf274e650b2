import { describe, expect, it } from 'vitest'
import { HttpError } from '../../api/http-error.ts'
import { answerReport, answerReportList } from '../../api/report-request.ts'
import { ManualClock } from '../../platform/clock.ts'
import {
  QueryFailedError,
  type QueryParams,
  type ReadOnlyQueries,
} from '../../platform/sql/read-only-queries.ts'
import { loadReportCatalog, type ReportSummary } from '../../processors/reports/report-catalog.ts'
import { createReportService } from '../../processors/reports/report-service.ts'
import { serveApi } from '../support/serve-api.ts'

const ACME_TOKEN = 'read-acme-0123456789abcdef0123456789abcdef'
const catalog = loadReportCatalog()

interface Sent {
  query: string
  format: string
  params: QueryParams
}

/** Read-only queries that answer what an engine would for a two-team report, and record each call. */
function recordingQueries(fail?: Error): ReadOnlyQueries & { sent: Sent[] } {
  const sent: Sent[] = []
  const answers: Record<string, string> = {
    CSVWithNames: '"tenant_id","team","cost_usd"\n"acme","platform",1.5\n"acme",\\N,\\N\n',
    JSONCompact: JSON.stringify({
      meta: [
        { name: 'tenant_id', type: 'LowCardinality(String)' },
        { name: 'team', type: 'Nullable(String)' },
        { name: 'calls', type: 'UInt64' },
        { name: 'cost_usd', type: 'Nullable(Decimal(38, 15))' },
      ],
      data: [
        ['acme', 'platform', '3', '1.5'],
        ['acme', null, '1', null],
      ],
      rows: 2,
    }),
  }
  return {
    sent,
    check: () => Promise.reject(new Error('not used')),
    run(query, format, params = {}) {
      sent.push({ query, format, params })
      if (fail) return Promise.reject(fail)
      return Promise.resolve({ text: answers[format] ?? '', format })
    },
  }
}

async function httpError(answer: Promise<unknown>): Promise<HttpError> {
  const error = await answer.then(
    () => undefined,
    (failure: unknown) => failure,
  )
  expect(error).toBeInstanceOf(HttpError)
  return error as HttpError
}

describe('named reports over HTTP', () => {
  it('send the report file’s statement as it is, with every value bound as a parameter', async () => {
    const queries = recordingQueries()
    const service = createReportService(queries, { catalog })
    const hostile = "acme' OR 1=1 --"
    const answer = await answerReport(
      service,
      `/v1/reports/spend-by-team?month=2026-09&tenant=${encodeURIComponent(hostile)}&format=csv`,
    )
    expect(answer).toEqual({
      status: 200,
      body: '"tenant_id","team","cost_usd"\n"acme","platform",1.5\n"acme",\\N,\\N\n',
      contentType: 'text/csv; charset=utf-8',
    })
    expect(queries.sent).toEqual([
      {
        query: catalog.get('spend-by-team').sql,
        format: 'CSVWithNames',
        params: {
          from: '2026-09-01 00:00:00.000',
          to: '2026-10-01 00:00:00.000',
          tenant: hostile,
        },
      },
    ])
  })

  it('answer JSON by default: the parameters it ran with, the columns and the rows, nulls kept', async () => {
    const queries = recordingQueries()
    const clock = new ManualClock(Date.parse('2026-11-24T12:00:00Z'))
    const service = createReportService(queries, { catalog, clock })
    const answer = await answerReport(service, '/v1/reports/spend-by-team')
    expect(answer.contentType).toBe('application/json; charset=utf-8')
    expect(JSON.parse(answer.body as string)).toEqual({
      report: 'spend-by-team',
      params: { from: '2026-11-01 00:00:00.000', to: '2026-12-01 00:00:00.000', tenant: '' },
      columns: [
        { name: 'tenant_id', type: 'LowCardinality(String)' },
        { name: 'team', type: 'Nullable(String)' },
        { name: 'calls', type: 'UInt64' },
        { name: 'cost_usd', type: 'Nullable(Decimal(38, 15))' },
      ],
      rows: [
        { tenant_id: 'acme', team: 'platform', calls: '3', cost_usd: '1.5' },
        { tenant_id: 'acme', team: null, calls: '1', cost_usd: null },
      ],
    })
    expect(queries.sent[0]!.format).toBe('JSONCompact')
  })

  it('answer 400 naming the parameter or format at fault, before any query runs', async () => {
    const queries = recordingQueries()
    const service = createReportService(queries, { catalog })
    const cases: Array<[string, RegExp]> = [
      ['/v1/reports/chargeback-by-team', /month: is required/],
      ['/v1/reports/spend-by-team?month=2026-13', /month: "2026-13" is not a month/],
      ['/v1/reports/spend-by-team?team=platform', /team: is not a parameter of this report/],
      ['/v1/reports/top-sessions?limit=ten', /limit: "ten" is not a whole number/],
      ['/v1/reports/spend-by-team?month=2026-09&month=2026-10', /^month: given more than once$/],
      ['/v1/reports/spend-by-team?format=xml', /format: "xml" is not one of json, csv, tsv/],
      ['/v1/reports/spend-by-tag?month=2026-09', /tag: is required/],
    ]
    for (const [url, message] of cases) {
      const error = await httpError(answerReport(service, url))
      expect([url, error.status]).toEqual([url, 400])
      expect(error.message).toMatch(message)
    }
    expect(queries.sent).toEqual([])
  })

  it('answer 404 for an unknown report, 403 to a tenant-bound token, 400 when the engine refuses', async () => {
    const service = createReportService(recordingQueries(), { catalog })
    const missing = await httpError(answerReport(service, '/v1/reports/spend-by-planet'))
    expect(missing.status).toBe(404)
    expect(missing.message).toMatch(
      /no report named "spend-by-planet"; the reports are adjustments/,
    )
    // Through the server: a token bound to one tenant may not read every tenant's rows.
    const { url } = await serveApi({
      reports: service,
      config: {
        auth: { tokens: [{ name: 'acme', role: 'read', token: ACME_TOKEN, tenant: 'acme' }] },
      },
    })
    const bound = await fetch(`${url}/v1/reports/spend-by-team`, {
      headers: { authorization: `Bearer ${ACME_TOKEN}` },
    })
    expect(bound.status).toBe(403)
    const failing = createReportService(
      recordingQueries(new QueryFailedError('Memory limit exceeded', '241', undefined)),
      { catalog },
    )
    const failed = await httpError(answerReport(failing, '/v1/reports/spend-by-team'))
    expect([failed.status, failed.message]).toEqual([400, 'query failed: Memory limit exceeded'])
  })

  it('list every report with its parameters', () => {
    const answer = answerReportList(createReportService(recordingQueries(), { catalog }))
    const { reports } = answer.body as { reports: ReportSummary[] }
    expect(reports.map((report) => report.name)).toEqual(catalog.list().map((r) => r.name))
    expect(reports.find((report) => report.name === 'chargeback-by-team')).toEqual({
      name: 'chargeback-by-team',
      description: expect.stringMatching(/^What each team spent in a calendar month/) as unknown,
      params: [
        {
          name: 'month',
          type: 'YYYY-MM',
          required: true,
          help: 'The calendar month (UTC), e.g. 2026-09.',
        },
        {
          name: 'tenant',
          type: 'String',
          required: false,
          default: '',
          help: "Only this tenant's calls (empty, the default, is every tenant).",
        },
      ],
    })
  })
})
