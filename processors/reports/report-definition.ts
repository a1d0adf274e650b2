import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { SpendGuardError } from '../../platform/errors.ts'
import { checkerOf } from './param-types.ts'
import { withFragments, type ReportFragment } from './report-fragment.ts'

/**
 * A named report is one read-only statement in `sql/queries/NAME.sql`. The file opens with a
 * block comment holding YAML: `description`, an optional `period`, optional `reads` and
 * `params`, each parameter with its ClickHouse `type`, an optional `default` (none: required),
 * optional `values` and a `help` line (docs/reports.md shows one). The statement binds them as
 * `{name:Type}`.
 *
 * `period: range` adds `from`, `to` and `month`; `period: month` adds a required `month`. Both
 * bind `{from:DateTime64(3, 'UTC')}` and `{to:DateTime64(3, 'UTC')}` (see report-params.ts).
 *
 * `reads: calls` puts the fragment `sql/queries/_calls.sql` in front of the statement (see
 * report-fragment.ts): the subqueries several reports share are written once. The checks of the
 * placeholders see the whole statement, the fragments' placeholders included.
 */

/** The type of the `from` and `to` placeholders a period binds. */
export const PERIOD_TYPE = "DateTime64(3, 'UTC')"

/** A report or fragment file that cannot be used: its header, its statement or its placeholders. */
export class ReportDefinitionError extends SpendGuardError {
  constructor(file: string, message: string) {
    super(`report ${file}: ${message}`, { code: 'REPORT_INVALID', retriable: false })
  }
}

/** No report of that name. */
export class ReportNotFoundError extends SpendGuardError {
  constructor(name: string, known: readonly string[]) {
    super(`no report named "${name}"; the reports are ${known.join(', ')}`, {
      code: 'REPORT_NOT_FOUND',
      retriable: false,
    })
  }
}

export interface ReportParam {
  name: string
  /** The ClickHouse type of its placeholder (or `YYYY-MM` for a period's month). */
  type: string
  /** The value used when none is given; absent for a required parameter. */
  default?: string
  required: boolean
  /** The only values allowed, when the header lists them. */
  values?: readonly string[]
  help: string
}

export interface ReportDefinition {
  name: string
  description: string
  /** range: a month or from/to (default the current month); month: a required month. */
  period?: 'range' | 'month'
  /** The declared parameters, the period's first. */
  params: readonly ReportParam[]
  /** The fragments it reads, in the order they open its statement. */
  reads: readonly string[]
  /** The statement as it runs: the fragments it reads, then the file's own text after its header. */
  sql: string
  /** The placeholders of the statement with their types. */
  placeholders: ReadonlyMap<string, string>
}

const paramSchema = z.strictObject({
  type: z.string().min(1),
  // YAML reads `default: 20` as a number: a default is the text a caller would pass.
  default: z.union([z.string(), z.number()]).transform(String).optional(),
  values: z.array(z.string().min(1)).min(1).optional(),
  help: z.string().min(1),
})

/** Names a period defines, and `format`, which the HTTP API reads as the output format. */
const RESERVED = new Set(['from', 'to', 'month', 'format'])

const headerSchema = z.strictObject({
  description: z.string().min(1),
  period: z.enum(['range', 'month']).optional(),
  // `reads: calls` or `reads: [calls, other]`.
  reads: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
    .optional()
    .transform((reads) => (reads === undefined ? [] : typeof reads === 'string' ? [reads] : reads)),
  // `params:` with nothing under it reads as null in YAML: no parameters.
  params: z
    .record(z.string(), paramSchema)
    .nullish()
    .transform((params) => params ?? {}),
})

const PARAM_NAME = /^[a-z][a-z0-9_]*$/

/** `DateTime64(3,'UTC')` and `DateTime64(3, 'UTC')` are one type. */
const normalType = (type: string): string =>
  type
    .trim()
    .replace(/\s+/g, ' ')
    .replace(/\s*,\s*/g, ', ')
    .replace(/\(\s+|\s+\)/g, (m) => m.trim())

const HEADER = /^\s*\/\*([\s\S]*?)\*\/\s*/
const PLACEHOLDER = /\{\s*(\w+)\s*:\s*([^{}]+?)\s*\}/g

/** The `{name:Type}` placeholders of a statement, each with its one type. */
function placeholdersOf(file: string, sql: string): Map<string, string> {
  const found = new Map<string, string>()
  for (const [, name, type] of sql.matchAll(PLACEHOLDER)) {
    const normal = normalType(type!)
    const earlier = found.get(name!)
    if (earlier !== undefined && earlier !== normal)
      throw new ReportDefinitionError(file, `{${name}} is used as ${earlier} and as ${normal}`)
    found.set(name!, normal)
  }
  return found
}

