import {
  rootProblem,
  scanAgentConfigs,
  modelsNamedIn,
  type AgentConfig,
  type FileProblem,
} from '../processors/detection/agent-configs.ts'
import { judgeModel, modelNames, policyFor } from '../processors/detection/policy.ts'
import type { PolicyRules } from '../processors/detection/rules.ts'
import type { Pricer } from '../processors/pricing/pricer.ts'
import type { LlmCall } from '../schemas/llm-call.ts'
import { escapeControlCharacters } from './text-table.ts'

export const POLICY_CHECK_USAGE = `usage: spendguard policy check DIR [--config FILE] [--format table|json]

Checks the agent configuration files under DIR (*.json, *.yaml, *.yml; node_modules and
dot-directories skipped) against the policy section of the config: each agent's model, and
the models its prompt templates name, must be permitted for its task category.
One line per violation, then a summary; --format json prints the violations as a JSON array.

exit codes: 0 all comply (or the policy checks nothing), 1 violations,
            2 DIR missing or a file unreadable or malformed (the rest is still checked)
See docs/policy-check.md for the file shapes recognized.
example: spendguard policy check ./agents --config spendguard.yaml
`

export interface PolicyViolation {
  file: string
  agent: string
  tenant: string
  category: string | null
  /** The model as the policy sees it: lower case, without provider prefix. */
  model: string
  /** `model` for the agent's model field, else the path of the prompt field naming it. */
  named_in: string
  rule: 'policy:model' | 'policy:unregistered_category' | 'policy:no_category'
  /** high when the model is premium (the live detector's critical), normal otherwise. */
  severity: 'high' | 'normal'
  /** What the live pipeline does about it: strict blocks (or downgrades), audit alerts. */
  mode: 'strict' | 'audit'
  reason: string
}

export interface PolicyCheckReport {
  /** Set when the policy checks nothing (mode off, no categories): DIR is not read. */
  disabled?: string
  files: number
  agents: number
  violations: PolicyViolation[]
  /** Unreadable or malformed files: the check is incomplete. */
  problems: FileProblem[]
  /** Files and models passed over, with why. */
  notes: string[]
}

export interface PolicyCheckOptions {
  policy: PolicyRules
  /** Resolves aliases and dated ids (`gpt-4-0613`) to the price entry a category may list. */
  pricer: Pricer
  dir: string
  /** The time prices are looked up at. */
  now: number
}

/** `spendguard policy check DIR`: the policy's verdict on every agent configured under DIR. */
export async function checkPolicy(options: PolicyCheckOptions): Promise<PolicyCheckReport> {
  const { policy } = options
  const disabled = disabledReason(policy)
  if (disabled) {
    // Nothing to judge, but a DIR that is not there is still a broken CI step.
    const missing = await rootProblem(options.dir)
    return {
      disabled,
      files: 0,
      agents: 0,
      violations: [],
      problems: missing ? [missing] : [],
      notes: [],
    }
  }
  const scan = await scanAgentConfigs(options.dir)
  const vocabulary = policyModels(policy)
  const notes = scan.skipped.map((s) => `${s.file}: skipped, ${s.reason}`)
  const violations: PolicyViolation[] = []
  for (const agent of scan.agents) {
    if (agent.modelTemplate)
      notes.push(
        `${agent.file}: agent ${agent.agent}: model "${agent.modelTemplate}" is a template expression, not checked`,
      )
    violations.push(...judgeAgent(agent, vocabulary, options))
  }
  return {
    files: scan.files,
    agents: scan.agents.length,
    violations,
    problems: scan.problems,
    notes,
  }
}

/**
 * The agent's model and every policy model its prompts name, each judged as the agent's model
 * for its tenant and category; a model is judged once, however often it is named.
 */
function judgeAgent(
  agent: AgentConfig,
  vocabulary: readonly string[],
  { policy, pricer, now }: PolicyCheckOptions,
): PolicyViolation[] {
  const { mode } = policyFor(policy, agent.tenant)
  if (mode === 'off') return []
  const violations: PolicyViolation[] = []
  const judged = new Set<string>()
  const judge = (model: string, namedIn: string, provider?: string) => {
    const names = modelNames(model, pricer.price(syntheticCall(agent, model, provider, now)))
    if (names.some((name) => judged.has(name))) return
    names.forEach((name) => judged.add(name))
    const verdict = judgeModel(policy, agent.tenant, agent.category, names)
    if (verdict.ok) return
    violations.push({
      file: agent.file,
      agent: agent.agent,
      tenant: agent.tenant,
      category: agent.category ?? null,
      model: names[0]!,
      named_in: namedIn,
      rule: verdict.rule,
      severity: verdict.premium ? 'high' : 'normal',
      mode,
      reason: verdict.reason,
    })
  }
  if (agent.model) judge(agent.model, 'model', agent.provider)
  for (const prompt of agent.prompts)
    for (const model of modelsNamedIn(prompt.text, vocabulary)) judge(model, prompt.field)
  return violations
}

