import { splitModelId } from '../pricing/model-id.ts'
import type { PriceResult } from '../pricing/pricer.ts'
import type { Detection } from './detection.ts'
import type { Detector } from './detector.ts'
import type { CategoryPolicy, PolicyRules } from './rules.ts'
import { StagedMap, type StageCursor } from './staged-map.ts'

/** The names a model id answers to: the id without provider prefix, and its price entry. */
export function modelNames(model: string, price?: PriceResult): string[] {
  const names = [splitModelId(model).model]
  if (price?.status === 'priced') {
    names.push(splitModelId(price.pricedModelId).model, price.entry.id.toLowerCase())
  }
  return names
}

/** True when one of a model's names is in the list (exact ids, any case, provider prefix ignored). */
export function modelListed(names: readonly string[], list: readonly string[]): boolean {
  return list.some((entry) => names.includes(splitModelId(entry).model))
}

export type PolicyVerdict =
  | { ok: true }
  | {
      ok: false
      rule: 'policy:model' | 'policy:unregistered_category' | 'policy:no_category'
      reason: string
      premium: boolean
      category?: CategoryPolicy | undefined
    }

/** The policy in effect for a tenant: its own categories and mode, or the global ones. */
export function policyFor(
  rules: PolicyRules,
  tenant: string,
): { mode: PolicyRules['mode']; categories: Record<string, CategoryPolicy> } {
  const own = rules.tenants[tenant]
  return { mode: own?.mode ?? rules.mode, categories: own?.categories ?? rules.categories }
}

/**
 * Is `model` permitted for `category` under a tenant's policy? Shared by the live detector and
 * `spendguard policy check`. With no categories configured, everything is permitted.
 */
export function judgeModel(
  rules: PolicyRules,
  tenant: string,
  category: string | undefined,
  names: readonly string[],
): PolicyVerdict {
  const { categories } = policyFor(rules, tenant)
  if (Object.keys(categories).length === 0) return { ok: true }
  const premium = modelListed(names, rules.premium_models)
  const model = names[0]!
  if (category === undefined) {
    if (!rules.require_category) return { ok: true }
    return {
      ok: false,
      rule: 'policy:no_category',
      reason: `model ${model} used with no task_category`,
      premium,
    }
  }
  const permitted = categories[category]
  if (!permitted)
    return {
      ok: false,
      rule: 'policy:unregistered_category',
      reason: `task category ${category} is not registered in the policy`,
      premium,
    }
  if (modelListed(names, permitted.models)) return { ok: true }
  return {
    ok: false,
    rule: 'policy:model',
    reason: `model ${model} is not permitted for task category ${category} (permitted: ${permitted.models.join(', ')})`,
    premium,
    category: permitted,
  }
}

/**
 * Model policy: a call whose model is not permitted for its task category, a call of an
 * unregistered category or of none (severity critical when the model is premium). `strict`
 * asks the control plane to block the agent (or route it to the category's `route_to`),
 * `audit` alerts only, `off` checks nothing. A call with a `fallback` record is a cost
 * exception: alerted once and allowed for `fallback_exception_minutes` from the exception's
 * first call, a violation after that. Each violation alerts once per tenant, agent, category
 * and model; every violating call carries the flag.
 */
