import { describe, expect, it } from 'vitest'
import {
  FEMTOS_PER_USD,
  formatScaled,
  formatUsd,
  numberToDecimalString,
  parseScaled,
  parseUsd,
} from '../../platform/money.ts'

describe('parseUsd and formatUsd', () => {
  it.each([
    ['1260', 1_260n * FEMTOS_PER_USD],
    ['0.0000375', 37_500_000_000n],
    ['0.000000000000001', 1n],
    ['-2.5', -2_500_000_000_000_000n],
    ['0', 0n],
    ['123456789.123456789012345', 123_456_789_123_456_789_012_345n],
  ])('"%s" is %s femto-USD and formats back to itself', (text, femtos) => {
    expect(parseUsd(text)).toBe(femtos)
    expect(formatUsd(femtos)).toBe(text)
  })

  it('formats the shortest exact decimal: no trailing zeros, no trailing point', () => {
    expect(formatUsd(parseUsd('1260.00'))).toBe('1260')
    expect(formatUsd(parseUsd('0.0000375000'))).toBe('0.0000375')
    expect(formatUsd(parseUsd('007.50'))).toBe('7.5')
    expect(formatUsd(parseUsd('-0'))).toBe('0')
    expect(formatUsd(-1n)).toBe('-0.000000000000001')
  })

  it('round-trips amounts beyond 2^53 femto-USD exactly', () => {
    const total = 14_000n * parseUsd('0.09')
    expect(total > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true)
    expect(formatUsd(total)).toBe('1260')
    expect(parseUsd(formatUsd(total + 1n))).toBe(total + 1n)
  })

  it('refuses more precision than a femto-dollar, trailing zeros aside', () => {
    expect(() => parseUsd('0.0000000000000001')).toThrow(/more than 15 decimal places/)
    expect(() => parseUsd('1.1234567890123456')).toThrow(RangeError)
    expect(parseUsd('0.0000000000000010')).toBe(1n)
  })

  it.each(['', '1e3', '.5', '5.', '+1', '1,5', '0x10', 'NaN', 'Infinity', '1_000', '$5', '1 000'])(
    'refuses "%s", which is not a plain decimal',
    (text) => {
      expect(() => parseUsd(text)).toThrow(/not a plain decimal/)
    },
  )
})

describe('parseScaled and formatScaled', () => {
  it('scale by any number of decimals', () => {
    expect(parseScaled('30.00', 9)).toBe(30_000_000_000n)
    expect(formatScaled(37_500_000n, 9)).toBe('0.0375')
    expect(formatScaled(5n, 0)).toBe('5')
    expect(() => parseScaled('1.5', 0)).toThrow(RangeError)
  })
})

describe('numberToDecimalString', () => {
  it.each<[number, string]>([
    [2.5e-6, '0.0000025'],
    [1e-5, '0.00001'],
    [1.25e-6, '0.00000125'],
    [3.75e-8, '0.0000000375'],
    [1.23e-16, '0.000000000000000123'],
    [-2.5e-6, '-0.0000025'],
    [1e21, '1000000000000000000000'],
    [1.5e21, '1500000000000000000000'],
    [0.1, '0.1'],
    [123.456, '123.456'],
    [0, '0'],
    [-0, '0'],
  ])('%s -> "%s"', (value, text) => {
    expect(numberToDecimalString(value)).toBe(text)
  })

  it('gives the decimal a public price list meant, exactly', () => {
    expect(parseUsd(numberToDecimalString(2.5e-6))).toBe(2_500_000_000n)
    expect(parseUsd(numberToDecimalString(0.00003))).toBe(30_000_000_000n)
  })

  it('refuses NaN and infinities', () => {
    expect(() => numberToDecimalString(Number.NaN)).toThrow(RangeError)
    expect(() => numberToDecimalString(Number.POSITIVE_INFINITY)).toThrow(RangeError)
  })
})

describe('formatUsd fast path', () => {
  it('writes what the general bigint formatter writes, on generated amounts', () => {
    let seed = 1
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
    const amounts = [
      0n,
      1n,
      FEMTOS_PER_USD - 1n,
      FEMTOS_PER_USD,
      9007199254740991n,
      9007199254740992n,
    ]
    for (let i = 0; i < 50_000; i++)
      amounts.push(
        BigInt(Math.floor(random() * 2 ** 31)) * BigInt(Math.floor(random() * 2 ** 22)) +
          BigInt(Math.floor(random() * 1000)),
      )
    for (const amount of amounts) expect(formatUsd(amount)).toBe(formatScaled(amount, 15))
  })
})
