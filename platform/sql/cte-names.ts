/**
 * Reads what `EXPLAIN AST` does not show from ClickHouse's own single-line rendering of a
 * statement: the names of its WITH subqueries, and whether every quoted identifier is a plain
 * name. The rendering has no comments, so a small tokenizer that knows string literals and
 * quoted identifiers is enough: text inside a literal can never pose as a name.
 */

type Token = { kind: 'word' | 'quoted' | 'punct' | 'literal'; text: string }

function tokenize(statement: string): Token[] {
  const tokens: Token[] = []
  let at = 0
  while (at < statement.length) {
    const char = statement[at]!
    if (/\s/.test(char)) {
      at++
      continue
    }
    if (char === "'" || char === '`' || char === '"') {
      let end = at + 1
      let text = ''
      while (end < statement.length) {
        const c = statement[end]!
        if (c === '\\') {
          text += statement[end + 1] ?? ''
          end += 2
          continue
        }
        if (c === char) {
          // A doubled quote is an escaped quote.
          if (statement[end + 1] === char) {
            text += char
            end += 2
            continue
          }
          break
        }
        text += c
        end++
      }
      tokens.push({ kind: char === "'" ? 'literal' : 'quoted', text })
      at = end + 1
      continue
    }
    const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(statement.slice(at))
    if (word) {
      tokens.push({ kind: 'word', text: word[0] })
      at += word[0].length
      continue
    }
    tokens.push({ kind: 'punct', text: char })
    at++
  }
  return tokens
}

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * The quoted identifiers of a statement that are not plain names (letters, digits, `_`). The
 * parse is read as text, one node a line: a name with spaces, parentheses or slashes could make
 * that text mean something else, so such names are refused outright.
 */
export function unusualIdentifiers(statement: string): string[] {
  return tokenize(statement)
    .filter((token) => token.kind === 'quoted' && !PLAIN_NAME.test(token.text))
    .map((token) => token.text)
}

const MODIFIERS = new Set(['TOTALS', 'FILL', 'TIES', 'ROLLUP', 'CUBE'])

const keyword = (token: Token | undefined, word: string) =>
  token?.kind === 'word' && token.text.toUpperCase() === word

/**
 * The names of the statement's WITH subqueries, in document order, each read from its own
 * WITH clause: `WITH name AS [MATERIALIZED] (subquery), ...` up to the SELECT the clause belongs
 * to. Scalar WITH elements (`WITH 1 AS x`) give no name. A recursive WITH is reported as such.
 */
export function withSubqueryNames(statement: string): { names: string[]; recursive: boolean } {
  const tokens = tokenize(statement)
  const names: string[] = []
  let recursive = false
  let depth = 0
  // Depths at which a WITH clause is open.
  const open: number[] = []
  let elementStart = false
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token.kind === 'punct' && token.text === '(') {
      depth++
      continue
    }
    if (token.kind === 'punct' && token.text === ')') {
      depth--
      continue
    }
    const inClause = open.length > 0 && open[open.length - 1] === depth
    // WITH TOTALS, WITH FILL, WITH TIES, WITH ROLLUP, WITH CUBE are modifiers, not clauses.
    if (keyword(token, 'WITH') && !MODIFIERS.has(tokens[i + 1]?.text.toUpperCase() ?? '')) {
      open.push(depth)
      elementStart = true
      if (keyword(tokens[i + 1], 'RECURSIVE')) recursive = true
      continue
    }
    if (inClause && keyword(token, 'SELECT')) {
      open.pop()
      elementStart = false
      continue
    }
    if (inClause && token.kind === 'punct' && token.text === ',') {
      elementStart = true
      continue
    }
    if (inClause && elementStart) {
      elementStart = false
      const as = tokens[i + 1]
      let next = i + 2
      if (keyword(tokens[next], 'MATERIALIZED')) next++
      else if (keyword(tokens[next], 'NOT') && keyword(tokens[next + 1], 'MATERIALIZED')) next += 2
      const paren = tokens[next]
      if (
        (token.kind === 'word' || token.kind === 'quoted') &&
        keyword(as, 'AS') &&
        paren?.kind === 'punct' &&
        paren.text === '('
      ) {
        names.push(token.text)
      }
    }
  }
  return { names, recursive }
}
