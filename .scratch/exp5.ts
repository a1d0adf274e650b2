import { llmCallSchema } from '../schemas/llm-call.ts'
const s: any = llmCallSchema
console.log(s.def.type, Object.keys(s.shape).length)
for (const [k, v] of Object.entries<any>(s.shape)) {
  const d = v.def
  console.log(k, d.type, d.innerType?.def.type, d.type === 'default' ? JSON.stringify(d.defaultValue) : '', d.innerType?.def.type === 'union' || d.type==='union' ? (d.innerType ?? v).def.options.map((o: any) => o.def.type + '/' + (o.def.in?.def.type ?? '')) : '', v.options ?? d.innerType?.options ?? '')
}
