import type { Principal } from './access-tokens.ts'
import { HttpError } from './http-error.ts'
import type { Answer } from './http-server.ts'

/** Named reports (`sql/queries/`), as the HTTP API serves them. */
export interface ReportService {
  /** The reports and their parameters. */
  list(): unknown
  /** One report's output with its parameters bound, in a format (table, csv, json, tsv). */
  run(
    name: string,
    params: Record<string, string>,
    format: string,
  ): Promise<{ text: string; contentType: string }>
}

/** GET /v1/reports. */
export function answerReportList(reports: ReportService | undefined): Answer {
  if (!reports) throw new HttpError(404, 'this process serves no reports')
  return { status: 200, body: reports.list() }
}

/** GET /v1/reports/<name>?param=value&format=csv. */
export async function answerReport(
  reports: ReportService | undefined,
  url: string,
  principal: Principal,
): Promise<Answer> {
  if (!reports) throw new HttpError(404, 'this process serves no reports')
  if (principal.tenant !== undefined)
    throw new HttpError(
      403,
      `reports read every tenant's rows; this token is bound to tenant "${principal.tenant}"`,
    )
  const parsed = new URL(url, 'http://localhost')
  const name = decodeURIComponent(parsed.pathname.slice('/v1/reports/'.length))
  const params = Object.fromEntries([...parsed.searchParams].filter(([key]) => key !== 'format'))
  const { text, contentType } = await reports.run(
    name,
    params,
    parsed.searchParams.get('format') ?? 'json',
  )
  return { status: 200, body: text, contentType }
}
