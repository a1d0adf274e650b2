import { describe, expect, it } from 'vitest'
import {
  checkStatement,
  deniedFunctionNames,
  RefusedStatement,
} from '../../platform/sql/read-only-rules.ts'
import { parseAstDump } from '../../platform/sql/statement-ast.ts'

// EXPLAIN AST dumps as ClickHouse prints them in TabSeparated (captured from chDB 26.7).
const dump = (lines: string[]) => lines.join('\n') + '\n'
const context = {
  database: 'default',
  tables: new Set(['llm_calls', 'llm_calls_daily']),
  deniedFunctions: deniedFunctionNames(['newFancyLake']),
}

describe('read-only rules over the parse of a statement', () => {
  it('reads the tree, aliases and names included', () => {
    const root = parseAstDump(
      dump([
        'SelectWithUnionQuery (children 1)',
        ' ExpressionList (children 1)',
        '  SelectQuery (children 1)',
        '   ExpressionList (children 2)',
        '    Literal UInt64_1 (alias a)',
        "    Literal \\'x\\\\ty\\'",
      ]),
    )
    const literals = root.children[0]!.children[0]!.children[0]!.children
    expect(literals.map((n) => [n.type, n.name])).toEqual([
      ['Literal', 'UInt64_1'],
      ['Literal', "'x\\ty'"],
    ])
  })

  it('passes a select of SpendGuard tables with a FORMAT, and reports the format', () => {
    const root = parseAstDump(
      dump([
        'SelectWithUnionQuery (children 2)',
        ' ExpressionList (children 1)',
        '  SelectQuery (children 2)',
        '   ExpressionList (children 1)',
        '    Asterisk',
        '   TablesInSelectQuery (children 1)',
        '    TablesInSelectQueryElement (children 1)',
        '     TableExpression (children 1)',
        '      TableIdentifier default.llm_calls',
        ' Identifier CSV',
      ]),
    )
    expect(checkStatement(root, 'SELECT * FROM default.llm_calls FORMAT CSV', context)).toEqual({
      format: 'CSV',
    })
  })

  it.each([
    [
      'an output file',
      ['SelectWithUnionQuery (children 2)', ' ExpressionList', " Literal \\'/tmp/x\\'"],
      /INTO OUTFILE/,
    ],
    [
      'a table function the engine added',
      [
        'SelectWithUnionQuery (children 1)',
        ' ExpressionList (children 1)',
        '  SelectQuery (children 1)',
        '   ExpressionList (children 1)',
        '    Function in (children 1)',
        '     ExpressionList (children 2)',
        '      Identifier a',
        '      Function newFancyLake',
      ],
      /newFancyLake/,
    ],
    ['a write', ['InsertQuery (children 1)', ' Identifier llm_calls'], /not INSERT/],
    [
      'a function hidden behind an alias with parentheses',
      [
        'SelectWithUnionQuery (children 1)',
        ' ExpressionList (children 1)',
        '  SelectQuery (children 1)',
        '   ExpressionList (children 1)',
        '    Function file (alias a(b)) (children 1)',
        '     ExpressionList (children 1)',
        "      Literal \\'/etc/passwd\\'",
      ],
      /function "file" is not allowed/,
    ],
    [
      'a path posing as a table',
      [
        'SelectWithUnionQuery (children 1)',
        ' ExpressionList (children 1)',
        '  SelectQuery (children 2)',
        '   ExpressionList (children 1)',
        '    Asterisk',
        '   TablesInSelectQuery (children 1)',
        '    TablesInSelectQueryElement (children 1)',
        '     TableExpression (children 1)',
        '      TableIdentifier /etc/passwd',
      ],
      /only SpendGuard's own tables/,
    ],
    [
      'a plain SHOW DATABASES-like listing with a source',
      ['ShowTables (children 1)', ' Identifier system'],
      /plain SHOW TABLES/,
    ],
  ])('refuses %s', (_name, lines, message) => {
    const check = () => checkStatement(parseAstDump(dump(lines)), 'SELECT 1', context)
    expect(check).toThrow(RefusedStatement)
    expect(check).toThrow(message)
  })
})
