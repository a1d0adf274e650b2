/**
 * The parameter types reports may declare, each with a check of the text a caller passes. A
 * value is refused here, naming what was expected, before any query runs; what passes is sent
 * to the engine as a bound value (never spliced into the statement), in a form it parses.
 */

export type Checked = { value: string } | { issue: string }
export type Checker = (text: string) => Checked

const INTEGER = /^(U?)Int(8|16|32|64)$/
const DECIMAL = /^Decimal\((\d+), (\d+)\)$/
const TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:\d{2})?$/

const pad = (value: number, width = 2) => String(value).padStart(width, '0')

/** Epoch ms as ClickHouse reads a DateTime64(3, 'UTC') value: `2026-09-01 00:00:00.000`. */
export function formatUtcTime(ms: number): string {
  const d = new Date(ms)
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`
  )
}

/**
 * A date (`2026-09-01`, midnight UTC) or a time (`2026-09-01 08:30`, `2026-09-01T08:30:00.250Z`,
 * `2026-09-01T10:30:00+02:00`; UTC when no offset is given) as epoch ms; undefined when the
 * text is neither or names a day that does not exist.
 */
export function parseUtcTime(text: string): number | undefined {
  const match = TIME.exec(text.trim())
  if (!match) return undefined
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '0', zone = 'Z'] = match
  const parts = [y, mo, d, h, mi, s].map(Number) as [number, number, number, number, number, number]
  const [year, month, day, hour, minute, second] = parts
  const ms = Number(fraction.padEnd(3, '0'))
  const local = Date.UTC(year, month - 1, day, hour, minute, second, ms)
  const check = new Date(local)
  // Date.UTC rolls 2026-02-30 over into March: a day or time out of range is refused instead.
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    return undefined
  if (zone === 'Z') return local
  const sign = zone.startsWith('-') ? -1 : 1
  const offset = (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000
  return local - sign * offset
}

/** `2026-09` as the epoch ms of its first instant, UTC; undefined when it is no month. */
export function parseMonth(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})$/.exec(text.trim())
  if (!match) return undefined
  const month = Number(match[2])
  if (month < 1 || month > 12) return undefined
  return Date.UTC(Number(match[1]), month - 1, 1)
}

/** The first instant of the month after the one `ms` falls in. */
export function nextMonthStart(ms: number): number {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)
}

/** The first instant of the month `ms` falls in. */
export function monthStartOf(ms: number): number {
  const d = new Date(ms)
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1)
}

function integerChecker(unsigned: boolean, bits: number): Checker {
  const max = unsigned ? 2n ** BigInt(bits) - 1n : 2n ** BigInt(bits - 1) - 1n
  const min = unsigned ? 0n : -(2n ** BigInt(bits - 1))
  return (text) => {
    if (!(unsigned ? /^\d+$/ : /^-?\d+$/).test(text))
      return { issue: `is not ${unsigned ? 'a whole number of 0 or more' : 'a whole number'}` }
    const value = BigInt(text)
    if (value < min || value > max) return { issue: `is out of range (${min} to ${max})` }
    return { value: value.toString() }
  }
}

function decimalChecker(precision: number, scale: number): Checker {
  return (text) => {
    const match = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text)
    if (!match) return { issue: 'is not a decimal number such as 500 or 12.5' }
    const whole = match[2]!.replace(/^0+(?=\d)/, '')
    const fraction = (match[3] ?? '').replace(/0+$/, '')
    if (fraction.length > scale) return { issue: `has more than ${scale} decimal places` }
    if (whole.length > precision - scale)
      return { issue: `has more than ${precision - scale} digits before the point` }
    return { value: `${match[1]}${whole}${fraction ? `.${fraction}` : ''}` }
  }
}

const checkString: Checker = (text) => ({ value: text })

const checkDate: Checker = (text) => {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? parseUtcTime(text) : undefined
  return ms === undefined
    ? { issue: 'is not a date (YYYY-MM-DD)' }
    : { value: formatUtcTime(ms).slice(0, 10) }
}

const checkTime: Checker = (text) => {
  const ms = parseUtcTime(text)
  return ms === undefined
    ? { issue: 'is not a UTC date or time (2026-09-01, 2026-09-01 08:30:00, or ISO 8601)' }
    : { value: formatUtcTime(ms) }
}

/** The check of a declared type; undefined for a type reports may not declare. */
export function checkerOf(type: string): Checker | undefined {
  if (type === 'String') return checkString
  if (type === 'Date') return checkDate
  if (type === "DateTime64(3, 'UTC')") return checkTime
  const integer = INTEGER.exec(type)
  if (integer) return integerChecker(integer[1] === 'U', Number(integer[2]))
  const decimal = DECIMAL.exec(type)
  if (decimal) {
    const [precision, scale] = [Number(decimal[1]), Number(decimal[2])]
    if (scale <= precision && precision <= 76) return decimalChecker(precision, scale)
  }
  return undefined
}
