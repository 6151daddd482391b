// Every wait-for-ack operation and its fire-and-forget form, from ESM, with error codes.
// Run: MQTT_URL=mqtt://127.0.0.1:1883 node examples/node/operations.mjs
import { connect, MqttError } from '../../bindings-node/index.mjs'

const url = process.env.MQTT_URL || 'mqtt://127.0.0.1:1883'
const client = await connect(url, { clientId: 'example-ops', reconnect: { initialDelay: 100, maxDelay: 2000 } })
client.on('published', (ack) => console.log('published (nowait) ack:', ack.packetId))

const granted = await client.subscribe({ 'ops/a': { qos: 1 }, 'ops/b': 0 })
console.log('granted:', granted.reasonCodes)
console.log('QoS 2 publish:', await client.publish('ops/a', Buffer.from('hi'), { qos: 2, timeout: 2000 }))
client.publishNowait('ops/a', new Uint8Array([1, 2, 3]), { qos: 1 })
console.log('ping round trip (ms):', (await client.ping()).roundTrip.toFixed(3))
console.log('unsubscribe:', (await client.unsubscribe(['ops/a', 'ops/b'])).reasonCodes)

try {
  await client.publish('not/+/valid', 'x')
} catch (error) {
  console.log('expected error:', error instanceof MqttError, error.code)
}
await client.disconnect()
await client.connect()
await client.end()
console.log('done')
