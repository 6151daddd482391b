'use strict'
// Operations reach the wire in call order, in both forms: wait-for-ack operations started
// without awaiting in between (Promise.all) are handed to the connection one after the
// other, even past a full command queue.

const test = require('node:test')
const assert = require('node:assert/strict')
const mqttkit = require('..')
const { startMosquitto, within, collect } = require('./helpers')

let broker
test.before(async () => { broker = await startMosquitto() })
test.after(async () => { await broker.stop() })

const clients = []
async function client (id, options = {}) {
  const c = await mqttkit.connect(broker.url, { clientId: id, timeouts: 'localNetwork', ...options })
  clients.push(c)
  return c
}
test.afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => within(c.end(), 5000, 'end')))
})

// One QoS per run: the core may send QoS 0 publications ahead of QoS 1 ones that wait for
// the server's Receive Maximum (MQTT orders messages per QoS level only).
for (const qos of [0, 1]) {
  test(`publishes started without awaiting arrive in call order, whatever their form (QoS ${qos})`, async () => {
    const sub = await client(`order-sub-${qos}`)
    // A small command queue, so that most calls wait for room in it.
    const pub = await client(`order-pub-${qos}`, { commandQueueSize: 16 })
    await sub.subscribe('order/#', { qos })
    const N = 6000
    const arrived = collect(sub, N, 30000)
    const calls = []
    for (let i = 0; i < N; i++) {
      const payload = String(i)
      switch (i % 5) {
        case 0: calls.push(pub.publish('order/a', payload, { qos })); break
        // Properties and per-call timeouts take the one-by-one native path, the plain calls
        // the batched one: the order holds across both.
        case 1: calls.push(pub.publish('order/b', payload, { qos, properties: { contentType: 'text/plain' } })); break
        case 2: pub.publishNowait('order/a', payload, { qos }); break
        case 3: calls.push(pub.publish('order/b', payload, { qos, timeout: 20000 })); break
        default: pub.publishNowait('order/a', payload, { qos, properties: { userProperties: { i: payload } } })
      }
    }
    await within(Promise.all(calls), 30000, 'publishing')
    const messages = await arrived
    assert.deepEqual(messages.map((m) => Number(m.payload.toString())), Array.from({ length: N }, (_, i) => i))
  })
}

test('subscribe, publish and unsubscribe started together take effect in call order', async () => {
  const c = await client('order-ops')
  const got = []
  c.on('message', (topic, payload) => got.push(payload.toString()))
  const results = await within(Promise.all([
    c.publish('ops/x', 'before subscribe', { qos: 1 }),
    c.subscribe('ops/x', { qos: 1 }),
    c.publish('ops/x', 'while subscribed', { qos: 1 }),
    c.unsubscribe('ops/x'),
    c.publish('ops/x', 'after unsubscribe', { qos: 1 }),
    c.ping()
  ]), 10000, 'operations')
  assert.deepEqual(results[1].reasonCodes, [1])
  // The PINGRESP came after everything before it was processed by the broker.
  await c.ping()
  assert.deepEqual(got, ['while subscribed'])
})
