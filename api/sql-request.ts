import { z } from 'zod'
import {
  QueryFailedError,
  QueryRefusedError,
  type ReadOnlyQueries,
} from '../platform/sql/read-only-queries.ts'
import { ENGINE_FORMATS as LINE_FORMATS } from '../platform/sql/output-formats.ts'
import { HttpError } from './http-error.ts'

/** The body of POST /v1/sql. */
export const sqlRequestSchema = z.strictObject({
  query: z.string().min(1, 'must not be empty'),
  /**
   * json: `{meta, data, rows}`; json_compact: the same with rows as arrays; ndjson: one JSON
   * object per row; tsv and csv: with
   * a header line. A FORMAT clause in the query wins; the `x-spendguard-format` header of the
   * answer names the format used.
   */
  format: z.enum(['json', 'json_compact', 'ndjson', 'tsv', 'csv']).default('json'),
  /** Values of the query's `{name:Type}` placeholders. */
  params: z
    .record(z.string().regex(/^\w+$/, 'a parameter name is letters, digits and _'), z.string())
    .default({}),
})

const ENGINE_FORMATS = {
  ...LINE_FORMATS,
  json: 'JSON',
  json_compact: 'JSONCompact',
  ndjson: LINE_FORMATS.json,
}

/** The content type of an engine output format. */
function contentTypeOf(format: string): string {
  if (format === 'JSONEachRow' || format === 'JSONLines' || format === 'NDJSON')
    return 'application/x-ndjson; charset=utf-8'
  if (format.startsWith('JSON')) return 'application/json; charset=utf-8'
  if (format.startsWith('CSV')) return 'text/csv; charset=utf-8'
  return 'text/plain; charset=utf-8'
}

/** Runs the read-only query of a POST /v1/sql body; refusals and engine errors are 400. */
export async function runSqlRequest(queries: ReadOnlyQueries, body: string) {
  let document: unknown
  try {
    document = JSON.parse(body)
  } catch (error) {
    throw new HttpError(400, `the body is not JSON: ${(error as Error).message}`)
  }
  const parsed = sqlRequestSchema.safeParse(document)
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(body)'}: ${issue.message}`)
      .join('; ')
    throw new HttpError(400, `invalid SQL request: ${detail}`)
  }
  try {
    const { query, format, params } = parsed.data
    const output = await queries.run(query, ENGINE_FORMATS[format], params)
    return {
      status: 200,
      body: output.text,
      contentType: contentTypeOf(output.format),
      headers: { 'x-spendguard-format': output.format },
    }
  } catch (error) {
    if (error instanceof QueryRefusedError || error instanceof QueryFailedError)
      throw new HttpError(400, error.message)
    throw error
  }
}
