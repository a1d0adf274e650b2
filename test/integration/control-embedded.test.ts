import { randomUUID } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createGuard } from '../../producers/guard/guard.ts'
import { resumeAgent, runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'
import { postEvents } from '../support/live-checks.ts'
import { makeLlmCallInput, recentTime } from '../support/make-llm-call.ts'

const work = mkdtempSync(join(tmpdir(), 'spendguard-control-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const violating = () =>
  makeLlmCallInput({
    event_id: randomUUID(),
    occurred_at: recentTime(5),
    tenant_id: 'acme',
    agent_id: 'blog-outline',
    task_category: 'bulk_generation',
    model: 'gpt-4',
  })

describe('the control plane of the embedded pipeline, followed by a guard over SSE', () => {
  it('a rule blocks the next call; resume lifts it; kill, ttl, restarts and fail modes hold', async () => {
    const dataDir = join(work, 'data')
    const configFile = join(work, 'spendguard.yaml')
    writeFileSync(
      configFile,
      `clickhouse: { dataDir: ${JSON.stringify(dataDir)} }
policy:
  mode: strict
  categories:
    bulk_generation: { models: [llama3-8b] }
`,
    )
    const port = await freePort()
    const args = ['start', '--config', configFile, '--port', String(port)]
    let server = await startCli(args)
    const running = JSON.parse(readFileSync(join(dataDir, 'running.json'), 'utf8')) as {
      token: string
    }
    const trustedKeys = [
      {
        id: 'spendguard-1',
        publicKey: readFileSync(join(dataDir, 'control-signing-key.pem.pub'), 'utf8'),
      },
    ]
    const url = `http://127.0.0.1:${port}`
    const guard = createGuard({ url, token: running.token, trustedKeys, failMode: 'open' })
    await guard.ready
    const call = { tenant: 'acme', agent: 'blog-outline', model: 'gpt-4' }
    expect(guard.check(call)).toEqual({ action: 'allow' })

    // The processor decides (strict policy): the guard blocks the agent's next call.
    await postEvents(port, [violating()])
    await expect.poll(() => guard.check(call).action, { timeout: 5000, interval: 10 }).toBe('block')
    expect(guard.check({ ...call, agent: 'another-agent' })).toEqual({ action: 'allow' })

    // resume lifts it, and is audited with who issued it.
    const resumed = await resumeAgent('blog-outline', 'acme', configFile)
    expect(resumed.stderr).toBe('')
    expect(resumed.code).toBe(0)
    await expect.poll(() => guard.check(call).action, { timeout: 5000, interval: 10 }).toBe('allow')

    // A person's kill with a time limit; `controls` lists it.
    const killed = await runCli([
      'kill',
      '--agent',
      'summarizer',
      '--tenant',
      'acme',
      '--ttl',
      '1h',
      '--reason',
      'runaway loop seen in the dashboard',
      '--config',
      configFile,
    ])
    expect(killed.code).toBe(0)
    const summarizer = { tenant: 'acme', agent: 'summarizer' }
    await expect
      .poll(() => guard.check(summarizer).action, { timeout: 5000, interval: 10 })
      .toBe('block')
    const listed = await runCli(['controls', '--format', 'json', '--config', configFile])
    const commands = JSON.parse(listed.stdout) as Array<{
      scope: { id: string }
      expires_at: string | null
      issuer: string
    }>
    expect(commands.map((c) => c.scope.id)).toEqual(['summarizer'])
    expect(commands[0]!.expires_at).not.toBeNull()
    expect(commands[0]!.issuer).toMatch(/^local CLI/)

    // The server restarts: the guard reconnects from where it was and sees what is issued next.
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    expect(guard.check(summarizer).action).toBe('block')
    server = await startCli(args)
    await runCli([
      'kill',
      '--user',
      'u-9',
      '--tenant',
      'acme',
      '--reason',
      'abuse',
      '--config',
      configFile,
    ])
    await expect
      .poll(() => guard.check({ tenant: 'acme', agent: 'x', user: 'u-9' }).action, {
        timeout: 10_000,
        interval: 20,
      })
      .toBe('block')
    expect(guard.check(summarizer).action).toBe('block')
    expect(guard.check(call).action).toBe('allow')

    // A guard started later reads the whole log.
    const late = createGuard({ url, token: running.token, trustedKeys, failMode: 'open' })
    await late.ready
    expect(late.check(summarizer).action).toBe('block')
    expect(late.check(call).action).toBe('allow')

    // Fail closed: with the source gone past the bound every call is blocked; fail open keeps
    // obeying what it holds and allows the rest.
    const closed = createGuard({
      url,
      token: running.token,
      trustedKeys,
      failMode: 'closed',
      unreachableAfterMs: 300,
    })
    await closed.ready
    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
    await expect
      .poll(() => closed.check(call).action, { timeout: 5000, interval: 50 })
      .toBe('block')
    await new Promise((resolve) => setTimeout(resolve, 400))
    expect(late.check(call).action).toBe('allow')
    expect(late.check(summarizer).action).toBe('block')
    for (const g of [guard, late, closed]) await g.close()
    expect(guard.counters.ignored).toEqual({
      malformed: 0,
      unsigned: 0,
      unknown_key: 0,
      forged: 0,
      expired: 0,
    })
  })
})
