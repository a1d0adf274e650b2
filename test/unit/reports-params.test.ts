import { describe, expect, it } from 'vitest'
import { ValidationError } from '../../platform/errors.ts'
import { parseUtcTime } from '../../processors/reports/param-types.ts'
import { parseReport } from '../../processors/reports/report-definition.ts'
import { ReportParameterError, resolveParams } from '../../processors/reports/report-params.ts'

const report = parseReport(
  'burn.sql',
  `/*
description: A report with one parameter of each kind.
period: range
params:
  scope: { type: String, values: [agent, team], help: What is counted. }
  key: { type: String, help: Which one. }
  limit: { type: UInt32, default: 20, help: How many. }
  budget_usd: { type: 'Decimal(38, 2)', default: '0', help: The budget. }
  day: { type: Date, default: '2026-01-01', help: A day. }
  at: { type: "DateTime64(3, 'UTC')", default: '2026-01-01', help: A time. }
*/
SELECT {scope:String}, {key:String}, {limit:UInt32}, {budget_usd:Decimal(38, 2)}, {day:Date},
  {at:DateTime64(3, 'UTC')}, {from:DateTime64(3, 'UTC')}, {to:DateTime64(3, 'UTC')}`,
)
const monthly = parseReport(
  'chargeback.sql',
  `/*
description: A monthly report.
period: month
*/
SELECT 1 WHERE now() >= {from:DateTime64(3, 'UTC')} AND now() < {to:DateTime64(3, 'UTC')}`,
)

const NOW = Date.parse('2026-11-24T13:55:00Z')
const REQUIRED = { scope: 'team', key: 'platform' }

function issuesOf(given: Record<string, string>, on = report, now = NOW) {
  try {
    resolveParams(on, given, now)
  } catch (error) {
    expect(error).toBeInstanceOf(ReportParameterError)
    expect(error).toBeInstanceOf(ValidationError)
    return (error as ReportParameterError).issues
  }
  throw new Error('the parameters were accepted')
}

describe('report parameters', () => {
  it('default to the current month, by the clock given, and fill in declared defaults', () => {
    expect(resolveParams(report, REQUIRED, NOW)).toEqual({
      bound: {
        from: '2026-11-01 00:00:00.000',
        to: '2026-12-01 00:00:00.000',
        scope: 'team',
        key: 'platform',
        limit: '20',
        budget_usd: '0',
        day: '2026-01-01',
        at: '2026-01-01 00:00:00.000',
      },
      shown: expect.objectContaining({ from: '2026-11-01 00:00:00.000', limit: '20' }) as unknown,
    })
    // December's next month is January of the next year.
    const december = resolveParams(report, REQUIRED, Date.parse('2026-12-31T23:59:59.999Z'))
    expect([december.bound.from, december.bound.to]).toEqual([
      '2026-12-01 00:00:00.000',
      '2027-01-01 00:00:00.000',
    ])
  })

  it('take a month, or from and to in the forms people write times', () => {
    const september = resolveParams(report, { ...REQUIRED, month: '2026-09' }, NOW)
    expect(september.bound).toMatchObject({
      from: '2026-09-01 00:00:00.000',
      to: '2026-10-01 00:00:00.000',
    })
    expect(september.shown.month).toBe('2026-09')
    const span = resolveParams(
      report,
      { ...REQUIRED, from: '2026-09-03T10:30:00+02:00', to: '2026-09-04 08:00' },
      NOW,
    )
    expect([span.bound.from, span.bound.to]).toEqual([
      '2026-09-03 08:30:00.000',
      '2026-09-04 08:00:00.000',
    ])
    expect(resolveParams(monthly, { month: '2026-02' }, NOW).bound).toEqual({
      from: '2026-02-01 00:00:00.000',
      to: '2026-03-01 00:00:00.000',
    })
  })

  it('check each value against its declared type and report every bad one by name', () => {
    expect(
      issuesOf({
        scope: 'user',
        limit: '-3',
        budget_usd: '12.345',
        day: '2026-02-30',
        at: 'yesterday',
        colour: 'blue',
      }),
    ).toEqual([
      {
        path: 'colour',
        message: expect.stringMatching(/is not a parameter of this report/) as string,
      },
      { path: 'scope', message: '"user" is not one of agent, team' },
      { path: 'key', message: 'is required: Which one.' },
      { path: 'limit', message: '"-3" is not a whole number of 0 or more' },
      { path: 'budget_usd', message: '"12.345" has more than 2 decimal places' },
      { path: 'day', message: '"2026-02-30" is not a date (YYYY-MM-DD)' },
      {
        path: 'at',
        message: expect.stringMatching(/^"yesterday" is not a UTC date or time/) as string,
      },
    ])
    expect(issuesOf({ ...REQUIRED, limit: '4294967296' })).toEqual([
      { path: 'limit', message: '"4294967296" is out of range (0 to 4294967295)' },
    ])
  })

  it('refuse a period that is not one: a bad month, a month with from, an end before the start', () => {
    expect(issuesOf({ ...REQUIRED, month: '2026-13' })).toEqual([
      { path: 'month', message: '"2026-13" is not a month (YYYY-MM, e.g. 2026-09)' },
    ])
    expect(issuesOf({ ...REQUIRED, month: '2026-09', from: '2026-09-02' })).toEqual([
      { path: 'month', message: 'give either month or from/to, not both' },
    ])
    expect(issuesOf({ ...REQUIRED, from: '2026-09-02', to: '2026-09-02' })).toEqual([
      { path: 'to', message: 'must be later than from (2026-09-02 00:00:00.000)' },
    ])
    expect(issuesOf({}, monthly)).toEqual([
      { path: 'month', message: 'is required (YYYY-MM, e.g. 2026-09)' },
    ])
  })

  it('name the parameter in the error message, and take only the caller’s own keys', () => {
    expect(() => resolveParams(monthly, { month: 'sept' }, NOW)).toThrow(
      'report chargeback: month: "sept" is not a month (YYYY-MM, e.g. 2026-09)',
    )
    // `constructor` is on every object's prototype; only given keys are parameters.
    expect(issuesOf({ ...REQUIRED, constructor: 'x' })).toEqual([
      { path: 'constructor', message: expect.stringMatching(/is not a parameter/) as string },
    ])
  })

  it('read times as UTC unless an offset is given, and refuse days that do not exist', () => {
    expect(parseUtcTime('2026-09-01')).toBe(Date.parse('2026-09-01T00:00:00Z'))
    expect(parseUtcTime('2026-09-01T23:59:59.5Z')).toBe(Date.parse('2026-09-01T23:59:59.500Z'))
    expect(parseUtcTime('2026-09-01T01:00:00-02:30')).toBe(Date.parse('2026-09-01T03:30:00Z'))
    for (const bad of ['2026-02-29', '2026-09-01 24:00', '2026-9-1', '2026-09-01T10:00:00.1234Z'])
      expect(parseUtcTime(bad)).toBeUndefined()
  })
})
