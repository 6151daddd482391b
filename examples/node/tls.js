// TLS with mqttkit: trust a private CA (`ca`), optionally present a client certificate
// (`cert`, `key`) for mutual TLS. The option names are those of MQTT.js and `tls.connect`.
// Run: MQTTS_URL=mqtts://127.0.0.1:8883 MQTT_CA=ca.crt node examples/node/tls.js
//      (add MQTT_CERT=client.crt MQTT_KEY=client.key for a listener that requires them)
'use strict'
const fs = require('node:fs')
const mqttkit = require('../../bindings-node')

async function main () {
  const url = process.env.MQTTS_URL || 'mqtts://127.0.0.1:8883'
  const options = {
    clientId: 'example-tls',
    ca: fs.readFileSync(process.env.MQTT_CA || 'ca.crt'),
    ALPNProtocols: ['mqtt'],
    timeouts: 'localNetwork'
  }
  if (process.env.MQTT_CERT) {
    options.cert = fs.readFileSync(process.env.MQTT_CERT)
    options.key = fs.readFileSync(process.env.MQTT_KEY)
  }
  const client = new mqttkit.MqttClient(url, options)
  client.once('peerCertificate', (der) => console.log(`server certificate: ${der.length} bytes (DER)`))
  await client.connect()
  await client.subscribe('secure/#', { qos: 1 })
  const arrived = new Promise((resolve) => client.once('message', (topic, payload) => resolve(`${topic} = ${payload}`)))
  await client.publish('secure/hello', 'over TLS', { qos: 1 })
  console.log(`received: ${await arrived}`)
  await client.end()
}

main().catch((error) => {
  console.error(`${error.code}: ${error.message}`)
  process.exit(1)
})
