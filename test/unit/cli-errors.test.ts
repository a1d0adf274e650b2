import { createServer, connect, type AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { actionableMessage } from '../../cli/cli-errors.ts'

/** The error a real socket operation fails with. */
function failure(run: (reject: (error: Error) => void) => void): Promise<Error> {
  return new Promise((resolve) => run(resolve))
}

describe('errors a person can act on', () => {
  it('a port in use names the address and the setting to change', async () => {
    const first = createServer()
    await new Promise<void>((resolve) => first.listen(0, '127.0.0.1', resolve))
    const { port } = first.address() as AddressInfo
    const error = await failure((reject) =>
      createServer().on('error', reject).listen(port, '127.0.0.1'),
    )
    first.close()
    expect(actionableMessage(error)).toBe(
      `cannot listen on 127.0.0.1:${port}: the port is in use (is another spendguard start running?). Choose another with --port or SPENDGUARD_HTTP_PORT.`,
    )
  })

  it('a server that does not answer is named with what to check, also behind a cause', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const { port } = closed.address() as AddressInfo
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const refused = await failure((reject) => connect(port, '127.0.0.1').on('error', reject))
    const wrapped = new Error('query failed', { cause: refused })
    expect(actionableMessage(wrapped)).toMatch(
      new RegExp(
        `^cannot reach 127\\.0\\.0\\.1:${port}: nothing listens there \\(connection refused\\)\\. Check that it runs and the address of the server \\(clickhouse\\.url`,
      ),
    )
    const kafka = Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
      name: 'KafkaJSNonRetriableError',
      cause: Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError' }),
    })
    expect(actionableMessage(kafka)).toBe(
      'cannot reach the Kafka brokers: Connection error. Check that they run and kafka.brokers in the configuration (or SPENDGUARD_KAFKA_BROKERS).',
    )
  })

  it('a real surprise is left to the stack trace', () => {
    expect(actionableMessage(new TypeError('x is not a function'))).toBeUndefined()
  })
})
