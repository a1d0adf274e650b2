import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { z } from 'zod'
import { SpendGuardError } from '../platform/errors.ts'

/**
 * How the CLI finds a `spendguard start` that holds a data directory: the running process
 * writes `<data dir>/running.json` (its pid, its API's address and a read token that lives as
 * long as it does; readable by the owner only) and removes it when it stops. `sql`, `status`
 * and `reconcile` on the same data directory then go through that API, since the embedded
 * store is locked by the process that runs it.
 */
const runFileSchema = z.object({
  pid: z.int().positive(),
  url: z.url(),
  token: z.string().min(1),
  /** For the local CLI's control commands (kill, resume): as powerful as the data directory. */
  admin_token: z.string().min(1).optional(),
  started_at: z.string(),
})
export type RunningPipeline = z.output<typeof runFileSchema>

const RUN_FILE = 'running.json'

export const runFilePath = (dataDir: string): string => join(resolve(dataDir), RUN_FILE)

/** Records this process as the runner of `dataDir`; returns a function that removes the record. */
export function writeRunFile(dataDir: string, running: RunningPipeline): () => void {
  const path = runFilePath(dataDir)
  mkdirSync(resolve(dataDir), { recursive: true })
  const temporary = `${path}.${process.pid}.tmp`
  writeFileSync(temporary, `${JSON.stringify(running)}\n`, { mode: 0o600 })
  renameSync(temporary, path)
  return () => {
    // Only our own record: a later process may have taken the directory over.
    if (readRunFile(dataDir)?.pid === running.pid) rmSync(path, { force: true })
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The record in `dataDir`, whether its process still runs or not. */
function readRunFile(dataDir: string): RunningPipeline | undefined {
  let document: unknown
  try {
    document = JSON.parse(readFileSync(runFilePath(dataDir), 'utf8'))
  } catch (error) {
    // No record, or one cut short by a crash while it was written: nothing runs there.
    if (error instanceof SyntaxError || (error as NodeJS.ErrnoException).code === 'ENOENT')
      return undefined
    throw error
  }
  const parsed = runFileSchema.safeParse(document)
  return parsed.success ? parsed.data : undefined
}

/** The pipeline running on `dataDir`, or undefined (no record, or its process is gone). */
export function findRunningPipeline(dataDir: string): RunningPipeline | undefined {
  const found = readRunFile(dataDir)
  // Our own pid: the record outlived its process (pids are reused, in containers often at once).
  if (!found || found.pid === process.pid || !alive(found.pid)) return undefined
  return found
}

/** The running pipeline of `dataDir`, or an error that says how to start one. */
export function requireRunningPipeline(dataDir: string): RunningPipeline {
  const found = findRunningPipeline(dataDir)
  if (!found)
    throw new SpendGuardError(
      `no running pipeline found for the data directory ${resolve(dataDir)}: start one with ` +
        '`spendguard start --data-dir DIR` (or name its directory with --data-dir)',
      { code: 'NOT_RUNNING', retriable: false },
    )
  return found
}

/** Calls the running pipeline's API; a non-2xx answer becomes an error with its message. */
export async function callPipeline(
  running: RunningPipeline,
  path: string,
  init: { method?: string; body?: unknown; admin?: boolean } = {},
): Promise<Response> {
  const token = init.admin ? running.admin_token : running.token
  if (token === undefined)
    throw new SpendGuardError(
      `the pipeline (pid ${running.pid}) runs an older version that offers no admin access to the local CLI`,
      { code: 'NOT_SUPPORTED', retriable: false },
    )
  let response: Response
  try {
    response = await fetch(new URL(path, running.url), {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${token}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    })
  } catch (error) {
    throw new SpendGuardError(
      `the pipeline (pid ${running.pid}) does not answer at ${running.url}`,
      { code: 'NOT_RUNNING', retriable: true, cause: error },
    )
  }
  if (!response.ok) {
    const text = await response.text()
    let message = text
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text
    } catch {
      // Not JSON: the text is the message.
    }
    throw new SpendGuardError(message, { code: `HTTP_${response.status}`, retriable: false })
  }
  return response
}
