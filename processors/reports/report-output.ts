import { SpendGuardError } from '../../platform/errors.ts'
import { ENGINE_FORMATS } from '../../platform/sql/output-formats.ts'
import type { QueryOutput } from '../../platform/sql/read-only-queries.ts'
import type { PreparedReport } from './report-catalog.ts'

/**
 * A report's output in the formats both the CLI and the HTTP API give: `json`, a document with
 * the parameters it ran with, its columns and its rows; `csv` and `tsv` with a header line, as
 * the engine writes them. Money is exact in all three: Decimal columns come back as decimal
 * text, and unpriced amounts as null (`\N` in csv and tsv), never 0.
 */
export const REPORT_FORMATS = ['json', 'csv', 'tsv'] as const
export type ReportFormat = (typeof REPORT_FORMATS)[number]

/** The engine format each output is made from. */
export const REPORT_ENGINE_FORMATS: Record<ReportFormat, string> = {
  json: 'JSONCompact',
  csv: ENGINE_FORMATS.csv,
  tsv: ENGINE_FORMATS.tsv,
}

export const REPORT_CONTENT_TYPES: Record<ReportFormat, string> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  tsv: 'text/tab-separated-values; charset=utf-8',
}

export const isReportFormat = (text: string): text is ReportFormat =>
  (REPORT_FORMATS as readonly string[]).includes(text)

export interface ReportColumn {
  name: string
  type: string
}

/** The rows of a JSONCompact output: values as the engine wrote them (64-bit and decimals as text). */
export interface ReportRows {
  columns: ReportColumn[]
  rows: unknown[][]
}

export interface ReportDocument {
  report: string
  params: Record<string, string>
  columns: ReportColumn[]
  rows: Array<Record<string, unknown>>
}

/** Reads the engine's JSONCompact output of a report. */
export function compactRows(output: QueryOutput): ReportRows {
  if (output.format !== 'JSONCompact')
    throw new SpendGuardError(`a report answered in ${output.format}, not JSONCompact`, {
      code: 'REPORT_OUTPUT',
    })
  const body = JSON.parse(output.text) as { meta: ReportColumn[]; data: unknown[][] }
  return {
    columns: body.meta.map(({ name, type }) => ({ name, type })),
    rows: body.data,
  }
}

export function reportDocument(prepared: PreparedReport, rows: ReportRows): ReportDocument {
  return {
    report: prepared.name,
    params: prepared.shown,
    columns: rows.columns,
    rows: rows.rows.map((row) =>
      Object.fromEntries(rows.columns.map((column, i) => [column.name, row[i]])),
    ),
  }
}

/** The text of a report in one of the shared formats, from the engine output of that format. */
export function renderReport(
  prepared: PreparedReport,
  output: QueryOutput,
  format: ReportFormat,
): string {
  if (format !== 'json') return output.text
  return `${JSON.stringify(reportDocument(prepared, compactRows(output)), null, 2)}\n`
}
