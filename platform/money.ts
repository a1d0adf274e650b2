/**
 * Exact money. Amounts are integer femto-USD (1e-15 USD) held in a bigint.
 *
 * Why femto and not nano: catalog rates are quoted in USD per million tokens with up to
 * nine decimals (Gemini 2.5 Flash cache reads are $0.0375 / 1M, i.e. 3.75e-8 USD per
 * token), so one token can cost a fraction of a nano-dollar. A rate held as integer
 * nano-USD per million tokens times a token count is an integer number of femto-USD, so
 * every cost is exact without any rounding step. See docs/adr/0003-money.md.
 */
export type Femtos = bigint

export const FEMTOS_PER_USD = 10n ** 15n
export const FEMTO_DECIMALS = 15
export const NANOS_PER_USD = 10n ** 9n

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/

/**
 * Parses a decimal USD string ("1260", "0.0375", "-2.5") into femto-USD.
 * Throws when the text is not a plain decimal or has more precision than a femto-dollar.
 */
export function parseUsd(text: string): Femtos {
  return parseScaled(text.trim(), FEMTO_DECIMALS, 'USD amount')
}

/** Parses a decimal string into an integer scaled by 10^decimals, refusing lost precision. */
export function parseScaled(text: string, decimals: number, what = 'decimal'): bigint {
  const match = DECIMAL.exec(text)
  if (!match) throw new RangeError(`${what} "${text}" is not a plain decimal number`)
  const [, sign, whole = '0', fraction = ''] = match
  const trimmed = fraction.replace(/0+$/, '')
  if (trimmed.length > decimals) {
    throw new RangeError(`${what} "${text}" has more than ${decimals} decimal places`)
  }
  const value = BigInt(whole + trimmed.padEnd(decimals, '0'))
  return sign ? -value : value
}

/** Formats an integer scaled by 10^decimals as the shortest exact decimal string. */
export function formatScaled(value: bigint, decimals: number): string {
  const negative = value < 0n
  const digits = (negative ? -value : value).toString().padStart(decimals + 1, '0')
  const whole = digits.slice(0, digits.length - decimals)
  const fraction = digits.slice(digits.length - decimals).replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Femto-USD as the shortest exact decimal USD string: 1260000000000000000n -> "1260". */
export function formatUsd(amount: Femtos): string {
  // Amounts under about $9 (every single call) take integer arithmetic, not bigint strings.
  if (amount >= 0n && amount <= MAX_SAFE) return formatSafeFemtos(Number(amount))
  return formatScaled(amount, FEMTO_DECIMALS)
}

function formatSafeFemtos(femtos: number): string {
  let whole = Math.floor(femtos / 1e15)
  let fraction = femtos - whole * 1e15
  // The division is rounded; the remainder says which way.
  if (fraction < 0) {
    whole--
    fraction += 1e15
  } else if (fraction >= 1e15) {
    whole++
    fraction -= 1e15
  }
  if (fraction === 0) return String(whole)
  let digits = FEMTO_DECIMALS
  while (fraction % 10 === 0) {
    fraction /= 10
    digits--
  }
  return `${whole}.${String(fraction).padStart(digits, '0')}`
}

/**
 * Converts a JavaScript number that came from JSON (such as 2.5e-06 in a public price list)
 * into the decimal string its author wrote, using the shortest round-trip representation.
 */
export function numberToDecimalString(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`${value} is not a finite number`)
  const text = String(value)
  const exp = /^(-)?(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text)
  if (!exp) return text
  const [, sign = '', whole = '', fraction = '', power = '0'] = exp
  const digits = whole + fraction
  const point = whole.length + Number(power)
  let result: string
  if (point <= 0) result = `0.${'0'.repeat(-point)}${digits}`
  else if (point >= digits.length) result = digits + '0'.repeat(point - digits.length)
  else result = `${digits.slice(0, point)}.${digits.slice(point)}`
  return sign + result
}
