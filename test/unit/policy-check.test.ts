import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  checkPolicy,
  runPolicyCheck,
  type PolicyViolation,
} from '../../cli/policy-check-command.ts'
import { createPricerFromConfig } from '../../cli/runtime.ts'
import { parseConfig } from '../../platform/config.ts'
import { agentsIn, modelsNamedIn } from '../../processors/detection/agent-configs.ts'
import type { Pricer } from '../../processors/pricing/pricer.ts'
import { runCli } from '../support/cli-process.ts'

const POLICY = {
  mode: 'strict',
  categories: {
    summarization: { models: ['gpt-4o-mini', 'claude-3-5-haiku'] },
    reasoning: { models: ['gpt-4', 'o3'] },
  },
}

/** A directory of files (path -> content) removed when the test's `await using` ends. */
function tree(files: Record<string, string>): { path: string } & AsyncDisposable {
  const path = mkdtempSync(join(tmpdir(), 'spendguard-policy-check-'))
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(path, name)), { recursive: true })
    writeFileSync(join(path, name), content)
  }
  return {
    path,
    [Symbol.asyncDispose]: () => Promise.resolve(rmSync(path, { recursive: true, force: true })),
  }
}

let pricer: Promise<Pricer> | undefined
/** The real pricer (aliases, dated ids), built once: it holds no state between calls. */
const realPricer = () => (pricer ??= createPricerFromConfig(parseConfig({})))

/** Runs the command as the CLI does; returns the exit code and what it printed. */
async function run(dir: string, policy: unknown = POLICY, format: 'table' | 'json' = 'table') {
  let out = ''
  let err = ''
  const code = await runPolicyCheck({
    policy: parseConfig({ policy }).policy,
    pricer: await realPricer(),
    dir,
    format,
    now: Date.UTC(2026, 0, 15),
    out: (text) => (out += text),
    err: (text) => (err += text),
  })
  return { code, lines: out.trimEnd().split('\n'), out, err }
}

const COMPLIANT = {
  'summarizer.json': JSON.stringify({
    agent_id: 'summarizer',
    task_category: 'summarization',
    model: 'openai/gpt-4o-mini',
    system_prompt: 'Summarize in three lines.',
  }),
  // A dated id of a permitted model resolves, through its price entry, to gpt-4.
  'team/agents.yaml': [
    'tenant: default',
    'agents:',
    '  planner:',
    '    category: reasoning',
    '    llm: { model: gpt-4-0613, provider: openai }',
    '    prompt: "Think step by step; o3 may be used for proofs."',
    '  digest:',
    '    taskCategory: summarization',
    '    model: { name: claude-3-5-haiku }',
  ].join('\n'),
  'list.yml': '- { id: notes, category: summarization, model: gpt-4o-mini }\n',
  'stream.yaml':
    'agent_id: one\ncategory: reasoning\nmodel: o3\n---\nagent_id: two\ncategory: reasoning\nmodel: O3\n',
  'package.json': JSON.stringify({ name: 'not-an-agent', version: '1.0.0' }),
  'node_modules/dep/agent.json': JSON.stringify({ agent_id: 'vendored', model: 'gpt-4' }),
  '.github/agent.json': JSON.stringify({ agent_id: 'hidden', model: 'gpt-4' }),
}

