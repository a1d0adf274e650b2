import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { onTestFinished } from 'vitest'

/** One request a receiver took. */
export interface Received {
  path: string
  headers: IncomingMessage['headers']
  body: string
}

/**
 * A local HTTP receiver (a Slack webhook, PagerDuty's Events API, a webhook) that keeps every
 * request and answers the n-th with `reply(n)`; closed when the test finishes. `port` reopens a
 * receiver that was down on the port it had.
 */
export async function recordingReceiver(
  reply: (n: number) => { status: number; headers?: Record<string, string> } = () => ({
    status: 200,
  }),
  port = 0,
): Promise<{ url: string; port: number; received: Received[]; server: Server }> {
  const received: Received[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body })
      const answer = reply(received.length)
      response.writeHead(answer.status, answer.headers ?? {}).end(answer.status < 300 ? 'ok' : 'no')
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  onTestFinished(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const bound = (server.address() as AddressInfo).port
  return { url: `http://127.0.0.1:${bound}`, port: bound, received, server }
}
