import { QueryFailedError } from '../platform/sql/read-only-queries.ts'
import { ReportNotFoundError } from '../processors/reports/report-definition.ts'
import { ReportParameterError } from '../processors/reports/report-params.ts'
import type { ReportService } from '../processors/reports/report-service.ts'
import { HttpError } from './http-error.ts'
import type { Answer } from './http-server.ts'

export type { ReportService }

/** GET /v1/reports: every report with its parameters. */
export function answerReportList(reports: ReportService | undefined): Answer {
  if (!reports) throw new HttpError(404, 'this process serves no reports')
  return { status: 200, body: reports.list() }
}

/**
 * GET /v1/reports/<name>?param=value&format=csv: one report, json unless `format` says csv or
 * tsv. An unknown report is 404; a missing, unknown, repeated or ill-typed parameter is 400 with
 * the parameter's name.
 */
export async function answerReport(
  reports: ReportService | undefined,
  url: string,
): Promise<Answer> {
  if (!reports) throw new HttpError(404, 'this process serves no reports')
  const parsed = new URL(url, 'http://localhost')
  let name: string
  try {
    name = decodeURIComponent(parsed.pathname.slice('/v1/reports/'.length))
  } catch (error) {
    if (!(error instanceof URIError)) throw error
    throw new HttpError(400, 'the report name is not valid percent-encoding')
  }
  const params = new Map<string, string>()
  for (const [key, value] of parsed.searchParams) {
    if (key === 'format') continue
    if (params.has(key)) throw new HttpError(400, `${key}: given more than once`)
    params.set(key, value)
  }
  const formats = parsed.searchParams.getAll('format')
  if (formats.length > 1) throw new HttpError(400, 'format: given more than once')
  try {
    const { text, contentType } = await reports.run(
      name,
      Object.fromEntries(params),
      formats[0] ?? 'json',
    )
    return { status: 200, body: text, contentType }
  } catch (error) {
    if (error instanceof ReportNotFoundError) throw new HttpError(404, error.message)
    if (error instanceof ReportParameterError || error instanceof QueryFailedError)
      throw new HttpError(400, error.message)
    throw error
  }
}