describe('spendguard policy check', () => {
  it('exits 0 when every agent complies, dated ids of permitted models included', async () => {
    await using dir = tree(COMPLIANT)
    const result = await run(dir.path)
    expect(result.lines).toEqual(['5 files, 6 agents, 0 violations'])
    expect(result.err).toBe('')
    expect(result.code).toBe(0)
  })

  it('prints one line per violation, with file, agent, rule and severity, and exits 1', async () => {
    await using dir = tree({
      ...COMPLIANT,
      'bots/writer.json': JSON.stringify({
        agentId: 'writer',
        category: 'summarization',
        model: 'gpt-4o',
      }),
      // A prompt template naming a premium model in plain text; gpt-4o-mini is only a longer word.
      'bots/triage.yaml': [
        'agent: triage',
        'task_category: summarization',
        'model: gpt-4o-mini',
        'system_prompt: |',
        '  When unsure, hand the ticket to claude-opus-4. Never to gpt-4o-mini-2.',
      ].join('\n'),
      'bots/untyped.json': JSON.stringify([
        { id: 'helper', model: 'gpt-4o-mini' },
        { id: 'translator', category: 'translation', model: 'gpt-4o-mini' },
      ]),
    })
    const result = await run(dir.path)
    const bots = join(dir.path, 'bots')
    expect(result.lines).toEqual([
      `${bots}/triage.yaml: agent triage (category summarization): model claude-opus-4 is not permitted for task category summarization (permitted: gpt-4o-mini, claude-3-5-haiku), named in system_prompt [policy:model] [severity high]`,
      `${bots}/untyped.json: agent helper (no category): model gpt-4o-mini used with no task_category [policy:no_category] [severity normal]`,
      `${bots}/untyped.json: agent translator (category translation): model gpt-4o-mini: task category translation is not registered in the policy [policy:unregistered_category] [severity normal]`,
      `${bots}/writer.json: agent writer (category summarization): model gpt-4o is not permitted for task category summarization (permitted: gpt-4o-mini, claude-3-5-haiku) [policy:model] [severity high]`,
      '8 files, 10 agents, 4 violations',
    ])
    expect(result.code).toBe(1)

    const json = await run(dir.path, POLICY, 'json')
    const violations = JSON.parse(json.out) as PolicyViolation[]
    expect(violations).toHaveLength(4)
    expect(violations[0]).toEqual({
      file: `${bots}/triage.yaml`,
      agent: 'triage',
      tenant: 'default',
      category: 'summarization',
      model: 'claude-opus-4',
      named_in: 'system_prompt',
      rule: 'policy:model',
      severity: 'high',
      mode: 'strict',
      reason:
        'model claude-opus-4 is not permitted for task category summarization (permitted: gpt-4o-mini, claude-3-5-haiku)',
    })
    expect(json.err).toBe('8 files, 10 agents, 4 violations\n')
    expect(json.code).toBe(1)
  })

  it('reports a malformed file and why, checks the rest, and exits 2', async () => {
    await using dir = tree({
      'broken.json': '{ "agent_id": "x", "model": ',
      'broken.yaml': 'agents:\n  a: [unclosed\n',
      'writer.json': JSON.stringify({ agent_id: 'writer', category: 'reasoning', model: 'gpt-4o' }),
    })
    const result = await run(dir.path)
    expect(result.err).toMatch(new RegExp(`^spendguard: ${dir.path}/broken.json: not valid JSON: `))
    expect(result.err).toMatch(
      new RegExp(`\nspendguard: ${dir.path}/broken.yaml: not valid YAML: `),
    )
    expect(result.lines).toEqual([
      expect.stringMatching(/writer\.json: agent writer \(category reasoning\): model gpt-4o is/),
      '3 files, 1 agents, 1 violations, 2 unreadable',
    ])
    expect(result.code).toBe(2)
  })

  it('reports a file it cannot read (a link to nothing) and exits 2', async () => {
    await using dir = tree({
      'a.json': JSON.stringify({ agent_id: 'a', category: 'reasoning', model: 'o3' }),
    })
    symlinkSync(join(dir.path, 'gone.yaml'), join(dir.path, 'link.yaml'))
    const result = await run(dir.path)
    expect(result.err).toBe(`spendguard: ${dir.path}/link.yaml: no such file or directory\n`)
    expect(result.lines).toEqual(['1 files, 1 agents, 0 violations, 1 unreadable'])
    expect(result.code).toBe(2)
  })

  it('exits 2 when DIR does not exist, whatever the policy', async () => {
    const missing = join(tmpdir(), 'spendguard-policy-check-missing', 'agents')
    for (const policy of [POLICY, { ...POLICY, mode: 'off' }]) {
      const result = await run(missing, policy)
      expect(result.err).toBe(`spendguard: ${missing}: no such file or directory\n`)
      expect(result.code).toBe(2)
    }
  })

  it('says so and exits 0 when the policy is off or has no categories', async () => {
    await using dir = tree({ 'a.json': JSON.stringify({ agent_id: 'a', model: 'gpt-4' }) })
    const off = await run(dir.path, { ...POLICY, mode: 'off' })
    expect(off.lines).toEqual(['policy mode is off: nothing to check'])
    expect(off.code).toBe(0)
    const empty = await run(dir.path, { mode: 'strict' })
    expect(empty.lines).toEqual([
      'no task categories are configured in the policy (policy.categories): nothing to check',
    ])
    expect(empty.code).toBe(0)
  })

  it("judges an agent by its tenant's categories and skips tenants whose mode is off", async () => {
    await using dir = tree({
      'acme.yaml': 'tenant: acme\nagents:\n  - { id: a, category: reasoning, model: gpt-4 }\n',
      'quiet.yaml': 'tenant_id: quiet\nagent_id: q\ncategory: reasoning\nmodel: gpt-4o\n',
      'other.yaml': 'agent_id: o\ncategory: reasoning\nmodel: gpt-4\n',
    })
    const report = await checkPolicy({
      policy: parseConfig({
        policy: {
          ...POLICY,
          tenants: {
            acme: { categories: { reasoning: { models: ['o3'] } } },
            quiet: { mode: 'off', categories: {} },
          },
        },
      }).policy,
      pricer: await realPricer(),
      dir: dir.path,
      now: Date.UTC(2026, 0, 15),
    })
    expect(report.violations.map((v) => `${v.tenant}/${v.agent}: ${v.reason}`)).toEqual([
      'acme/a: model gpt-4 is not permitted for task category reasoning (permitted: o3)',
    ])
    expect(report.agents).toBe(3)
  })

  it('notes a model given as a template expression instead of judging it', async () => {
    await using dir = tree({
      'a.yaml': 'agent_id: a\ncategory: reasoning\nmodel: "{{ env.MODEL }}"\n',
    })
    const result = await run(dir.path)
    expect(result.err).toBe(
      `note: ${dir.path}/a.yaml: agent a: model "{{ env.MODEL }}" is a template expression, not checked\n`,
    )
    expect(result.code).toBe(0)
  })
})