/** Why the policy checks nothing, or undefined when some tenant's policy has categories. */
function disabledReason(policy: PolicyRules): string | undefined {
  const scopes = [null, ...Object.keys(policy.tenants)].map((tenant) =>
    tenant === null ? policy : policyFor(policy, tenant),
  )
  if (scopes.some((s) => s.mode !== 'off' && Object.keys(s.categories).length > 0)) return undefined
  return scopes.every((s) => s.mode === 'off')
    ? 'policy mode is off'
    : 'no task categories are configured in the policy (policy.categories)'
}

/** Every model a prompt may name that the policy knows: premium models and permitted ones. */
function policyModels(policy: PolicyRules): string[] {
  const categories = [policy.categories, ...Object.values(policy.tenants).map((t) => t.categories)]
  return [
    ...policy.premium_models,
    ...categories.flatMap((c) => Object.values(c).flatMap((category) => category.models)),
  ]
}

/** The least call the pricer accepts: it only needs the model, provider and time. */
function syntheticCall(
  agent: AgentConfig,
  model: string,
  provider: string | undefined,
  now: number,
): LlmCall {
  return {
    event_id: '00000000-0000-4000-8000-000000000000',
    occurred_at: now,
    tenant_id: agent.tenant,
    agent_id: agent.agent,
    tags: {},
    model,
    ...(provider ? { provider } : {}),
    endpoint: 'realtime',
    input_tokens: 1,
    output_tokens: 1,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    reasoning_tokens: 0,
    cache_write_1h_tokens: 0,
    status: 'ok',
    tool_calls: [],
    usage_reported: true,
  }
}

/** 2 when the check is incomplete (it outranks violations), 1 on violations, else 0. */
export function policyCheckExitCode(report: PolicyCheckReport): 0 | 1 | 2 {
  if (report.problems.length > 0) return 2
  return report.violations.length > 0 ? 1 : 0
}

/** `FILE: agent A (category C): model M is not permitted ... [policy:model] [severity high]` */
export function formatViolation(v: PolicyViolation): string {
  const what = v.reason.startsWith('model ') ? v.reason : `model ${v.model}: ${v.reason}`
  const where = v.named_in === 'model' ? '' : `, named in ${v.named_in}`
  const category = v.category === null ? 'no category' : `category ${v.category}`
  return escapeControlCharacters(
    `${v.file}: agent ${v.agent} (${category}): ${what}${where} [${v.rule}] [severity ${v.severity}]`,
  )
}

export function formatSummary(report: PolicyCheckReport): string {
  if (report.disabled) return `${report.disabled}: nothing to check`
  const unreadable = report.problems.length > 0 ? `, ${report.problems.length} unreadable` : ''
  return `${report.files} files, ${report.agents} agents, ${report.violations.length} violations${unreadable}`
}

export interface PolicyCheckRun extends PolicyCheckOptions {
  format: 'table' | 'json'
  /** Standard output: violations and the summary (table), or the JSON array. */
  out: (text: string) => void
  /** Standard error: unreadable files and notes (and the summary, with --format json). */
  err: (text: string) => void
}

/** Runs the check, prints it, and returns the exit code. */
export async function runPolicyCheck(run: PolicyCheckRun): Promise<number> {
  const report = await checkPolicy(run)
  for (const problem of report.problems)
    run.err(escapeControlCharacters(`spendguard: ${problem.file}: ${problem.reason}`) + '\n')
  for (const note of report.notes) run.err(`note: ${escapeControlCharacters(note)}\n`)
  if (run.format === 'json') {
    run.out(`${JSON.stringify(report.violations, null, 2)}\n`)
    run.err(`${formatSummary(report)}\n`)
  } else {
    run.out(
      report.violations.map((v) => `${formatViolation(v)}\n`).join('') +
        `${formatSummary(report)}\n`,
    )
  }
  return policyCheckExitCode(report)
}
