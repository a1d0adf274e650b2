/**
 * One error tree for the whole product. Every error carries a stable `code`
 * and a `retriable` flag; retry loops read `retriable` and nothing else.
 */
export class SpendGuardError extends Error {
  readonly code: string
  readonly retriable: boolean

  constructor(
    message: string,
    options: { code: string; retriable?: boolean; cause?: unknown } = { code: 'SPENDGUARD' },
  ) {
    super(message, { cause: options.cause })
    this.name = new.target.name
    this.code = options.code
    this.retriable = options.retriable ?? false
  }
}

/** Bad configuration: names the field, never retriable. */
export class ConfigError extends SpendGuardError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'CONFIG_INVALID', retriable: false, cause })
  }
}

/** One field-level problem with an input, `path` in dotted form (`usage.input_tokens`). */
export interface FieldIssue {
  path: string
  message: string
}

/** An input that breaks the contract; `issues` name each bad field. */
export class ValidationError extends SpendGuardError {
  readonly issues: readonly FieldIssue[]

  constructor(issues: readonly FieldIssue[], context = 'invalid input') {
    super(`${context}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, {
      code: 'VALIDATION_FAILED',
      retriable: false,
    })
    this.issues = issues
  }
}

/** A price catalog that cannot be loaded or used. */
export class PricingError extends SpendGuardError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'PRICING_INVALID', retriable: false, cause })
  }
}

/** The audit store could not be reached or refused a write that may succeed later. */
export class SinkUnavailableError extends SpendGuardError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'SINK_UNAVAILABLE', retriable: true, cause })
  }
}

/** The embedded store's data directory is held by another process. */
export class StoreLockedError extends SpendGuardError {
  constructor(dataDir: string, cause?: unknown) {
    super(
      `the audit store in ${dataDir} is in use by another process (is \`spendguard start\` running?); ` +
        'stop it first, or point --data-dir at another directory, or configure a ClickHouse server URL',
      { code: 'STORE_LOCKED', retriable: false, cause },
    )
  }
}

/** A command that only reads the embedded store was pointed at a directory that has none. */
export class StoreMissingError extends SpendGuardError {
  constructor(dataDir: string) {
    super(
      `there is no audit store at ${dataDir} yet; run \`spendguard start\` or \`spendguard demo\` ` +
        'to create one, or point --data-dir at an existing store',
      { code: 'STORE_NOT_FOUND', retriable: false },
    )
  }
}

/** The emitter's buffer is full: the event was dropped and counted. */
export class BufferFullError extends SpendGuardError {
  constructor(capacity: number) {
    super(`emitter buffer is full (${capacity} events); event dropped`, {
      code: 'BUFFER_FULL',
      retriable: true,
    })
  }
}

/** True when an unknown thrown value is worth retrying. */
export function isRetriable(error: unknown): boolean {
  return error instanceof SpendGuardError && error.retriable
}
