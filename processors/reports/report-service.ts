import type { ReportService } from '../../api/report-request.ts'
import { HttpError } from '../../api/http-error.ts'
import type { ReadOnlyQueries } from '../../platform/sql/read-only-queries.ts'

/** The named reports of `sql/queries/`, run through the read-only query path. */
export function createReportService(queries: ReadOnlyQueries): ReportService {
  void queries
  return {
    list: () => ({ reports: [] }),
    run: (name) => Promise.reject(new HttpError(404, `no report named "${name}"`)),
  }
}
