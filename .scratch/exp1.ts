import avro from 'avsc'
import { crc64Avro } from '/work/main/schemas/fingerprint.ts'
import { readLlmCallSchema } from '/work/main/schemas/avro-codec.ts'
console.log(crc64Avro('"int"').toString(16))
const t = avro.Type.forSchema(readLlmCallSchema())
console.log(JSON.stringify(t.schema()).slice(0, 600))
console.log(JSON.stringify(t.schema({exportAttrs:true})).slice(0, 300))
console.log(t.fingerprint('sha256').toString('hex'))
