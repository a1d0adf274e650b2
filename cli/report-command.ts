import type { Config } from '../platform/config.ts'
import { ConfigError } from '../platform/errors.ts'
import {
  loadReportCatalog,
  type ReportCatalog,
  type ReportSummary,
} from '../processors/reports/report-catalog.ts'
import { ReportNotFoundError } from '../processors/reports/report-definition.ts'
import {
  compactRows,
  isReportFormat,
  renderReport,
  type ReportFormat,
} from '../processors/reports/report-output.ts'
import { ReportParameterError } from '../processors/reports/report-params.ts'
import { parseParams, runQuery, type SqlFormat } from './sql-command.ts'
import { escapeControlCharacters, renderTable } from './text-table.ts'

export const REPORT_USAGE = `usage: spendguard report NAME [--param name=value ...] [--format table|json|csv|tsv] [--data-dir ./data] [--config FILE]
       spendguard report --list [NAME] [--format table|json]

Runs a named report of sql/queries/ over the audit: spend by agent, feature, user, team, model or
tag, top sessions, cost-per-call quantiles by model, chargeback by team, policy violations, loops,
unpriced models, a budget burn-down, repricing adjustments. --list shows each one's parameters.
Values are checked against the types the report declares and bound, never spliced into SQL.
Periods are --param month=YYYY-MM, or from/to (default: the current month). Amounts include
repricing adjustments; unpriced calls are counted apart, never as $0 (docs/reports.md). While
\`spendguard start\` runs on the data directory the query goes through its API, as \`sql\` does.
exit codes: 0 done; 1 the query failed; 2 an unknown report, parameter, value or format.
example: spendguard report spend-by-team --param month=2026-09 --format csv
`

const CLI_FORMATS = ['table', 'json', 'csv', 'tsv'] as const
type ReportCliFormat = (typeof CLI_FORMATS)[number]

const isReportFormatOrTable = (format: string): format is ReportCliFormat =>
  format === 'table' || isReportFormat(format)

/** What `runQuery` asks the engine for: table and json both come from JSONCompact. */
const QUERY_FORMATS: Record<ReportCliFormat, SqlFormat> = {
  table: 'table',
  json: 'table',
  csv: 'csv',
  tsv: 'tsv',
}

export interface ReportRun {
  name: string
  params: Readonly<Record<string, string>>
  format: ReportCliFormat
  /** Default periods (the current month) are taken at this time. */
  now: number
  /** Machine formats have control characters escaped when a person's terminal shows them. */
  terminal?: boolean
  catalog?: ReportCatalog
}

/**
 * `spendguard report NAME`: the report's statement and bound values go the way `spendguard sql`
 * sends a query (the running pipeline's API, or the store), and come back in the asked format.
 */
export async function runReport(config: Config, run: ReportRun): Promise<string> {
  const catalog = run.catalog ?? loadReportCatalog()
  const prepared = catalog.prepare(run.name, run.params, run.now)
  const output = await runQuery(config, prepared.query, QUERY_FORMATS[run.format], prepared.params)
  if (run.format === 'table') {
    const { columns, rows } = compactRows(output)
    // What it ran with heads the table: the period a default stands for, above all.
    const ranWith = Object.entries(prepared.shown)
      .map(([name, value]) => `${name}=${value === '' ? "''" : value}`)
      .join('  ')
    return `${escapeControlCharacters(`${prepared.name}  ${ranWith}`)}\n\n${renderTable(
      columns.map((column) => column.name),
      rows,
    )}`
  }
  const text = renderReport(prepared, output, run.format satisfies ReportFormat)
  return run.terminal ? escapeControlCharacters(text, { keepNewlines: true }) : text
}

/** Words in lines of at most 100 characters, each line indented. */
function wrap(text: string, indent: string, width = 100): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) lines.push(indent + line)
  return lines.join('\n')
}

/** `spendguard report --list` as text: each report, then its parameters. */
export function formatReportList(reports: readonly ReportSummary[]): string {
  return reports
    .map((report) => {
      const rows = report.params.map((param) => [
        param.name,
        param.type,
        param.required ? 'required' : param.default === '' ? "''" : (param.default ?? ''),
        param.values ? `${param.help} One of: ${param.values.join(', ')}.` : param.help,
      ])
      const table = renderTable(['param', 'type', 'default', 'help'], rows)
        .trimEnd()
        .split('\n')
        .map((line) => `    ${line}`)
        .join('\n')
      return `${report.name}\n${wrap(report.description, '  ')}\n\n${table}\n`
    })
    .join('\n')
}

export interface ReportArgs {
  /** The report's name, or the one report --list shows. */
  name?: string | undefined
  list: boolean
  /** `--param name=value` options, as given. */
  params: readonly string[]
  format?: string | undefined
  now: number
  terminal: boolean
}

/**
 * The `report` command: prints the report (or the list) and answers the exit code. Input the
 * user must change (an unknown report, parameter or format, a bad value) is exit 2, with the
 * name of what to change; a query that fails is an error (exit 1).
 */
export async function reportCommand(
  config: Config,
  args: ReportArgs,
  io: { out: (text: string) => void; err: (text: string) => void },
): Promise<number> {
  const refuse = (message: string, usage = ''): number => {
    io.err(`spendguard: ${escapeControlCharacters(message, { keepNewlines: true })}\n${usage}`)
    return 2
  }
  const format = args.format ?? 'table'
  let params: Record<string, string>
  try {
    params = parseParams(args.params)
  } catch (error) {
    if (error instanceof ConfigError) return refuse(error.message)
    throw error
  }
  try {
    const catalog = loadReportCatalog()
    if (args.list) {
      if (format !== 'table' && format !== 'json')
        return refuse(`--format: "${format}" is not one of table, json (for --list)`)
      // An unknown name is refused like an unknown report to run.
      if (args.name) catalog.get(args.name)
      const shown = catalog.list().filter((report) => !args.name || report.name === args.name)
      io.out(
        format === 'json'
          ? `${JSON.stringify({ reports: shown }, null, 2)}\n`
          : formatReportList(shown),
      )
      return 0
    }
    if (!args.name)
      return refuse(
        'report needs a NAME (spendguard report --list shows them)',
        `\n${REPORT_USAGE}`,
      )
    if (!isReportFormatOrTable(format))
      return refuse(`--format: "${format}" is not one of ${CLI_FORMATS.join(', ')}`)
    io.out(
      await runReport(config, {
        name: args.name,
        params,
        format,
        now: args.now,
        terminal: args.terminal,
        catalog,
      }),
    )
    return 0
  } catch (error) {
    if (error instanceof ReportNotFoundError || error instanceof ReportParameterError)
      return refuse(error.message)
    throw error
  }
}
