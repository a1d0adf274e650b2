import { describe, expect, it } from 'vitest'
import { runCli } from '../support/cli-process.ts'

const COMMANDS = [
  'start',
  'demo',
  'replay',
  'sql',
  'status',
  'reconcile',
  'pricing',
  'reprice',
  'kill',
  'resume',
  'controls',
  'policy',
  'report',
]

describe('spendguard <command> --help', () => {
  it('prints the usage of that command alone, listed in the general usage, and exits 0', async () => {
    const general = await runCli(['--help'])
    expect(general.code).toBe(0)
    const results = await Promise.all(COMMANDS.map((command) => runCli([command, '--help'])))
    results.forEach((result, i) => {
      const command = COMMANDS[i]!
      expect(general.stdout).toContain(`spendguard ${command} `)
      expect(result.code).toBe(0)
      expect(result.stderr).toBe('')
      expect(result.stdout.startsWith(`usage: spendguard ${command}`)).toBe(true)
      // With an example of its own.
      expect(result.stdout).toMatch(new RegExp(`\\nexample: spendguard ${command} `))
      // Its own text, not the general one.
      expect(result.stdout).not.toContain('cost governance for LLM agents')
    })
  }, 120_000)
})