function periodParams(period: 'range' | 'month'): ReportParam[] {
  const month: ReportParam = {
    name: 'month',
    type: 'YYYY-MM',
    required: period === 'month',
    help:
      period === 'month'
        ? 'The calendar month (UTC), e.g. 2026-09.'
        : 'A calendar month (UTC), e.g. 2026-09, instead of from and to.',
  }
  if (period === 'month') return [month]
  return [
    month,
    {
      name: 'from',
      type: PERIOD_TYPE,
      required: false,
      help: 'Start of the period (inclusive), UTC: 2026-09-01, 2026-09-01 08:00 or ISO 8601; default: the start of the current month.',
    },
    {
      name: 'to',
      type: PERIOD_TYPE,
      required: false,
      help: 'End of the period (exclusive); default: the start of the next month.',
    },
  ]
}

/**
 * Reads a report file (`file` is its name, e.g. `spend-by-team.sql`); `fragments` are the ones
 * its header may read, by name.
 */
export function parseReport(
  file: string,
  text: string,
  fragments: ReadonlyMap<string, ReportFragment> = new Map(),
): ReportDefinition {
  const header = HEADER.exec(text)
  if (!header) throw new ReportDefinitionError(file, 'it must start with a /* ... */ block of YAML')
  let document: unknown
  try {
    document = parseYaml(header[1]!)
  } catch (error) {
    throw new ReportDefinitionError(file, `its header is not YAML: ${(error as Error).message}`)
  }
  const parsed = headerSchema.safeParse(document)
  if (!parsed.success) {
    const detail = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(header)'}: ${issue.message}`)
      .join('; ')
    throw new ReportDefinitionError(file, `its header is invalid: ${detail}`)
  }
  const { description, period, reads, params } = parsed.data
  for (const name of Object.keys(params)) {
    if (!PARAM_NAME.test(name))
      throw new ReportDefinitionError(
        file,
        `params.${name}: a parameter name is lower-case letters, digits and _`,
      )
    if (RESERVED.has(name))
      throw new ReportDefinitionError(
        file,
        `params.${name}: is reserved (from, to and month come with a period; format picks the output)`,
      )
  }
  const own = text.slice(header[0].length).trim()
  const composed = withFragments(own, reads, fragments)
  if ('issue' in composed) throw new ReportDefinitionError(file, composed.issue)
  const { sql } = composed
  const declared: ReportParam[] = Object.entries(params).map(([name, param]) => ({
    name,
    type: normalType(param.type),
    required: param.default === undefined,
    ...(param.default === undefined ? {} : { default: param.default }),
    ...(param.values === undefined ? {} : { values: param.values }),
    help: param.help,
  }))
  const all = [...(period ? periodParams(period) : []), ...declared]
  const placeholders = placeholdersOf(file, sql)
  /** Which fragment holds a placeholder the file's own text does not, for the messages. */
  const origin = (name: string): string => {
    if (placeholdersOf(file, own).has(name)) return ''
    const fragment = reads
      .map((read) => fragments.get(read)!)
      .find((f) => placeholdersOf(f.file, f.subqueries).has(name))
    return fragment ? ` (${fragment.file}, which it reads, uses it)` : ''
  }
  // What the statement binds must be what the header declares, type for type.
  const expected = new Map(declared.map((param) => [param.name, param.type]))
  if (period) {
    expected.set('from', PERIOD_TYPE)
    expected.set('to', PERIOD_TYPE)
  }
  for (const [name, type] of placeholders) {
    const declaredType = expected.get(name)
    if (declaredType === undefined)
      throw new ReportDefinitionError(
        file,
        `{${name}:${type}} is not declared in its header${origin(name)}`,
      )
    if (declaredType !== type)
      throw new ReportDefinitionError(
        file,
        `{${name}} is declared as ${declaredType} but used as ${type}${origin(name)}`,
      )
  }
  for (const name of expected.keys())
    if (!placeholders.has(name))
      throw new ReportDefinitionError(file, `"${name}" is declared but the statement never uses it`)
  for (const param of declared) {
    // Refuses types no checker knows, and defaults or values that their own checker refuses.
    const check = checkerOf(param.type)
    if (!check) throw new ReportDefinitionError(file, `${param.name}: no support for ${param.type}`)
    for (const value of [
      ...(param.values ?? []),
      ...(param.default === undefined ? [] : [param.default]),
    ]) {
      const issue = check(value)
      if ('issue' in issue)
        throw new ReportDefinitionError(file, `${param.name}: "${value}" ${issue.issue}`)
    }
  }
  return {
    name: file.replace(/\.sql$/, ''),
    description: description.trim().replace(/\s+/g, ' '),
    ...(period ? { period } : {}),
    params: all,
    reads,
    sql,
    placeholders,
  }
}
