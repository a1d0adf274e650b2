import type { TrustedKey } from './control-command.ts'
import {
  GuardState,
  type CallContext,
  type GuardCounters,
  type GuardDecision,
} from './guard-state.ts'

export interface GuardOptions {
  /** The SpendGuard HTTP API (`spendguard start`): the guard follows `/v1/controls/stream`. */
  url: string
  /** A read token, when the API has tokens. */
  token?: string | undefined
  /** Public keys whose signatures the guard obeys (several during a rotation). */
  trustedKeys: readonly TrustedKey[]
  /**
   * When the command source has been unreachable (or never reached) longer than
   * `unreachableAfterMs`: `open` keeps obeying the commands it holds and allows the rest,
   * `closed` blocks every call.
   */
  failMode: 'open' | 'closed'
  unreachableAfterMs?: number
  now?: () => number
  /** Told of each command ignored (forged, unsigned, unknown key, expired) and of reconnects. */
  onEvent?: (
    event: { kind: 'ignored'; reason: string } | { kind: 'disconnected'; error: string },
  ) => void
}

export interface Guard {
  /** Resolves once the guard has read every command issued before it connected. */
  readonly ready: Promise<void>
  /** What the next LLM call may do: in-process, a few map lookups, no network. */
  check(context: CallContext): GuardDecision
  readonly counters: GuardCounters
  close(): void
}

/** Splits a server-sent-event stream into events (`id`, `event`, `data`). */
function* sseEvents(buffer: {
  text: string
}): Generator<{ id?: string; event: string; data: string }> {
  for (;;) {
    const end = buffer.text.indexOf('\n\n')
    if (end < 0) return
    const block = buffer.text.slice(0, end)
    buffer.text = buffer.text.slice(end + 2)
    let id: string | undefined
    let event = 'message'
    const data: string[] = []
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'id') id = value
      else if (field === 'event') event = value
      else if (field === 'data') data.push(value)
    }
    if (data.length > 0 || id !== undefined)
      yield { ...(id === undefined ? {} : { id }), event, data: data.join('\n') }
  }
}

/**
 * A guard that follows the control commands of a running `spendguard start` over its
 * server-sent-event stream, resuming from the last command it read after a reconnect, and
 * answers `check` from memory before each LLM call.
 */
export function createGuard(options: GuardOptions): Guard {
  const now = options.now ?? Date.now
  const state = new GuardState(options.trustedKeys)
  const unreachableAfterMs = options.unreachableAfterMs ?? 30_000
  const controller = new AbortController()
  let lastId = '0'
  let connected = false
  /** Since when the source has been out of reach (the start counts: not caught up yet). */
  let lostSince = now()
  let markReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (markReady = resolve))

  /** The caller's listener must never break the guard (nor reject inside it). */
  const notify = (event: Parameters<NonNullable<GuardOptions['onEvent']>>[0]) => {
    try {
      options.onEvent?.(event)
    } catch {
      // Ignored: a listener's failure is the listener's.
    }
  }

  async function follow(): Promise<void> {
    let delay = 250
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(`${options.url.replace(/\/$/, '')}/v1/controls/stream`, {
          headers: {
            accept: 'text/event-stream',
            'last-event-id': lastId,
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          },
          signal: controller.signal,
        })
        if (response.status !== 200 || !response.body) {
          await response.body?.cancel().catch(() => {})
          throw new Error(`the control stream answered ${response.status}`)
        }
        const decoder = new TextDecoder()
        const buffer = { text: '' }
        for await (const chunk of response.body) {
          // Lines may end in CRLF, LF or CR (the SSE format allows each).
          buffer.text += decoder
            .decode(chunk as Uint8Array, { stream: true })
            .replace(/\r\n?/g, '\n')
          for (const event of sseEvents(buffer)) {
            if (event.event === 'caught-up') {
              connected = true
              delay = 250
              markReady()
              continue
            }
            if (event.event !== 'command') continue
            if (event.id !== undefined) lastId = event.id
            let raw: unknown
            try {
              raw = JSON.parse(event.data)
            } catch {
              raw = null
            }
            const verdict = state.apply(raw, now())
            if (!verdict.ok) notify({ kind: 'ignored', reason: verdict.reason })
          }
        }
        throw new Error('the control stream ended')
      } catch (error) {
        if (controller.signal.aborted) return
        if (connected) lostSince = now()
        connected = false
        notify({
          kind: 'disconnected',
          error: error instanceof Error ? error.message : String(error),
        })
        await new Promise((resolve) => setTimeout(resolve, delay).unref())
        delay = Math.min(delay * 2, 5000)
      }
    }
  }
  void follow()

  return {
    ready,
    counters: state.counters,
    check(context) {
      const at = now()
      if (!connected && at - lostSince > unreachableAfterMs && options.failMode === 'closed')
        return {
          action: 'block',
          reason: `the control source has been unreachable for over ${unreachableAfterMs} ms (fail closed)`,
          commandId: 'fail-closed',
        }
      return state.check(context, at)
    },
    close() {
      controller.abort()
    },
  }
}
