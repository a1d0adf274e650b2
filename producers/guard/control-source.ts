/**
 * Where a guard's commands come from: the SSE stream of `spendguard start`, or the compacted
 * `control` topic on Kafka. A source reports each raw command in order, when it has read
 * everything issued before it connected, when it hears from the source at all (heartbeats
 * included: the guard's watchdog), and when it lost the source.
 */
export interface ControlSourceHandlers {
  /** One command as received; the guard verifies it. `position` orders commands of a source. */
  command(raw: unknown, position: string): void
  /** Everything issued before the source was (re)joined has been delivered. */
  caughtUp(): void
  /** Any sign of life: a message, a heartbeat, a fetch answered. */
  contact(): void
  /** The source is out of reach; the source keeps trying to get it back. */
  lost(error: string): void
}

export interface ControlSource {
  start(handlers: ControlSourceHandlers): void
  close(): Promise<void>
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

export interface SseSourceOptions {
  /** The SpendGuard HTTP API (`spendguard start`): the source follows `/v1/controls/stream`. */
  url: string
  /** A read token, when the API has tokens. */
  token?: string | undefined
  /**
   * A stream that stays silent this long is taken as lost and reopened (the server writes a
   * keep-alive every 15 s, so silence means a dead connection nobody closed).
   */
  silenceMs?: number
}

/**
 * Follows `GET /v1/controls/stream`, resuming from the last event id after a reconnect, with
 * backoff doubling from 250 ms to 5 s.
 */
export function sseControlSource(options: SseSourceOptions): ControlSource {
  const controller = new AbortController()
  const silenceMs = options.silenceMs ?? 45_000
  let lastId = '0'

  async function follow(handlers: ControlSourceHandlers): Promise<void> {
    let delay = 250
    while (!controller.signal.aborted) {
      const attempt = new AbortController()
      const abortAttempt = () => attempt.abort()
      controller.signal.addEventListener('abort', abortAttempt)
      let watchdog: NodeJS.Timeout | undefined
      let silent = false
      const arm = () => {
        clearTimeout(watchdog)
        watchdog = setTimeout(() => {
          silent = true
          attempt.abort()
        }, silenceMs).unref()
      }
      try {
        arm()
        const response = await fetch(`${options.url.replace(/\/$/, '')}/v1/controls/stream`, {
          headers: {
            accept: 'text/event-stream',
            'last-event-id': lastId,
            ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          },
          signal: attempt.signal,
        })
        if (response.status !== 200 || !response.body) {
          await response.body?.cancel().catch(() => {})
          throw new Error(`the control stream answered ${response.status}`)
        }
        const decoder = new TextDecoder()
        const buffer = { text: '' }
        for await (const chunk of response.body) {
          arm()
          handlers.contact()
          // Lines may end in CRLF, LF or CR (the SSE format allows each).
          buffer.text += decoder
            .decode(chunk as Uint8Array, { stream: true })
            .replace(/\r\n?/g, '\n')
          for (const event of sseEvents(buffer)) {
            if (event.event === 'caught-up') {
              delay = 250
              handlers.caughtUp()
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
            handlers.command(raw, lastId)
          }
        }
        throw new Error('the control stream ended')
      } catch (error) {
        if (controller.signal.aborted) return
        handlers.lost(
          silent
            ? `the control stream was silent for ${silenceMs} ms`
            : error instanceof Error
              ? error.message
              : String(error),
        )
        await new Promise((resolve) => setTimeout(resolve, delay).unref())
        delay = Math.min(delay * 2, 5000)
      } finally {
        clearTimeout(watchdog)
        controller.signal.removeEventListener('abort', abortAttempt)
      }
    }
  }

  return {
    start(handlers) {
      void follow(handlers)
    },
    close() {
      controller.abort()
      return Promise.resolve()
    },
  }
}
