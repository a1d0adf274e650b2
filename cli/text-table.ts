/** Renders rows as an aligned plain-text table for terminal output. */
export function renderTable(
  columns: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
): string {
  const cell = (value: unknown): string => {
    if (value === null || value === undefined) return 'NULL'
    if (typeof value === 'string') return value
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
      return value.toString()
    return JSON.stringify(value)
  }
  const text = rows.map((row) => columns.map((_, i) => cell(row[i])))
  const widths = columns.map((name, i) =>
    Math.max(name.length, ...text.map((row) => row[i]!.length)),
  )
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return (
    [line(columns), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n') + '\n'
  )
}
