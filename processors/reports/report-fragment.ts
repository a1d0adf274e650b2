/**
 * Subqueries several reports share are written once, in a fragment: `sql/queries/_NAME.sql`,
 * not a report itself. The file is an optional comment, then `WITH` and the subqueries, one of
 * them named NAME. A report that declares `reads: NAME` in its header reads `FROM NAME`, and the
 * loader puts the fragment in front of its statement. A fragment is static SQL: its placeholders
 * are the report's, declared in its header, checked and bound with its own (report-definition.ts).
 *
 * Nothing here knows the file a problem belongs to: each function answers `{ issue }`, which the
 * caller turns into a ReportDefinitionError naming the file.
 */

export interface ReportFragment {
  /** `calls` for `_calls.sql`: the name reports read it by, and the subquery they read. */
  name: string
  file: string
  /** What follows its `WITH`: its subqueries, joined to a report's own by a comma. */
  subqueries: string
}

const LEADING_COMMENT = /^\s*\/\*[\s\S]*?\*\/\s*/
const LEADING_WITH = /^WITH\b/i
const LEADING_SELECT = /^SELECT\b/i

/** A subquery of that name defined by a WITH: `NAME AS (` after `WITH` or a comma. */
const defines = (sql: string, name: string): boolean =>
  new RegExp(`(?:^WITH|,)\\s*${name}\\s+AS\\s*\\(`, 'i').test(sql)

/** The statement reads a table or subquery of that name. */
const readsFrom = (sql: string, name: string): boolean =>
  new RegExp(`\\b(?:FROM|JOIN)\\s+${name}\\b`, 'i').test(sql)

/** Reads a fragment file (`file` is its name, `_` and a SQL identifier, e.g. `_calls.sql`). */
export function parseFragment(file: string, text: string): ReportFragment | { issue: string } {
  const name = file.replace(/^_/, '').replace(/\.sql$/, '')
  const sql = text.replace(LEADING_COMMENT, '').trim()
  if (!LEADING_WITH.test(sql) || !sql.endsWith(')') || !defines(sql, name))
    return {
      issue: `a fragment is WITH and its subqueries, one of them "${name} AS (...)", without a SELECT after them`,
    }
  return { name, file, subqueries: sql.slice('WITH'.length) }
}

/**
 * A report's statement as it runs: the fragments it reads (`reads`, in that order), then its own
 * subqueries in the same WITH, then its SELECT. `own` is the file's text after its header.
 */
export function withFragments(
  own: string,
  reads: readonly string[],
  fragments: ReadonlyMap<string, ReportFragment>,
): { sql: string } | { issue: string } {
  const opening: string[] = []
  for (const [i, name] of reads.entries()) {
    const fragment = fragments.get(name)
    if (!fragment) {
      const known = [...fragments.keys()].join(', ') || 'none'
      return { issue: `reads: no fragment "${name}" (the fragments are ${known})` }
    }
    if (reads.indexOf(name) !== i) return { issue: `reads: "${name}" is given twice` }
    if (!readsFrom(own, name))
      return { issue: `reads: "${name}" is declared but the statement never reads FROM ${name}` }
    opening.push(fragment.subqueries)
  }
  // Without its fragment, `FROM calls` would fail only when the report runs.
  for (const name of fragments.keys())
    if (!reads.includes(name) && readsFrom(own, name) && !defines(own, name))
      return { issue: `it reads FROM ${name} without "reads: ${name}" in its header` }
  if (opening.length === 0) return { sql: own }
  if (LEADING_WITH.test(own))
    return { sql: `WITH${[...opening, own.slice('WITH'.length)].join(',')}` }
  if (LEADING_SELECT.test(own)) return { sql: `WITH${opening.join(',')}\n${own}` }
  return { issue: 'a report that reads a fragment starts its statement with WITH or SELECT' }
}
