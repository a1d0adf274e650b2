import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runSql } from '../../cli/sql-command.ts'
import { parseConfig } from '../../platform/config.ts'
import { SpendGuardError } from '../../platform/errors.ts'

describe('spendguard sql', () => {
  const parent = mkdtempSync(join(tmpdir(), 'spendguard-sql-'))
  afterAll(() => rmSync(parent, { recursive: true, force: true }))

  it('refuses a data directory that holds no audit store, and does not create it', async () => {
    const dataDir = join(parent, 'never-started')
    const config = parseConfig({ clickhouse: { dataDir } })
    const failure = await runSql(config, 'SELECT 1', 'table').then(
      () => undefined,
      (error: unknown) => error,
    )
    expect(failure).toBeInstanceOf(SpendGuardError)
    expect(failure).toMatchObject({ code: 'STORE_NOT_FOUND', retriable: false })
    expect((failure as Error).message).toContain(`no audit store at ${dataDir} yet`)
    expect((failure as Error).message).toMatch(/spendguard start.*spendguard demo/)
    expect(existsSync(dataDir)).toBe(false)
  })
})