export function createPolicyDetector(rules: PolicyRules, cursor: StageCursor): Detector {
  const alerted = new StagedMap<string, number>(cursor)
  /** Exception key -> event time of its first call. */
  const exceptions = new StagedMap<string, number>(cursor)
  const limitMs = rules.fallback_exception_minutes * 60_000
  return {
    inspect({ call, price }) {
      const { mode, categories } = policyFor(rules, call.tenant_id)
      if (mode === 'off' || Object.keys(categories).length === 0) return []
      const names = modelNames(call.model, price)
      const verdict = judgeModel(rules, call.tenant_id, call.task_category, names)
      if (verdict.ok) return []
      const t = call.occurred_at
      const agent = { kind: 'agent', id: call.agent_id }
      const evidence = {
        window: 'call',
        observed: call.model,
        threshold: verdict.category
          ? verdict.category.models.join(', ')
          : 'a registered task_category',
        task_category: call.task_category ?? null,
        mode,
        event_ids: [call.event_id],
      }
      if (call.fallback) {
        const key = `${call.tenant_id}|${call.agent_id}|${call.fallback.exception_id ?? call.fallback.from_model}`
        const since = exceptions.get(key) ?? t
        if (!exceptions.get(key)) exceptions.set(key, t)
        if (t - since <= limitMs) {
          if (alerted.get(`exception|${key}`) !== undefined) return [exceptionFlag()]
          alerted.set(`exception|${key}`, t)
          return [
            {
              type: 'policy',
              rule: 'policy:fallback_exception',
              severity: 'warning',
              tenant: call.tenant_id,
              scope: agent,
              summary: `agent ${call.agent_id} escalated from ${call.fallback.from_model} to ${call.model} (${call.fallback.reason}): a cost exception allowed for ${rules.fallback_exception_minutes} minutes`,
              episode: key,
              evidence: {
                ...evidence,
                from_model: call.fallback.from_model,
                exception_id: call.fallback.exception_id ?? null,
                allowed_until: new Date(since + limitMs).toISOString(),
              },
              flag: 'policy:fallback_exception',
            },
          ]
        }
      }
      const episode = `${call.agent_id}|${call.task_category ?? ''}|${names[0]}`
      const alertedKey = `${call.tenant_id}|${episode}`
      const flag = verdict.rule
      if (alerted.get(alertedKey) !== undefined) return [{ ...violationOf(), silent: true }]
      alerted.set(alertedKey, t)
      return [violationOf()]

      function exceptionFlag(): Detection {
        return {
          type: 'policy',
          rule: 'policy:fallback_exception',
          severity: 'info',
          tenant: call.tenant_id,
          scope: agent,
          summary: 'cost exception in effect',
          episode: `${call.tenant_id}|${call.agent_id}`,
          evidence,
          flag: 'policy:fallback_exception',
          silent: true,
        }
      }

      function violationOf(): Detection {
        if (verdict.ok) throw new Error('unreachable')
        const expired = call.fallback ? ' (its fallback exception has expired)' : ''
        const route = verdict.category?.route_to
        const downgrade = rules.strict_action === 'downgrade' && route !== undefined
        return {
          type: 'policy',
          rule: flag,
          severity: verdict.premium ? 'critical' : 'warning',
          tenant: call.tenant_id,
          scope: agent,
          summary: `agent ${call.agent_id}: ${verdict.reason}${expired}`,
          episode,
          evidence: {
            ...evidence,
            premium: verdict.premium,
            ...(route ? { route_to: route } : {}),
          },
          flag,
          ...(mode === 'strict'
            ? {
                command: downgrade
                  ? { action: 'downgrade' as const, scope: agent, model: route }
                  : { action: 'block' as const, scope: agent },
              }
            : {}),
        }
      }
    },
    commit(stage) {
      alerted.commit(stage)
      exceptions.commit(stage)
    },
    discard(stage) {
      alerted.discard(stage)
      exceptions.discard(stage)
    },
    remember(alert) {
      const tenant = (alert.evidence as { tenant?: string }).tenant
      if (tenant === undefined || !alert.type.startsWith('policy.')) return
      // The dedup key is tenant|rule|scope|episode; the episode holds '|' itself.
      const episode = alert.dedup_key.split('|').slice(3).join('|')
      const at = Date.parse(alert.occurred_at)
      if (alert.type === 'policy.fallback_exception') {
        alerted.set(`exception|${episode}`, at)
        if (exceptions.get(episode) === undefined) exceptions.set(episode, at)
      } else alerted.set(`${tenant}|${episode}`, at)
    },
    sweep(now) {
      // Kept long after they expire, so that an expired exception id is not granted again.
      exceptions.sweep((since) => since < now - limitMs - 30 * 24 * 60 * 60_000)
    },
  }
}
