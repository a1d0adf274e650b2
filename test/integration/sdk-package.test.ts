import { spawn } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { isAbsolute, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCli, startCli } from '../support/cli-process.ts'
import { freePort } from '../support/free-port.ts'

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const EXAMPLE = join(REPO, 'examples/quickstart')
const TSC = join(REPO, 'node_modules/typescript/bin/tsc')
/** What an agent service must not get with the SDK: the server's packages and the build tools. */
const SERVER_PACKAGES = ['chdb', '@clickhouse/client', 'kafkajs', 'avsc', 'tsx', 'pino', 'esbuild']

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * The environment of a shell outside the repository: without the `npm_*` variables that
 * `npm test` sets, which would point a nested npm at this checkout.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)))
  return { ...env, ...extra }
}

function run(command: string, args: string[], cwd: string, env = userEnv()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/** Runs a command that must succeed; its output is in the failure message otherwise. */
async function succeed(command: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv) {
  const result = await run(command, args, cwd, env)
  expect(result.code, `${command} ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0)
  return result
}

/** The packages installed in a folder, as npm recorded them (scoped names included). */
function installedPackages(folder: string): string[] {
  const lock = JSON.parse(
    readFileSync(join(folder, 'node_modules/.package-lock.json'), 'utf8'),
  ) as {
    packages: Record<string, unknown>
  }
  return Object.keys(lock.packages).map((path) => path.replace(/^.*node_modules\//, ''))
}

// The agent's folder: the example copied outside the repository (so nothing resolves from this
// checkout's node_modules), with the packed SDK installed in it as a user would.
const work = mkdtempSync(join(tmpdir(), 'spendguard-sdk-'))
const app = join(work, 'app')
afterAll(() => rmSync(work, { recursive: true, force: true }))

beforeAll(async () => {
  const packed = join(work, 'packed')
  mkdirSync(packed)
  await succeed('npm', ['pack', '--workspace', 'sdk', '--pack-destination', packed], REPO)
  const [tarball] = readdirSync(packed).filter((file) => file.endsWith('.tgz'))
  expect(tarball).toBeDefined()
  cpSync(EXAMPLE, app, { recursive: true })
  await succeed(
    'npm',
    ['install', join(packed, tarball!), '--prefer-offline', '--no-audit', '--no-fund'],
    app,
  )
})

/** Runs one of the example's agents with plain node; returns the JSON line it prints. */
async function runAgent(file: string, agent: string, env: Record<string, string>) {
  const result = await succeed(process.execPath, [file, agent], app, userEnv(env))
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>
}

describe('@spendguard/sdk packed and installed in a clean folder, as an agent service gets it', () => {
  it('installs the SDK and zod, none of the server packages', () => {
    const outside = relative(REPO, app)
    expect(outside.startsWith('..') || isAbsolute(outside)).toBe(true)
    const installed = installedPackages(app)
    expect(installed).toEqual(expect.arrayContaining(['@spendguard/sdk', 'zod']))
    expect(installed.filter((name) => SERVER_PACKAGES.includes(name))).toEqual([])
  })

  it('the example agents (ESM and CommonJS) get their calls audited, and obey a kill', async () => {
    const dataDir = join(work, 'data')
    const port = await freePort()
    const server = await startCli(['start', '--port', String(port), '--data-dir', dataDir])
    const env = {
      SPENDGUARD_URL: `http://127.0.0.1:${port}`,
      SPENDGUARD_PUBLIC_KEY: join(dataDir, 'control-signing-key.pem.pub'),
    }
    const agent = 'quickstart-agent'
    const spendOf = async (name: string) => {
      const status = await runCli(['status', '--format', 'json', '--data-dir', dataDir])
      expect(status.code, status.stderr).toBe(0)
      const { items } = JSON.parse(status.stdout) as {
        items: Array<{ key: string; calls: number; input_tokens: number; cost_usd: string }>
      }
      return items.find((item) => item.key === name)
    }

    const esm = await runAgent('agent.mjs', agent, env)
    const cjs = await runAgent('agent.cjs', agent, env)
    expect(esm).toMatchObject({ agent, action: 'allow', sent: 1, failed: 0 })
    expect(cjs).toMatchObject({ agent, action: 'allow', sent: 1, failed: 0 })
    // `spendguard status` shows both calls, priced.
    let spend: Awaited<ReturnType<typeof spendOf>>
    await expect
      .poll(async () => (spend = await spendOf(agent))?.calls, { timeout: 10_000 })
      .toBe(2)
    expect(spend!.input_tokens).toBeGreaterThanOrEqual(esm.input_tokens as number)
    expect(Number(spend!.cost_usd)).toBeGreaterThan(0)

    const kill = await runCli(
      ['kill', '--agent', agent, '--reason', 'quick start test', '--data-dir', dataDir],
      { env: userEnv() },
    )
    expect(kill.code, kill.stderr).toBe(0)

    // The guard from the tarball reads the signed command: the call is not made, nothing sent.
    const blocked = await runAgent('agent.mjs', agent, env)
    expect(blocked).toMatchObject({ agent, action: 'block', sent: 0 })
    expect(blocked.reason).toContain('quick start test')
    expect(await runAgent('agent.cjs', agent, env)).toMatchObject({ action: 'block', sent: 0 })
    // Only that agent: another one still calls.
    expect(await runAgent('agent.mjs', 'another-agent', env)).toMatchObject({
      action: 'allow',
      sent: 1,
    })
    expect((await spendOf(agent))?.calls).toBe(2)

    server.child.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })

  it('the example typechecks against the packed declarations: NodeNext (ESM, CommonJS) and bundler', async () => {
    // The example's own tsconfig (strict, skipLibCheck off, agent.cjs and agent.mjs checked as
    // JavaScript) with Node's types taken from this repository.
    const typeRoots = [join(REPO, 'node_modules/@types')]
    writeFileSync(
      join(app, 'tsconfig.nodenext.json'),
      JSON.stringify({ extends: './tsconfig.json', compilerOptions: { typeRoots } }),
    )
    writeFileSync(
      join(app, 'tsconfig.bundler.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: {
          typeRoots,
          module: 'ESNext',
          moduleResolution: 'Bundler',
          allowJs: false,
          checkJs: false,
          skipLibCheck: true,
        },
        include: ['agent.ts'],
      }),
    )
    const expected = {
      'tsconfig.nodenext.json': ['index.d.cts', 'index.d.ts'],
      'tsconfig.bundler.json': ['index.d.ts'],
    }
    await Promise.all(
      Object.entries(expected).map(async ([project, declarations]) => {
        const checked = await succeed(process.execPath, [TSC, '-p', project, '--listFiles'], app)
        // The package's declarations are in the program (a module not found would be an `any`
        // in agent.cjs, not an error): the ESM ones for agent.ts, the CommonJS ones for agent.cjs.
        const fromPackage = checked.stdout
          .split('\n')
          .filter((file) => file.includes('node_modules/@spendguard/sdk/dist/index.'))
          .map((file) => file.slice(file.lastIndexOf('/') + 1))
        expect(fromPackage.sort(), project).toEqual(declarations)
      }),
    )
  })
})
