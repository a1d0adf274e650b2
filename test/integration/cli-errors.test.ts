import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../support/cli-process.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-cli-errors-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

/** No stack trace reaches the person at the terminal. */
const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /)

describe('CLI errors a person can act on', () => {
  it('a port in use: one line naming the address and the setting, exit 1, no hang', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const { port } = taken.address() as AddressInfo
    try {
      const result = await runCli(['start', '--port', String(port), '--data-dir', join(work, 'a')])
      expect(result.code).toBe(1)
      expect(result.stderr).toContain(
        `spendguard: cannot listen on 127.0.0.1:${port}: the port is in use (is another spendguard start running?). Choose another with --port or SPENDGUARD_HTTP_PORT.`,
      )
      noStack(result.stderr)
    } finally {
      taken.close()
    }
  }, 60_000)

  it('a ClickHouse server that does not answer, and a bad environment variable, named as such', async () => {
    const unreachable = await runCli(['sql', 'SELECT 1'], {
      env: { SPENDGUARD_CLICKHOUSE_URL: 'http://127.0.0.1:1' },
    })
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toBe(
      'spendguard: cannot reach 127.0.0.1:1: nothing listens there (connection refused). Check that it runs and the address of the server (clickhouse.url in the configuration or SPENDGUARD_CLICKHOUSE_URL for ClickHouse; kafka.brokers or SPENDGUARD_KAFKA_BROKERS for Kafka).\n',
    )
    const badPort = await runCli(['start', '--data-dir', join(work, 'b')], {
      env: { SPENDGUARD_HTTP_PORT: 'eighty' },
    })
    expect(badPort.code).not.toBe(0)
    expect(badPort.stderr).toContain('SPENDGUARD_HTTP_PORT')
    expect(badPort.stderr).not.toMatch(/config(uration)? file/i)
    noStack(badPort.stderr)
  }, 60_000)

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }
    const result = await runCli(['--version'])
    expect(result).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' })
  })
})
