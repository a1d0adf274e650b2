import { readdirSync, readFileSync } from 'node:fs'
import {
  parseReport,
  ReportDefinitionError,
  ReportNotFoundError,
  type ReportDefinition,
} from './report-definition.ts'
import { parseFragment, type ReportFragment } from './report-fragment.ts'
import { resolveParams } from './report-params.ts'

/** Where the named reports live; the build copies them beside the compiled code. */
export const QUERIES_DIR = new URL('../../sql/queries/', import.meta.url)

const REPORT_FILE = /^[a-z0-9][a-z0-9-]*\.sql$/
/** `_calls.sql`: not a report, subqueries that reports read (its name is a SQL identifier). */
const FRAGMENT_FILE = /^_[a-z][a-z0-9_]*\.sql$/

/** A report and its parameters, as `spendguard report --list` and GET /v1/reports show them. */
export interface ReportSummary {
  name: string
  description: string
  params: Array<{
    name: string
    type: string
    required: boolean
    default?: string
    values?: readonly string[]
    help: string
  }>
}

/** A report ready to run: its statement and the values of its placeholders. */
export interface PreparedReport {
  name: string
  query: string
  params: Record<string, string>
  /** What it runs with, defaults and the resolved period included (the JSON output shows it). */
  shown: Record<string, string>
}

export interface ReportCatalog {
  list(): ReportSummary[]
  /** Throws ReportNotFoundError for an unknown name. */
  get(name: string): ReportDefinition
  /** Checks the parameters (ReportParameterError names each bad one) and binds the defaults. */
  prepare(name: string, given: Readonly<Record<string, string>>, now: number): PreparedReport
}

function summaryOf(report: ReportDefinition): ReportSummary {
  return {
    name: report.name,
    description: report.description,
    params: report.params.map((param) => ({
      name: param.name,
      type: param.type,
      required: param.required,
      ...(param.default === undefined ? {} : { default: param.default }),
      ...(param.values === undefined ? {} : { values: param.values }),
      help: param.help,
    })),
  }
}

/**
 * Reads every report of `dir` once, with the fragments (`_NAME.sql`) they read; a file that is
 * not a valid report or fragment fails the whole load.
 */
export function loadReportCatalog(dir: URL = QUERIES_DIR): ReportCatalog {
  const files = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
  const read = (file: string) => readFileSync(new URL(file, dir), 'utf8')
  const fragments = new Map<string, ReportFragment>()
  for (const file of files.filter((name) => name.startsWith('_'))) {
    if (!FRAGMENT_FILE.test(file))
      throw new ReportDefinitionError(
        file,
        'a fragment file is named _lower_case_with_underscores.sql',
      )
    const fragment = parseFragment(file, read(file))
    if ('issue' in fragment) throw new ReportDefinitionError(file, fragment.issue)
    fragments.set(fragment.name, fragment)
  }
  const reports = new Map<string, ReportDefinition>()
  for (const file of files.filter((name) => !name.startsWith('_'))) {
    if (!REPORT_FILE.test(file))
      throw new ReportDefinitionError(file, 'a report file is named in lower-case-with-dashes.sql')
    const report = parseReport(file, read(file), fragments)
    reports.set(report.name, report)
  }
  const get = (name: string): ReportDefinition => {
    const report = reports.get(name)
    if (!report) throw new ReportNotFoundError(name, [...reports.keys()])
    return report
  }
  return {
    list: () => [...reports.values()].map(summaryOf),
    get,
    prepare(name, given, now) {
      const report = get(name)
      const { bound, shown } = resolveParams(report, given, now)
      return { name, query: report.sql, params: bound, shown }
    },
  }
}
