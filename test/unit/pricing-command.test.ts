import { describe, expect, it } from 'vitest'
import { parseAt } from '../../cli/pricing-command.ts'
import { ConfigError } from '../../platform/errors.ts'

describe('spendguard pricing --at', () => {
  it('reads a date as UTC midnight and a time without a zone as UTC, whatever the machine is set to', () => {
    expect(parseAt('2025-05-01', 0)).toBe(Date.UTC(2025, 4, 1))
    expect(parseAt('2026-01-15T16:29', 0)).toBe(Date.UTC(2026, 0, 15, 16, 29))
    expect(parseAt('2026-01-15T16:29:00+09:00', 0)).toBe(Date.UTC(2026, 0, 15, 7, 29))
    expect(parseAt(undefined, 42)).toBe(42)
    expect(() => parseAt('last tuesday', 0)).toThrow(ConfigError)
    // Forms Date.parse would read in local time are refused, not guessed.
    expect(() => parseAt('2026-01-15 09:30', 0)).toThrow(ConfigError)
    expect(() => parseAt('2026/01/15', 0)).toThrow(ConfigError)
  })
})
