import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { splitModelId } from '../pricing/model-id.ts'

/**
 * Agent configuration files as teams keep them in their repositories, read for
 * `spendguard policy check`: which agent uses which model for which task category, and which
 * models its prompt templates name. docs/policy-check.md describes the shapes recognized.
 */

/** One agent found in a file. */
export interface AgentConfig {
  file: string
  agent: string
  /** `tenant` / `tenant_id` of the agent or of its `agents:` file; "default" otherwise. */
  tenant: string
  category?: string
  /** The model id as written; absent when it is a template expression (see `modelTemplate`). */
  model?: string
  /** A model field such as `{{ env.MODEL }}`: nothing to judge until it is rendered. */
  modelTemplate?: string
  provider?: string
  /** Plain strings of the agent's prompt fields, by dotted path (`llm.system_prompt`). */
  prompts: Array<{ field: string; text: string }>
}

/** A file that could not be read or parsed: the check is incomplete. */
export interface FileProblem {
  file: string
  reason: string
}

export interface AgentConfigScan {
  /** Files read (JSON and YAML), whether they held agents or not. */
  files: number
  agents: AgentConfig[]
  problems: FileProblem[]
  /** Files passed over on purpose, with why. */
  skipped: FileProblem[]
}

export interface ScanOptions {
  /** Larger files are skipped (and listed): agent configs are small, data dumps are not. */
  maxFileBytes?: number
}

const CONFIG_FILE = /\.(json|ya?ml)$/i
const DEFAULT_MAX_FILE_BYTES = 1024 * 1024

/**
 * Reads every *.json, *.yaml and *.yml under `root` (a directory, or one file), skipping
 * node_modules and dot-directories. Links to files are read, links to directories are not
 * followed (they could loop). A file or directory that cannot be read is a problem; the scan
 * goes on with the rest.
 */
export async function scanAgentConfigs(
  root: string,
  options: ScanOptions = {},
): Promise<AgentConfigScan> {
  const maxBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES
  const scan: AgentConfigScan = { files: 0, agents: [], problems: [], skipped: [] }
  const missing = await rootProblem(root)
  if (missing) {
    scan.problems.push(missing)
    return scan
  }
  const files = (await stat(root)).isDirectory()
    ? await listConfigFiles(root, scan.problems)
    : [root]
  for (const file of files) {
    let text: string
    try {
      // stat follows a link: a link to a directory is passed over, a dangling one is a problem.
      const info = await stat(file)
      if (!info.isFile()) continue
      if (info.size > maxBytes) {
        scan.skipped.push({ file, reason: `larger than ${maxBytes} bytes` })
        continue
      }
      text = await readFile(file, 'utf8')
    } catch (error) {
      scan.problems.push({ file, reason: describeFsError(error) })
      continue
    }
    scan.files++
    // A byte-order mark (editors on Windows write one) is not part of the document.
    const parsed = parseDocuments(text.replace(/^\uFEFF/, ''), file)
    if ('reason' in parsed) scan.problems.push({ file, reason: parsed.reason })
    else scan.agents.push(...parsed.documents.flatMap((doc) => agentsIn(doc, file)))
  }
  return scan
}

/** Why `root` cannot be scanned (it does not exist, or cannot be read), or undefined. */
export async function rootProblem(root: string): Promise<FileProblem | undefined> {
  try {
    await stat(root)
    return undefined
  } catch (error) {
    return { file: root, reason: describeFsError(error) }
  }
}

/** Config files under a directory, depth first, in name order (so reports are stable). */
async function listConfigFiles(dir: string, problems: FileProblem[]): Promise<string[]> {
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch (error) {
    problems.push({ file: dir, reason: describeFsError(error) })
    return []
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  const files: string[] = []
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
      files.push(...(await listConfigFiles(path, problems)))
    } else if (CONFIG_FILE.test(entry.name) && (entry.isFile() || entry.isSymbolicLink())) {
      files.push(path)
    }
  }
  return files
}

function describeFsError(error: unknown): string {
  const code = (error as { code?: unknown }).code
  if (code === 'ENOENT') return 'no such file or directory'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return error instanceof Error ? error.message : String(error)
}

/** JSON for .json (strict, as tools read it), YAML otherwise, every document of a stream. */
function parseDocuments(text: string, file: string): { documents: unknown[] } | { reason: string } {
  if (/\.json$/i.test(file)) {
    try {
      return { documents: [JSON.parse(text)] }
    } catch (error) {
      return { reason: `not valid JSON: ${(error as Error).message}` }
    }
  }
  const documents = parseAllDocuments(text)
  const list = Array.isArray(documents) ? documents : []
  const error = list.flatMap((doc) => doc.errors)[0]
  if (error) return { reason: `not valid YAML: ${error.message.split('\n')[0]}` }
  try {
    return { documents: list.map((doc) => doc.toJS({ maxAliasCount: 1000 }) as unknown) }
  } catch (cause) {
    // toJS refuses alias bombs and the like.
    return { reason: `not usable YAML: ${(cause as Error).message}` }
  }
}

type Json = Record<string, unknown>

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/** The first non-empty string among `keys` of an object. */
function pick(object: Json, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = object[key]
    if (typeof value === 'string' && value.trim() !== '') return value.trim()
  }
  return undefined
}

