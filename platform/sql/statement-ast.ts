/**
 * ClickHouse's own parse of a statement, read from `EXPLAIN AST` in TabSeparated form: one node
 * per line, indented by one space per level, `Type [name] [(alias a)] [(children N)]`.
 * Read-only checks walk this tree instead of matching the statement's text.
 */
export interface AstNode {
  /** The parser's node type: `SelectQuery`, `Function`, `TableIdentifier`, `Literal`, ... */
  type: string
  /** What follows the type on its line (a function or table name, a literal), alias removed. */
  name: string
  children: AstNode[]
}

/** Undoes TabSeparated escaping of one field. */
function unescapeTsv(field: string): string {
  return field.replace(/\\(.)/g, (_, char: string) => {
    const escapes: Record<string, string> = {
      n: '\n',
      t: '\t',
      r: '\r',
      b: '\b',
      f: '\f',
      '0': '\0',
    }
    return escapes[char] ?? char
  })
}

function parseLine(text: string): { type: string; name: string } {
  const withoutCount = text.replace(/ \(children \d+\)$/, '')
  const withoutAlias = withoutCount.replace(/ \(alias [^()]*\)$/, '')
  const space = withoutAlias.indexOf(' ')
  if (space === -1) return { type: withoutAlias, name: '' }
  return { type: withoutAlias.slice(0, space), name: withoutAlias.slice(space + 1).trim() }
}

/**
 * Builds the tree from the lines of `EXPLAIN AST ... FORMAT TabSeparated`. Throws when the
 * dump does not have exactly one root, which would mean it was not the parse of one statement.
 */
export function parseAstDump(dump: string): AstNode {
  const roots: AstNode[] = []
  const stack: Array<{ depth: number; node: AstNode }> = []
  for (const raw of dump.split('\n')) {
    if (raw === '') continue
    const line = unescapeTsv(raw)
    const depth = line.length - line.trimStart().length
    const node: AstNode = { ...parseLine(line.trimStart()), children: [] }
    while (stack.length > 0 && stack[stack.length - 1]!.depth >= depth) stack.pop()
    const parent = stack[stack.length - 1]
    if (parent) parent.node.children.push(node)
    else roots.push(node)
    stack.push({ depth, node })
  }
  if (roots.length !== 1) throw new Error(`expected one statement, the parse has ${roots.length}`)
  return roots[0]!
}
