'use strict'
// `client.messages()` is bounded: a slow `for await` consumer back-pressures the connection
// (the client stops reading while 4096 events are unconsumed) instead of queueing without
// limit, and loses nothing.

const test = require('node:test')
const assert = require('node:assert/strict')
const mqttkit = require('..')
const { startMosquitto, within, collect } = require('./helpers')

// 4096 unconsumed events, plus at most the core batch of 1024 that crossed the limit.
const LIMIT = 4096
const BOUND = LIMIT + 1024

let broker
test.before(async () => { broker = await startMosquitto() })
test.after(async () => { await broker.stop() })

const clients = []
async function client (id) {
  const c = await mqttkit.connect(broker.url, { clientId: id, timeouts: 'localNetwork' })
  clients.push(c)
  return c
}
test.afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => within(c.end(), 5000, 'end')))
})

/** Waits (bounded) until `iterator` holds at least `count` messages. */
async function buffered (iterator, count) {
  for (let i = 0; i < 1000 && iterator.buffered < count; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.ok(iterator.buffered >= count, `only ${iterator.buffered} of ${count} messages arrived`)
}

test('a slow for-await consumer back-pressures: bounded queue, nothing lost, order kept', async () => {
  const sub = await client('bp-sub')
  const pub = await client('bp-pub')
  await sub.subscribe('bp/slow', { qos: 1 })
  const iterator = sub.messages()
  let most = 0
  sub.on('message', () => { most = Math.max(most, iterator.buffered) })
  const N = 20000
  const acks = []
  for (let i = 0; i < N; i++) acks.push(pub.publish('bp/slow', String(i), { qos: 1 }))
  // The broker took every message; the subscriber stops at the limit meanwhile.
  await within(Promise.all(acks), 30000, 'publishing')
  await buffered(iterator, LIMIT)
  assert.ok(most <= BOUND, `${most} messages queued, more than ${BOUND}`)
  let expected = 0
  for await (const message of iterator) {
    assert.equal(message.payload.toString(), String(expected))
    expected++
    if (expected === N) break
  }
  assert.equal(expected, N)
  assert.ok(most <= BOUND, `${most} messages queued, more than ${BOUND}`)
  assert.equal(iterator.buffered, 0)
})

test('return() on a full iterator gives its messages back: delivery goes on', async () => {
  const sub = await client('bp-return-sub')
  const pub = await client('bp-return-pub')
  await sub.subscribe('bp/return', { qos: 1 })
  const N = LIMIT + 3000
  const seen = collect(sub, N, 30000)
  const abandoned = sub.messages()
  for (let i = 0; i < N; i++) pub.publishNowait('bp/return', String(i), { qos: 1 })
  await buffered(abandoned, LIMIT)
  assert.ok(abandoned.buffered < N)
  await abandoned.return()
  assert.equal(abandoned.buffered, 0)
  const messages = await seen
  assert.deepEqual(messages.map((m) => m.payload.toString()), Array.from({ length: N }, (_, i) => String(i)))
  assert.deepEqual(await abandoned.next(), { value: undefined, done: true })
})
