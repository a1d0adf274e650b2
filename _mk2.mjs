import { Kafka, logLevel, CompressionTypes } from 'kafkajs'
const kafka = new Kafka({ brokers: ['127.0.0.1:19092'], clientId: 't', logLevel: logLevel.ERROR })
const admin = kafka.admin(); await admin.connect()
const topic = process.argv[2]
console.log(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] }))
const variants = [ {name:'plain', p:{}, s:{}}, {name:'gzip', p:{}, s:{compression: CompressionTypes.GZIP}}, {name:'idem', p:{idempotent:true, maxInFlightRequests:1}, s:{}} ]
for (const v of variants) {
  const p = kafka.producer(v.p); await p.connect()
  const r = await p.send({ topic, ...v.s, messages: [{ key: 'a', value: Buffer.from([0,1,2,3,255]) }, { key: 'b', value: 'world' }] })
  console.log(v.name, JSON.stringify(r), JSON.stringify(await admin.fetchTopicOffsets(topic)))
  await p.disconnect()
}
await admin.disconnect()
