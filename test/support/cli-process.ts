import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { onTestFinished } from 'vitest'
import { freePort } from './free-port.ts'

export const BIN = fileURLToPath(new URL('../../bin/spendguard.js', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `spendguard ARGS` to completion. */
export function runCli(
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...options.env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(options.input ?? '')
  })
}

/** `spendguard resume --agent AGENT --tenant TENANT --config FILE`: lifts what blocks an agent. */
export function resumeAgent(agent: string, tenant: string, configFile: string): Promise<CliResult> {
  return runCli(['resume', '--agent', agent, '--tenant', tenant, '--config', configFile])
}

/** Starts a long-running `spendguard` command and waits until its log says it is running. */
export async function startCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcess; logs: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } })
  // A test that fails before its SIGTERM must not leave the server running.
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let logs = ''
  child.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()))
  child.stdout.on('data', (chunk: Buffer) => (logs += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const deadline = Date.now() + 60_000
  while (!logs.includes('spendguard is running')) {
    if (child.exitCode !== null) throw new Error(`spendguard exited early:\n${logs}`)
    if (Date.now() > deadline) throw new Error(`spendguard did not start:\n${logs}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return { child, logs: () => logs, exited }
}

/** `spendguard start` on a free port with a data directory (and a config file when given). */
export async function startPipeline(dataDir: string, configFile?: string) {
  const port = await freePort()
  const args = ['start', '--port', String(port), '--data-dir', dataDir]
  const running = await startCli(configFile ? [...args, '--config', configFile] : args)
  return { port, running }
}