describe('agent configuration shapes', () => {
  it('finds agents in a document, a list, an agents list or map, and nested model objects', () => {
    const brief = (doc: unknown) =>
      agentsIn(doc, 'f').map((a) => [a.agent, a.tenant, a.category, a.model, a.provider])
    expect(brief({ agent_id: 'a', task_category: 'c', model: 'm' })).toEqual([
      ['a', 'default', 'c', 'm', undefined],
    ])
    // A bare list needs ids; an agents: list names an entry without one by its place.
    expect(brief([{ id: 'a', model: 'm' }, { model: 'n' }])).toEqual([
      ['a', 'default', undefined, 'm', undefined],
    ])
    expect(brief({ tenant: 't', agents: [{ model: 'm' }] })).toEqual([
      ['agents[0]', 't', undefined, 'm', undefined],
    ])
    expect(
      brief({
        agents: {
          a: { config: { llm: { model_id: 'm', provider: 'p', category: 'c' } } },
          b: { tenant_id: 'u', model: { name: 'n' } },
          c: { description: 'no model' },
        },
      }),
    ).toEqual([
      ['a', 'default', 'c', 'm', 'p'],
      ['b', 'u', undefined, 'n', undefined],
    ])
    expect(brief({ agent: { id: 'a', modelId: 'm' } })).toEqual([
      ['a', 'default', undefined, 'm', undefined],
    ])
    expect(brief({ name: 'no id', model: 'm' })).toEqual([])
  })

  it('collects the strings of prompt fields at any depth, with their paths', () => {
    const [agent] = agentsIn(
      {
        agent_id: 'a',
        model: 'm',
        description: 'gpt-4 is not a prompt here',
        llm: { system_prompt: 's', messages: [{ role: 'user', content: 'u' }] },
        promptTemplate: 't',
      },
      'f',
    )
    expect(agent?.prompts).toEqual([
      { field: 'llm.system_prompt', text: 's' },
      { field: 'llm.messages[0].role', text: 'user' },
      { field: 'llm.messages[0].content', text: 'u' },
      { field: 'promptTemplate', text: 't' },
    ])
  })

  it('finds policy model names in text as whole words only', () => {
    const vocabulary = ['gpt-4', 'openai/gpt-4o', 'o3', 'claude-opus-4']
    const named = (text: string) => modelsNamedIn(text, vocabulary)
    expect(named('Use gpt-4 here.')).toEqual(['gpt-4'])
    expect(named('Use GPT-4o, then (o3).')).toEqual(['gpt-4o', 'o3'])
    expect(named('openai/gpt-4 or model:o3 or claude-opus-4@20250514')).toEqual([
      'gpt-4',
      'o3',
      'claude-opus-4',
    ])
    expect(named('gpt-4-turbo, gpt-4.1, gpt-4o-mini, o3-mini, pro3, mygpt-4')).toEqual([])
  })
})

describe('the spendguard CLI', () => {
  it('exits 1 on a violation, 0 when all comply, 2 on a bad config, and prints help', async () => {
    await using dir = tree({
      'policy.yaml': `policy:\n  categories:\n    reasoning: { models: [o3] }\n`,
      'bad-policy.yaml': `policy:\n  categories:\n    reasoning: { models: [] }\n`,
      'agents/a.json': JSON.stringify({ agent_id: 'a', category: 'reasoning', model: 'gpt-4' }),
      'ok/a.json': JSON.stringify({ agent_id: 'a', category: 'reasoning', model: 'o3' }),
    })
    const config = join(dir.path, 'policy.yaml')
    const violation = await runCli([
      'policy',
      'check',
      join(dir.path, 'agents'),
      '--config',
      config,
    ])
    expect(violation.stdout).toMatch(/agent a \(category reasoning\): model gpt-4 is not permitted/)
    expect(violation.code).toBe(1)
    const ok = await runCli(['policy', 'check', join(dir.path, 'ok'), '--config', config])
    expect({ code: ok.code, stdout: ok.stdout }).toEqual({
      code: 0,
      stdout: '1 files, 1 agents, 0 violations\n',
    })
    const badConfig = join(dir.path, 'bad-policy.yaml')
    const bad = await runCli(['policy', 'check', join(dir.path, 'ok'), '--config', badConfig])
    expect(bad.stderr).toMatch(/policy\.categories\.reasoning\.models/)
    expect(bad.code).toBe(2)
    const help = await runCli(['policy', 'check', '--help'])
    expect(help.stdout).toMatch(/^usage: spendguard policy check DIR \[--config FILE\]/)
    expect(help.code).toBe(0)
  })
})
