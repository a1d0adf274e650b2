import { describe, expect, it } from 'vitest'
import { escapeControlCharacters, renderTable } from '../../cli/text-table.ts'

describe('terminal output of data', () => {
  it('shows escape sequences and other control characters instead of sending them', () => {
    const hostile = 'agent\u001b[2J\u001b]0;pwned\u0007\r\u202eevil'
    const table = renderTable(['agent_id'], [[hostile]])
    // eslint-disable-next-line no-control-regex -- asserting that none reach the terminal
    expect(table).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f\u202e]/)
    expect(table).toContain('agent\\x1b[2J\\x1b]0;pwned\\x07\\x0d\\u202eevil')
  })

  it('keeps newlines and tabs where the output is line-oriented text', () => {
    expect(escapeControlCharacters('a\tb\nc\u001bd', { keepNewlines: true })).toBe('a\tb\nc\\x1bd')
    expect(escapeControlCharacters('a\nb')).toBe('a\\x0ab')
  })
})
