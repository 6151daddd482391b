'use strict'
// Interop with MQTT.js as the peer, both through Mosquitto.

const test = require('node:test')
const assert = require('node:assert/strict')
const mqtt = require('mqtt')
const mqttkit = require('..')
const { startMosquitto, once, collect } = require('./helpers')

let broker
test.before(async () => { broker = await startMosquitto() })
test.after(async () => { await broker.stop() })

for (const protocolVersion of [5, 4]) {
  test(`mqttkit publishes, MQTT.js receives, and back (protocol ${protocolVersion})`, async () => {
    const peer = await mqtt.connectAsync(broker.url, { clientId: `mqttjs-${protocolVersion}`, protocolVersion })
    const ours = await mqttkit.connect(broker.url, { clientId: `ours-${protocolVersion}`, protocolVersion })
    try {
      await peer.subscribeAsync('io/to-peer/#', { qos: 2 })
      await ours.subscribe('io/to-us/#', { qos: 2 })
      const toPeer = collect(peer, 3)
      for (const qos of [0, 1, 2]) await ours.publish(`io/to-peer/${qos}`, `from mqttkit ${qos}`, { qos })
      const got = await toPeer
      assert.deepEqual(got.map((m) => m.payload.toString()), [0, 1, 2].map((q) => `from mqttkit ${q}`))
      assert.deepEqual(got.map((m) => m.packet.qos), [0, 1, 2])

      const toUs = collect(ours, 3)
      for (const qos of [0, 1, 2]) await peer.publishAsync(`io/to-us/${qos}`, `from MQTT.js ${qos}`, { qos })
      const back = await toUs
      assert.deepEqual(back.map((m) => m.payload.toString()), [0, 1, 2].map((q) => `from MQTT.js ${q}`))
      assert.deepEqual(back.map((m) => m.packet.qos), [0, 1, 2])
    } finally {
      await ours.end()
      await peer.endAsync()
    }
  })
}

test('v5 user properties and response topic cross between the libraries', async () => {
  const peer = await mqtt.connectAsync(broker.url, { clientId: 'mqttjs-props', protocolVersion: 5 })
  const ours = await mqttkit.connect(broker.url, { clientId: 'ours-props' })
  try {
    await peer.subscribeAsync('props/req', { qos: 1 })
    const request = once(peer, 'message')
    await ours.publish('props/req', 'q', {
      qos: 1,
      properties: { responseTopic: 'props/resp', userProperties: { app: 'mqttkit' } }
    })
    const [, , packet] = await request
    assert.equal(packet.properties.responseTopic, 'props/resp')
    assert.deepEqual({ ...packet.properties.userProperties }, { app: 'mqttkit' })

    await ours.subscribe('props/resp', { qos: 1 })
    const reply = once(ours, 'message')
    await peer.publishAsync('props/resp', 'a', { qos: 1, properties: { userProperties: { from: 'mqttjs' }, contentType: 'text/plain' } })
    const [topic, payload, ourPacket] = await reply
    assert.equal(topic, 'props/resp')
    assert.equal(payload.toString(), 'a')
    assert.deepEqual(ourPacket.properties.userProperties, { from: 'mqttjs' })
    assert.equal(ourPacket.properties.contentType, 'text/plain')
  } finally {
    await ours.end()
    await peer.endAsync()
  }
})
