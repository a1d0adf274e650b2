/**
 * ClickHouse's own parse of a statement, read from `EXPLAIN AST` in TabSeparated form: one node
 * per line, indented by one space per level, `Type [name] [(alias a)] [(children N)]`.
 * Read-only checks walk this tree instead of matching the statement's text.
 */
export interface AstNode {
  /** The parser's node type: `SelectQuery`, `Function`, `TableIdentifier`, `Literal`, ... */
  type: string
  /**
   * What follows the type on its line up to an alias (a function or table name, a literal).
   * An alias is cut at its first ` (alias `: names the rules look at never contain that text,
   * and one that seems to is refused by the rules' allow-lists, not trusted.
   */
  name: string
  children: AstNode[]
}

const TSV_ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  b: '\b',
  f: '\f',
  '0': '\0',
}

/** Undoes TabSeparated escaping of one field. */
function unescapeTsv(field: string): string {
  return field.replace(/\\(.)/g, (_, char: string) => TSV_ESCAPES[char] ?? char)
}

function parseLine(text: string): { type: string; name: string } {
  const withoutCount = text.replace(/ \(children \d+\)$/, '')
  // The last marker is the alias: a name could only hold one if it were quoted, and the rules
  // refuse quoted names that are not plain before they read this.
  const alias = withoutCount.lastIndexOf(' (alias ')
  const head = alias === -1 ? withoutCount : withoutCount.slice(0, alias)
  const space = head.indexOf(' ')
  if (space === -1) return { type: head, name: '' }
  return { type: head.slice(0, space), name: head.slice(space + 1) }
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

/** Every node in document order (parent before children). */
export function* preOrder(node: AstNode): Generator<AstNode> {
  yield node
  for (const child of node.children) yield* preOrder(child)
}
