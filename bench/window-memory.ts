/**
 * Memory of the live windows: the heap they hold for a number of active sessions (each with a
 * call in the last 15 minutes, spread over 10,000 users, 50 agents and 5 features), measured
 * after a full garbage collection, and the bytes per active key that makes.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { SpendWindows } from '../processors/windows/spend-windows.ts'

setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

export interface WindowMemory {
  sessions: number
  keys: number
  heapBytes: number
  bytesPerSession: number
  bytesPerKey: number
}

export function measureWindowMemory(sessions: number): WindowMemory {
  const now = Date.UTC(2026, 10, 24, 12)
  collect()
  const before = process.memoryUsage().heapUsed
  const windows = new SpendWindows()
  for (let i = 0; i < sessions; i++) {
    windows.add(
      {
        occurred_at: now - (i % 900) * 1000,
        tenant_id: 'default',
        agent_id: `agent-${i % 50}`,
        feature_id: `feature-${i % 5}`,
        user_id: `user-${i % 10_000}`,
        session_id: `session-${i}`,
        team_id: `team-${i % 8}`,
        model: i % 3 === 0 ? 'gpt-4o' : 'gpt-4o-mini',
        task_category: 'chat',
        status: 'ok',
        input_tokens: 1200,
        output_tokens: 300,
        cache_read_tokens: 0,
        cache_write_tokens: 0,
        reasoning_tokens: 0,
        latency_ms: 850,
      },
      BigInt(60_000_000_000 + (i % 997) * 1_000_000_000),
      false,
      now,
    )
  }
  collect()
  const heapBytes = process.memoryUsage().heapUsed - before
  const keys = Object.values(windows.keyCounts()).reduce((sum, n) => sum + n, 0)
  // Keep the windows alive until measured.
  if (windows.keyCounts().session !== sessions) throw new Error('every session must be held')
  return {
    sessions,
    keys,
    heapBytes,
    bytesPerSession: heapBytes / sessions,
    bytesPerKey: heapBytes / keys,
  }
}
