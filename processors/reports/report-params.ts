import { ValidationError, type FieldIssue } from '../../platform/errors.ts'
import {
  checkerOf,
  formatUtcTime,
  monthStartOf,
  nextMonthStart,
  parseMonth,
  parseUtcTime,
} from './param-types.ts'
import type { ReportDefinition } from './report-definition.ts'

/** Parameters a report cannot run with; each issue names the parameter (`path`). */
export class ReportParameterError extends ValidationError {
  constructor(report: string, issues: readonly FieldIssue[]) {
    super(issues, `report ${report}`)
  }
}

export interface ResolvedParams {
  /** The values of the statement's placeholders, as the engine parses them. */
  bound: Record<string, string>
  /** What the report ran with, defaults included: the month given, the period, the others. */
  shown: Record<string, string>
}

const PERIOD_NAMES = new Set(['month', 'from', 'to'])

/** A given value by name; only the caller's own keys count (not `constructor` and the like). */
const valueOf = (given: Readonly<Record<string, string>>, name: string): string | undefined =>
  Object.hasOwn(given, name) ? given[name] : undefined

/** `from` and `to` of the report's period, from `month` or from themselves. */
function resolvePeriod(
  report: ReportDefinition,
  given: Readonly<Record<string, string>>,
  now: number,
  issues: FieldIssue[],
): { month?: string; from: number; to: number } | undefined {
  const month = valueOf(given, 'month')
  if (month !== undefined) {
    const start = parseMonth(month)
    if (start === undefined) {
      issues.push({ path: 'month', message: `"${month}" is not a month (YYYY-MM, e.g. 2026-09)` })
      return undefined
    }
    if (valueOf(given, 'from') !== undefined || valueOf(given, 'to') !== undefined) {
      issues.push({ path: 'month', message: 'give either month or from/to, not both' })
      return undefined
    }
    return { month: month.trim(), from: start, to: nextMonthStart(start) }
  }
  if (report.period === 'month') {
    issues.push({ path: 'month', message: 'is required (YYYY-MM, e.g. 2026-09)' })
    return undefined
  }
  const time = (name: 'from' | 'to', fallback: number): number | undefined => {
    const text = valueOf(given, name)
    if (text === undefined) return fallback
    const ms = parseUtcTime(text)
    if (ms === undefined)
      issues.push({
        path: name,
        message: `"${text}" is not a UTC date or time (2026-09-01, 2026-09-01 08:30:00, or ISO 8601)`,
      })
    return ms
  }
  const from = time('from', monthStartOf(now))
  const to = time('to', nextMonthStart(now))
  if (from === undefined || to === undefined) return undefined
  if (to <= from) {
    issues.push({ path: 'to', message: `must be later than from (${formatUtcTime(from)})` })
    return undefined
  }
  return { from, to }
}

/**
 * Checks the parameters a caller gave a report against its header and fills in the defaults:
 * every unknown name, missing required parameter and bad value is reported at once.
 */
export function resolveParams(
  report: ReportDefinition,
  given: Readonly<Record<string, string>>,
  now: number,
): ResolvedParams {
  const issues: FieldIssue[] = []
  const names = new Set(report.params.map((param) => param.name))
  for (const name of Object.keys(given))
    if (!names.has(name))
      issues.push({
        path: name,
        message: `is not a parameter of this report (it takes ${[...names].join(', ') || 'none'})`,
      })
  const bound: Record<string, string> = {}
  const shown: Record<string, string> = {}
  if (report.period) {
    const period = resolvePeriod(report, given, now, issues)
    if (period) {
      if (period.month !== undefined) shown.month = period.month
      bound.from = shown.from = formatUtcTime(period.from)
      bound.to = shown.to = formatUtcTime(period.to)
    }
  }
  for (const param of report.params) {
    // The period's parameters were resolved above.
    if (PERIOD_NAMES.has(param.name)) continue
    const text = valueOf(given, param.name) ?? param.default
    if (text === undefined) {
      issues.push({ path: param.name, message: `is required: ${param.help}` })
      continue
    }
    if (param.values && !param.values.includes(text)) {
      issues.push({
        path: param.name,
        message: `"${text}" is not one of ${param.values.join(', ')}`,
      })
      continue
    }
    const checked = checkerOf(param.type)!(text)
    if ('issue' in checked) issues.push({ path: param.name, message: `"${text}" ${checked.issue}` })
    else bound[param.name] = shown[param.name] = checked.value
  }
  if (issues.length > 0) throw new ReportParameterError(report.name, issues)
  return { bound, shown }
}
