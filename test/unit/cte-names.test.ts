import { describe, expect, it } from 'vitest'
import { unusualIdentifiers, withSubqueryNames } from '../../platform/sql/cte-names.ts'

// Statements as ClickHouse renders them with formatQuerySingleLine.
describe('WITH names from the rendering of a statement', () => {
  it('reads each WITH clause, nested ones in document order, and skips scalar elements', () => {
    expect(
      withSubqueryNames(
        'WITH 5 AS k, a AS (WITH b AS (SELECT 1) SELECT * FROM b), c AS MATERIALIZED (SELECT 2) SELECT * FROM a, c',
      ),
    ).toEqual({ names: ['a', 'b', 'c'], recursive: false })
  })

  it('is not misled by named windows, INTERPOLATE, WITH TOTALS or text inside literals', () => {
    expect(
      withSubqueryNames(
        "WITH a AS (SELECT 'WITH x AS (' AS s) SELECT s, count() OVER w FROM a GROUP BY s WITH TOTALS WINDOW w AS (), v AS () ORDER BY s WITH FILL INTERPOLATE (y AS (1))",
      ),
    ).toEqual({ names: ['a'], recursive: false })
  })

  it('reports WITH RECURSIVE', () => {
    expect(withSubqueryNames('WITH RECURSIVE t AS (SELECT 1) SELECT * FROM t').recursive).toBe(true)
  })

  it('lists quoted names that are not plain', () => {
    expect(
      unusualIdentifiers(
        "SELECT `ok_name`, 'not (alias x)' FROM `llm_calls (alias x)/../etc/passwd` AS `a b`",
      ),
    ).toEqual(['llm_calls (alias x)/../etc/passwd', 'a b'])
  })
})
