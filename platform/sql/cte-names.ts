/**
 * The names of a statement's common table expressions (`WITH name AS (subquery)`), read from
 * ClickHouse's own single-line rendering of the statement, in order. `EXPLAIN AST` shows
 * where each WITH element is but not its name; its rendering `name AS (` is the only place
 * that gives it. The rendering has no comments, so a small tokenizer that knows string
 * literals and quoted identifiers is enough: text inside a literal can never pose as a name.
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

/**
 * Names written as `name AS (` in document order: WITH elements, and named windows
 * (`WINDOW w AS (...)`), which the caller tells apart by count.
 */
export function namedSubqueries(statement: string): string[] {
  const tokens = tokenize(statement)
  const names: string[] = []
  for (let i = 0; i + 2 < tokens.length; i++) {
    const [name, as, open] = [tokens[i]!, tokens[i + 1]!, tokens[i + 2]!]
    if (
      (name.kind === 'word' || name.kind === 'quoted') &&
      as.kind === 'word' &&
      as.text.toUpperCase() === 'AS' &&
      open.kind === 'punct' &&
      open.text === '('
    ) {
      names.push(name.text)
    }
  }
  return names
}
