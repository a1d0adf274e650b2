import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { AuditedIdFilter } from '../../processors/audit/audited-id-filter.ts'

describe('audited id filter', () => {
  it('grows by layers past its capacity: every id added is held, few new ones are', () => {
    const filter = new AuditedIdFilter(50_000)
    const added: string[] = Array.from({ length: 400_000 }, randomUUID)
    for (const id of added) filter.add(id)
    // 50k, 100k, 200k and 400k: four layers, the last one still filling.
    expect(filter.layers).toBe(4)
    expect(filter.added).toBe(400_000)
    expect(added.every((id) => filter.mightHold(id))).toBe(true)
    // A false "maybe" costs a store lookup for its whole batch: a few per million at most.
    const fresh: string[] = Array.from({ length: 100_000 }, randomUUID)
    const falseMaybes = fresh.filter((id) => filter.mightHold(id)).length
    expect(falseMaybes).toBeLessThan(10)
  })
})
