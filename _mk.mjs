import { Kafka, logLevel, CompressionTypes } from 'kafkajs'
const t0 = Date.now(); const el = () => Date.now() - t0
const kafka = new Kafka({ brokers: ['127.0.0.1:19092'], clientId: 't', logLevel: logLevel.INFO })
const admin = kafka.admin(); await admin.connect()
console.log(await admin.createTopics({ topics: [{ topic: 'llm-calls', numPartitions: 2 }, {topic:'dlq', numPartitions:1}] }))
const p = kafka.producer({}); await p.connect()
console.log(el(), await p.send({ topic: 'llm-calls', messages: [{ key: 'a', value: Buffer.from([0,1,2,3,255]) }, { key: 'b', value: 'world', headers: {x:'1'} }] }))
console.log(await admin.fetchTopicOffsets('llm-calls'))
const c = kafka.consumer({ groupId: 'g1', heartbeatInterval: 500, sessionTimeout: 10000 }); await c.connect(); await c.subscribe({ topic: 'llm-calls', fromBeginning: true })
c.on(c.events.GROUP_JOIN, e => console.log(el(), 'join', JSON.stringify(e.payload)))
let n = 0
await new Promise(res => c.run({ autoCommit: false, eachBatch: async ({ batch, resolveOffset }) => { for (const m of batch.messages) { console.log(el(), batch.partition, m.offset, m.key?.toString(), m.value, m.headers); n++ } await c.commitOffsets([{topic: batch.topic, partition: batch.partition, offset: String(Number(batch.lastOffset())+1)}]); if (n>=2) res() } }))
console.log(el(), JSON.stringify(await admin.fetchOffsets({ groupId: 'g1', topics: ['llm-calls'] })))
await c.disconnect(); await p.disconnect(); await admin.disconnect()
