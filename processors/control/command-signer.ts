import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import {
  canonicalBytes,
  type ControlCommand,
  type UnsignedCommand,
} from '../../producers/guard/control-command.ts'

/** Signs control commands with the one private key the processor and the CLI hold. */
export interface CommandSigner {
  readonly keyId: string
  /** The public key guards must trust, PEM. */
  readonly publicKeyPem: string
  sign(command: Omit<UnsignedCommand, 'key_id'>): ControlCommand
}

export function createCommandSigner(keyId: string, privateKey: KeyObject): CommandSigner {
  const publicKeyPem = createPublicKey(privateKey)
    .export({ type: 'spki', format: 'pem' })
    .toString()
  return {
    keyId,
    publicKeyPem,
    sign(command) {
      const unsigned: UnsignedCommand = { ...command, key_id: keyId }
      const signature = sign(null, canonicalBytes(unsigned), privateKey).toString('base64')
      return { ...unsigned, signature }
    },
  }
}

/**
 * The signing key in a PEM file, made on first use (readable by its owner only), with the
 * public key beside it (`<file>.pub`) for guards to trust. The key id is the file's own name
 * unless given.
 */
export function loadOrCreateSigningKey(file: string, keyId?: string): CommandSigner {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true })
    const { privateKey, publicKey } = generateKeyPairSync('ed25519')
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 })
    chmodSync(file, 0o600)
    writeFileSync(`${file}.pub`, publicKey.export({ type: 'spki', format: 'pem' }))
  }
  const privateKey = createPrivateKey(readFileSync(file))
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`${file} is not an Ed25519 private key`)
  return createCommandSigner(keyId ?? 'spendguard-1', privateKey)
}
