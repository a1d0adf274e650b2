/**
 * CRC-64-AVRO, the 64-bit Rabin fingerprint that the Avro specification defines for
 * schema fingerprints and for the single-object encoding header.
 */
const EMPTY = 0xc15d213aa4d7a795n
const MASK = (1n << 64n) - 1n

const TABLE: bigint[] = Array.from({ length: 256 }, (_, i) => {
  let fp = BigInt(i)
  for (let j = 0; j < 8; j++) fp = (fp >> 1n) ^ (EMPTY & -(fp & 1n))
  return fp & MASK
})

/** Fingerprints the UTF-8 bytes of a schema's parsing canonical form. */
export function crc64Avro(text: string): bigint {
  let fp = EMPTY
  for (const byte of Buffer.from(text, 'utf8')) {
    fp = (fp >> 8n) ^ TABLE[Number((fp ^ BigInt(byte)) & 0xffn)]!
  }
  return fp & MASK
}

/** The fingerprint as the 8 little-endian bytes that the single-object header carries. */
export function fingerprintBytes(text: string): Buffer {
  const bytes = Buffer.alloc(8)
  bytes.writeBigUInt64LE(crc64Avro(text))
  return bytes
}
