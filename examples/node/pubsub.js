// Publish/subscribe with mqttkit: events, wait-for-ack publishes and `for await`.
// Run: MQTT_URL=mqtt://127.0.0.1:1883 node examples/node/pubsub.js
'use strict'
const mqttkit = require('../../bindings-node')

async function main () {
  const url = process.env.MQTT_URL || 'mqtt://127.0.0.1:1883'
  const client = await mqttkit.connect(url, { clientId: 'example-pubsub', timeouts: 'localNetwork' })
  client.on('message', (topic, payload) => console.log(`event:    ${topic} = ${payload}`))

  await client.subscribe('sensors/+/temp', { qos: 1 })
  const result = await client.publish('sensors/kitchen/temp', '21.5', { qos: 1 })
  console.log(`publish acknowledged, packet id ${result.packetId}`)
  client.publishNowait('sensors/hall/temp', '19.0') // fire-and-forget

  let count = 0
  for await (const message of client.messages()) {
    console.log(`iterator: ${message.topic} = ${message.payload}`)
    if (++count === 1) break
  }
  await client.end()
}

main().catch((error) => {
  console.error(`${error.code}: ${error.message}`)
  process.exit(1)
})