const AGENT_ID_KEYS = ['agent_id', 'agentId', 'agent', 'id'] as const
const MODEL_KEYS = ['model', 'model_id', 'modelId'] as const
const CATEGORY_KEYS = ['task_category', 'taskCategory', 'category'] as const
const TENANT_KEYS = ['tenant', 'tenant_id', 'tenantId'] as const
/** Fields holding prompt text: prompt, system_prompt, promptTemplate, instructions, system, messages. */
const PROMPT_KEY = /(prompt|template|instructions?)s?$|^(system|messages)$/i
const TEMPLATE_EXPRESSION = /\{\{|\$\{|\{%|<%/

/**
 * Agents in one parsed document: the document itself, a list of agents, or an `agents:` list
 * or map (the key names the agent), which may also carry a `tenant` for all of them.
 */
export function agentsIn(document: unknown, file: string): AgentConfig[] {
  // A bare list needs ids: lists of objects with a model are common in files that are not agents.
  if (Array.isArray(document))
    return document.flatMap((item) => agentFrom(item, file, undefined, 'default') ?? [])
  if (!isObject(document)) return []
  const tenant = pick(document, TENANT_KEYS) ?? 'default'
  const agents = document.agents
  if (Array.isArray(agents))
    return agents.flatMap((item, index) => agentFrom(item, file, `agents[${index}]`, tenant) ?? [])
  if (isObject(agents))
    return Object.entries(agents).flatMap(([key, item]) => agentFrom(item, file, key, tenant) ?? [])
  if (isObject(document.agent)) return agentsIn(document.agent, file)
  const agent = agentFrom(document, file, undefined, tenant)
  return agent ? [agent] : []
}

/**
 * An agent when the object has a model (its own, or in a nested object such as `llm:`) and an
 * id (its own, or `fallbackId` for an entry of an `agents:` list or map).
 */
function agentFrom(
  value: unknown,
  file: string,
  fallbackId: string | undefined,
  fileTenant: string,
): AgentConfig | undefined {
  if (!isObject(value)) return undefined
  const holder = modelHolder(value)
  const id = pick(value, AGENT_ID_KEYS) ?? fallbackId
  if (!holder || !id) return undefined
  const model = holder.model
  const category = pick(value, CATEGORY_KEYS) ?? pick(holder.object, CATEGORY_KEYS)
  const provider = pick(value, ['provider']) ?? pick(holder.object, ['provider'])
  return {
    file,
    agent: id,
    tenant: pick(value, TENANT_KEYS) ?? fileTenant,
    ...(category ? { category } : {}),
    ...(TEMPLATE_EXPRESSION.test(model) ? { modelTemplate: model } : { model }),
    ...(provider ? { provider } : {}),
    prompts: promptsIn(value, ''),
  }
}

/**
 * Where an agent names its model: `model: gpt-4o`, `model: { name: gpt-4o }`, or one of those
 * in a nested object (`llm: { model: gpt-4o }`, two levels at most), nearest first.
 */
function modelHolder(agent: Json): { model: string; object: Json } | undefined {
  let level: Json[] = [agent]
  for (let depth = 0; depth < 3 && level.length > 0; depth++) {
    for (const object of level) {
      const model = pick(object, MODEL_KEYS)
      if (model) return { model, object }
      if (isObject(object.model)) {
        const named = pick(object.model, ['name', 'id', ...MODEL_KEYS])
        if (named) return { model: named, object: object.model }
      }
    }
    level = level.flatMap((object) =>
      Object.entries(object)
        .filter(([key, child]) => isObject(child) && key !== 'agents' && !PROMPT_KEY.test(key))
        .map(([, child]) => child as Json),
    )
  }
  return undefined
}

/** Every string under the agent's prompt fields, at any depth (not inside nested `agents`). */
function promptsIn(value: unknown, path: string, inPrompt = false): AgentConfig['prompts'] {
  if (typeof value === 'string') return inPrompt ? [{ field: path, text: value }] : []
  if (Array.isArray(value))
    return value.flatMap((item, index) => promptsIn(item, `${path}[${index}]`, inPrompt))
  if (!isObject(value)) return []
  return Object.entries(value).flatMap(([key, child]) =>
    key === 'agents'
      ? []
      : promptsIn(child, path ? `${path}.${key}` : key, inPrompt || PROMPT_KEY.test(key)),
  )
}

/** Runs of characters a model id is made of; punctuation around them is not part of a name. */
const MODEL_TOKEN = /[a-z0-9][a-z0-9._:@/-]*/gi

/**
 * The model names of `vocabulary` that a text names as whole words, in the vocabulary's form
 * (lower case, no provider prefix): "use gpt-4 here" names gpt-4, "gpt-4o" and "gpt-4-turbo"
 * do not. `openai/gpt-4`, `model:gpt-4` and `gpt-4@2024` name gpt-4 too.
 */
export function modelsNamedIn(text: string, vocabulary: readonly string[]): string[] {
  const known = new Set(vocabulary.map((entry) => splitModelId(entry).model))
  const found = new Set<string>()
  for (const [raw] of text.matchAll(MODEL_TOKEN)) {
    const token = raw.replace(/[._:@/-]+$/, '')
    for (const candidate of [token, ...token.split(/[/:@]/)]) {
      const name = splitModelId(candidate).model
      if (known.has(name)) found.add(name)
    }
  }
  return [...found]
}
