import { describe, expect, it } from 'vitest'
import { RecentIds } from '../../processors/audit/recent-ids.ts'

describe('recent ids', () => {
  it('keeps the newest ids up to its capacity, evicting the oldest first', () => {
    const recent = new RecentIds(3)
    for (const id of ['a', 'b', 'c', 'b', 'd']) recent.add(id)
    expect(['a', 'b', 'c', 'd'].map((id) => recent.has(id))).toEqual([false, true, true, true])
    expect(recent.size).toBe(3)
    recent.add('e')
    expect(recent.has('b')).toBe(false)
    expect(recent.has('e')).toBe(true)
  })

  it('stays exact far past its capacity', () => {
    const recent = new RecentIds(1000)
    for (let i = 0; i < 50_000; i++) recent.add(`id-${i}`)
    expect(recent.size).toBe(1000)
    expect(recent.has('id-48999')).toBe(false)
    expect(recent.has('id-49000')).toBe(true)
    expect(recent.has('id-49999')).toBe(true)
  })
})
