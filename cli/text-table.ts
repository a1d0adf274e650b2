/**
 * Makes text from the data safe for a terminal: control characters (escape sequences that
 * could move the cursor, rewrite earlier lines or set the window title) are shown as `\xNN`
 * or `\uNNNN` instead of being sent to the terminal.
 */
export function escapeControlCharacters(
  text: string,
  options: { keepNewlines?: boolean } = {},
): string {
  // C0 controls, DEL, C1 controls, and the bidirectional overrides that reorder what is shown.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (char) => {
    if (options.keepNewlines && (char === '\n' || char === '\t')) return char
    const code = char.charCodeAt(0)
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** Renders rows as an aligned plain-text table for terminal output, control characters escaped. */
export function renderTable(
  columns: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<unknown>>,
): string {
  const cell = (value: unknown): string => {
    if (value === null || value === undefined) return 'NULL'
    if (typeof value === 'string') return escapeControlCharacters(value)
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
      return value.toString()
    return escapeControlCharacters(JSON.stringify(value))
  }
  const header = columns.map((name) => escapeControlCharacters(name))
  const text = rows.map((row) => columns.map((_, i) => cell(row[i])))
  const widths = header.map((name, i) =>
    Math.max(name.length, ...text.map((row) => row[i]!.length)),
  )
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n') + '\n'
}
