import { systemClock, type Clock } from '../../platform/clock.ts'
import type { ReadOnlyQueries } from '../../platform/sql/read-only-queries.ts'
import { loadReportCatalog, type ReportCatalog, type ReportSummary } from './report-catalog.ts'
import {
  isReportFormat,
  renderReport,
  REPORT_CONTENT_TYPES,
  REPORT_ENGINE_FORMATS,
  REPORT_FORMATS,
} from './report-output.ts'
import { ReportParameterError } from './report-params.ts'

/** Named reports (`sql/queries/`), as the HTTP API serves them. */
export interface ReportService {
  /** The reports and their parameters. */
  list(): { reports: ReportSummary[] }
  /**
   * One report with its parameters bound, as json (the default), csv or tsv. Throws
   * ReportNotFoundError, ReportParameterError (a bad parameter or format, named) or the read-only
   * query errors.
   */
  run(
    name: string,
    params: Readonly<Record<string, string>>,
    format?: string,
  ): Promise<{ text: string; contentType: string }>
}

export interface ReportServiceOptions {
  /** Default periods (the current month) follow this clock. */
  clock?: Clock
  catalog?: ReportCatalog
}

/** The named reports of `sql/queries/`, run through the one read-only query path. */
export function createReportService(
  queries: ReadOnlyQueries,
  options: ReportServiceOptions = {},
): ReportService {
  const catalog = options.catalog ?? loadReportCatalog()
  const clock = options.clock ?? systemClock
  return {
    list: () => ({ reports: catalog.list() }),
    async run(name, params, format = 'json') {
      if (!isReportFormat(format))
        throw new ReportParameterError(name, [
          { path: 'format', message: `"${format}" is not one of ${REPORT_FORMATS.join(', ')}` },
        ])
      const prepared = catalog.prepare(name, params, clock.now())
      const output = await queries.run(
        prepared.query,
        REPORT_ENGINE_FORMATS[format],
        prepared.params,
      )
      return {
        text: renderReport(prepared, output, format),
        contentType: REPORT_CONTENT_TYPES[format],
      }
    },
  }
}
