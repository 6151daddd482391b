'use strict'
// The client against Mosquitto: every operation in both forms, every event, payload types,
// v5 properties, manual ack, timeouts, reconnect, will, calling the client from handlers.

const test = require('node:test')
const assert = require('node:assert/strict')
const mqttkit = require('..')
const { startMosquitto, silentListener, once, within, collect } = require('./helpers')

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

for (const protocolVersion of [5, 4]) {
  test(`every wait-for-ack operation (protocol ${protocolVersion})`, async () => {
    const sub = await client(`sub-${protocolVersion}`, { protocolVersion })
    const pub = await client(`pub-${protocolVersion}`, { protocolVersion })
    assert.equal(sub.connected, true)
    const granted = await sub.subscribe('rt/#', { qos: 2 })
    assert.deepEqual(granted.reasonCodes, [2])
    assert.deepEqual(granted.granted, [{ topic: 'rt/#', qos: 2 }])
    for (const qos of [0, 1, 2]) {
      const arrived = once(sub, 'message')
      const result = await pub.publish(`rt/${qos}`, `payload at ${qos}`, { qos })
      assert.equal(result.qos, qos)
      assert.equal(result.packetId === undefined || result.packetId === null, qos === 0)
      const [topic, payload, packet] = await arrived
      assert.equal(topic, `rt/${qos}`)
      assert.ok(Buffer.isBuffer(payload))
      assert.equal(payload.toString(), `payload at ${qos}`)
      assert.equal(packet.qos, qos)
      assert.equal(packet.cmd, 'publish')
    }
    const ping = await sub.ping()
    assert.ok(ping.roundTrip >= 0)
    const unsub = await sub.unsubscribe('rt/#')
    if (protocolVersion === 5) assert.deepEqual(unsub.reasonCodes, [0])
    const closed = once(sub, 'close')
    await sub.disconnect()
    await closed
    assert.equal(sub.connected, false)
    await sub.connect()
    assert.equal(sub.connected, true)
  })
}

test('fire-and-forget forms report through events', async () => {
  const c = await client('nowait')
  const subscribed = once(c, 'subscribed')
  c.subscribeNowait({ 'nw/a': { qos: 1 }, 'nw/b': 0 })
  const [sub] = await subscribed
  assert.deepEqual(sub.reasonCodes, [1, 0])
  const arrived = once(c, 'message')
  const published = once(c, 'published')
  c.publishNowait('nw/a', Buffer.from('x'), { qos: 1 })
  const [pubResult] = await published
  assert.equal(pubResult.qos, 1)
  assert.equal((await arrived)[0], 'nw/a')
  const pong = once(c, 'pingResponse')
  c.pingNowait()
  assert.ok((await pong)[0].roundTrip >= 0)
  const unsubscribed = once(c, 'unsubscribed')
  c.unsubscribeNowait('nw/a')
  assert.ok((await unsubscribed)[0].packetId > 0)
  const closed = once(c, 'close')
  c.disconnectNowait()
  await closed
  const connected = once(c, 'connect')
  c.connectNowait()
  const [connack] = await connected
  assert.equal(connack.cmd, 'connack')
  assert.equal(connack.reasonCode, 0)
})

test('payloads: string, Buffer, Uint8Array, empty; large ones arrive intact', async () => {
  const c = await client('payloads')
  await c.subscribe('pl/#', { qos: 1 })
  const large = Buffer.alloc(100000, 7)
  const inputs = ['text ü', Buffer.from([1, 2, 3]), new Uint8Array([4, 5, 6]), '', large]
  const got = collect(c, inputs.length)
  for (const [i, payload] of inputs.entries()) await c.publish(`pl/${i}`, payload, { qos: 1 })
  const messages = await got
  assert.equal(messages[0].payload.toString(), 'text ü')
  assert.deepEqual([...messages[1].payload], [1, 2, 3])
  assert.deepEqual([...messages[2].payload], [4, 5, 6])
  assert.equal(messages[3].payload.length, 0)
  assert.ok(messages[4].payload.equals(large))
  await assert.rejects(c.publish('pl/x', 42), { code: 'ERR_MQTT_INVALID_ARGUMENT' })
})

test('publications of one tick: mixed topics and payloads, one failing the native checks alone', async () => {
  const c = await client('tick')
  await c.subscribe('tick/#', { qos: 1 })
  // Past the JS checks: only the native ones refuse it, inside the tick's batch.
  const long = 't'.repeat(70000)
  const large = Buffer.alloc(100000, 9)
  const reused = Buffer.from('first')
  const got = collect(c, 6)
  const failed = once(c, 'error')
  const calls = [
    c.publish('tick/a', 'one', { qos: 1 }),
    c.publish(long, 'never', { qos: 1 }),
    c.publish('tick/b', reused),
    c.publish('tick/a', large, { qos: 1 }),
    c.publish(long, 'never again'),
    c.publish('tick/b', new Uint8Array([1, 2]), { qos: 1 })
  ]
  c.publishNowait(long, 'nowait')
  c.publishNowait('tick/a', '')
  calls.push(c.publish('tick/c', 'last', { qos: 1 }))
  // Changed after publish(): the message keeps the payload as it was at the call.
  reused.write('later')
  const outcomes = await within(Promise.allSettled(calls), 10000, 'publishing')
  assert.deepEqual(outcomes.map((o) => o.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
  for (const i of [1, 4]) assert.equal(outcomes[i].reason.code, 'ERR_MQTT_INVALID_ARGUMENT')
  assert.equal((await failed)[0].code, 'ERR_MQTT_INVALID_ARGUMENT')
  const messages = await got
  assert.deepEqual(messages.map((m) => m.topic), ['tick/a', 'tick/b', 'tick/a', 'tick/b', 'tick/a', 'tick/c'])
  assert.equal(messages[0].payload.toString(), 'one')
  assert.equal(messages[1].payload.toString(), 'first')
  assert.ok(messages[2].payload.equals(large))
  assert.deepEqual([...messages[3].payload], [1, 2])
  assert.equal(messages[4].payload.length, 0)
  assert.equal(messages[5].payload.toString(), 'last')
})

test('messages arrive in order, in batches, and for await works', async () => {
  const c = await client('order')
  await c.subscribe('ord', { qos: 1 })
  const iterator = c.messages()
  // More than the command queue holds (1000): ordering must survive a full queue.
  const N = 5000
  for (let i = 0; i < N; i++) c.publishNowait('ord', String(i), { qos: 1 })
  let expected = 0
  for await (const message of iterator) {
    assert.equal(message.topic, 'ord')
    assert.equal(message.payload.toString(), String(expected))
    expected++
    if (expected === N) break
  }
  assert.equal(expected, N)
})

test('client methods work from inside event handlers', async () => {
  const c = await client('reentrant')
  await c.subscribe(['re/in', 're/out'], { qos: 1 })
  c.on('message', (topic, payload) => {
    if (topic === 're/in') {
      c.publishNowait('re/out', payload, { qos: 1 })
      c.publish('re/ack', 'x').catch(() => {})
    }
  })
  const out = once(c, 'message', undefined, (topic) => topic === 're/out')
  await c.publish('re/in', 'ping-pong', { qos: 1 })
  const [, payload] = await out
  assert.equal(payload.toString(), 'ping-pong')
})

test('MQTT 5 properties and subscription options reach the subscriber', async () => {
  const sub = await client('props-sub')
  const pub = await client('props-pub')
  await sub.subscribe('props/t', { qos: 1, properties: { subscriptionIdentifier: 42 } })
  const arrived = once(sub, 'message')
  await pub.publish('props/t', '{}', {
    qos: 1,
    properties: {
      payloadFormatIndicator: true,
      messageExpiryInterval: 60,
      contentType: 'application/json',
      responseTopic: 'props/reply',
      correlationData: Buffer.from('corr'),
      userProperties: { a: '1', b: ['2', '3'] }
    }
  })
  const [, , packet] = await arrived
  const p = packet.properties
  assert.equal(p.payloadFormatIndicator, true)
  assert.equal(p.contentType, 'application/json')
  assert.equal(p.responseTopic, 'props/reply')
  assert.equal(p.correlationData.toString(), 'corr')
  assert.deepEqual(p.userProperties, { a: '1', b: ['2', '3'] })
  assert.equal(p.subscriptionIdentifier, 42)
  assert.ok(p.messageExpiryInterval <= 60)

  // No Local: own publications are not delivered back.
  await sub.subscribe('props/nl', { qos: 1, nl: true })
  const received = []
  const onMessage = (topic) => received.push(topic)
  sub.on('message', onMessage)
  await sub.publish('props/nl', 'own', { qos: 1 })
  const fromOther = once(sub, 'message', undefined, (topic) => topic === 'props/nl')
  await pub.publish('props/nl', 'other', { qos: 1 })
  const [, payload] = await fromOther
  assert.equal(payload.toString(), 'other')
  sub.off('message', onMessage)
  assert.deepEqual(received, ['props/nl'])
})

test('retained messages and retain handling', async () => {
  const pub = await client('ret-pub')
  await pub.publish('ret/t', 'kept', { qos: 1, retain: true })
  const sub = await client('ret-sub')
  const arrived = once(sub, 'message')
  await sub.subscribe('ret/t', { qos: 1 })
  const [, payload, packet] = await arrived
  assert.equal(payload.toString(), 'kept')
  assert.equal(packet.retain, true)
  const sub2 = await client('ret-sub2')
  let got = 0
  sub2.on('message', () => got++)
  await sub2.subscribe('ret/t', { qos: 1, rh: 2 })
  await sub2.ping() // a round trip after SUBACK: a retained message would have come first
  assert.equal(got, 0)
  await pub.publish('ret/t', '', { qos: 1, retain: true })
})

test('manual ack: autoAck false holds back the PUBACK until packet.ack()', async () => {
  const sub = await client('manual', { autoAck: false, receiveMaximum: 1 })
  const pub = await client('manual-pub')
  await sub.subscribe('man/t', { qos: 1 })
  const first = once(sub, 'message')
  await pub.publish('man/t', '1', { qos: 1 })
  await pub.publish('man/t', '2', { qos: 1 })
  const [, p1, packet1] = await first
  assert.equal(p1.toString(), '1')
  assert.equal(typeof packet1.ack, 'function')
  // Receive Maximum 1: the second message waits for our acknowledgement.
  let second = false
  sub.once('message', () => { second = true })
  await sub.ping()
  assert.equal(second, false)
  const next = once(sub, 'message')
  packet1.ack()
  const [, p2, packet2] = await next
  assert.equal(p2.toString(), '2')
  sub.ack(packet2)
})

test('timeouts: per call and from the options, against a listener that never answers', async () => {
  const silent = await silentListener()
  try {
    const started = Date.now()
    await assert.rejects(
      mqttkit.connect(silent.url, { clientId: 'to', timeout: 200 }),
      (error) => {
        assert.ok(error instanceof mqttkit.MqttError)
        assert.ok(error instanceof Error)
        assert.equal(error.code, 'ERR_MQTT_TIMEOUT')
        assert.equal(error.operation, 'connect')
        return true
      }
    )
    assert.ok(Date.now() - started < 5000)
    await assert.rejects(
      mqttkit.connect(silent.url, { clientId: 'to2', timeouts: { connect: 150 } }),
      { code: 'ERR_MQTT_TIMEOUT' }
    )
  } finally {
    await silent.stop()
  }
  const c = await client('ping-timeout')
  const ok = await c.ping({ timeout: 5000 })
  assert.ok(ok.roundTrip >= 0)
})

test('errors: refused network connection, invalid arguments and configuration, closed client', async () => {
  const { freePort } = require('./helpers')
  const port = await freePort()
  await assert.rejects(mqttkit.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'nobody', reconnect: false }),
    (error) => error.code === 'ERR_MQTT_NETWORK' && error.kind === 'NETWORK')
  await assert.rejects(mqttkit.connect(broker.url, { protocolVersion: 4, sessionExpiryInterval: 10 }),
    { code: 'ERR_MQTT_INVALID_CONFIGURATION' })
  assert.throws(() => new mqttkit.MqttClient('bogus://x', {}), { code: 'ERR_MQTT_INVALID_CONFIGURATION' })
  const c = await client('errs')
  await assert.rejects(c.publish('bad/+/topic', 'x'), { code: 'ERR_MQTT_INVALID_ARGUMENT' })
  assert.throws(() => c.publishNowait('bad/#', 'x'), { code: 'ERR_MQTT_INVALID_ARGUMENT' })
  await assert.rejects(c.subscribe('a/#/b'), { code: 'ERR_MQTT_INVALID_ARGUMENT' })
  await assert.rejects(c.publish('ok', 'x', { qos: 3 }), { code: 'ERR_MQTT_INVALID_ARGUMENT' })
  await assert.rejects(c.publish('ok', 'x', { qos: 5 }), { code: 'ERR_MQTT_INVALID_ARGUMENT' })
  assert.throws(() => c.publishNowait('ok', 'x', { qos: -1 }), { code: 'ERR_MQTT_INVALID_ARGUMENT' })
  await assert.rejects(c.publish('', 'x'), { code: 'ERR_MQTT_INVALID_ARGUMENT' })
  // Past the JS checks, the native ones (topic longer than 65535 bytes) reject the promise.
  await assert.rejects(c.publish('t'.repeat(70000), 'x', { qos: 1 }), { code: 'ERR_MQTT_INVALID_ARGUMENT' })
  await assert.rejects(c.connect(), { code: 'ERR_MQTT_ALREADY_CONNECTED' })
  // Written before the shutdown, or failed by it with ERR_MQTT_CLIENT_CLOSED: either is fine.
  const pending = c.publish('late', 'x', { qos: 1 }).then(() => 'acknowledged', (error) => error.code)
  const ended = once(c, 'end')
  await c.end()
  await ended
  assert.match(await pending, /acknowledged|ERR_MQTT_CLIENT_CLOSED|ERR_MQTT_CONNECTION_LOST/)
  await assert.rejects(c.publish('t', 'x'), { code: 'ERR_MQTT_CLIENT_CLOSED' })
  assert.throws(() => c.publishNowait('t', 'x'), { code: 'ERR_MQTT_CLIENT_CLOSED' })
  await c.end() // idempotent
})

test('reconnect: connectionLost, offline, reconnect, connect again; offline buffer flushed', async () => {
  const own = await startMosquitto()
  let restarted
  try {
    const c = await mqttkit.connect(own.url, {
      clientId: 'rc',
      timeouts: 'localNetwork',
      reconnect: { initialDelay: 20, maxDelay: 200 },
      autoSubscribe: { 'rc/#': { qos: 1 } }
    })
    clients.push(c)
    const lost = once(c, 'connectionLost')
    const offline = once(c, 'offline')
    const closed = once(c, 'close')
    await own.stop()
    const [error] = await lost
    assert.ok(error instanceof mqttkit.MqttError)
    await offline
    await closed
    const attempt = once(c, 'reconnectAttempt')
    const reconnecting = once(c, 'reconnect')
    assert.ok((await attempt)[0].attempt >= 1)
    await reconnecting
    const buffered = c.publish('rc/buffered', 'while offline', { qos: 1 })
    const reconnected = once(c, 'connect')
    const arrived = once(c, 'message')
    restarted = await startMosquitto(own.port)
    await reconnected
    await within(buffered, 10000, 'buffered publish')
    const [topic] = await arrived
    assert.equal(topic, 'rc/buffered')
  } finally {
    if (restarted) await restarted.stop()
  }
})

test('will is published on an abnormal close, not on disconnect', async () => {
  const watcher = await client('will-watch')
  await watcher.subscribe('will/#', { qos: 1 })
  const own = await startMosquitto()
  try {
    // The will goes through the shared broker: connect the dying client there.
    const dying = await mqttkit.connect(broker.url, {
      clientId: 'will-client',
      will: { topic: 'will/gone', payload: 'bye', qos: 1 },
      reconnect: false
    })
    clients.push(dying)
    const arrived = once(watcher, 'message')
    // Disconnect with reason 0x04: Disconnect with Will Message.
    await dying.disconnect({ reasonCode: 4 })
    const [topic, payload] = await arrived
    assert.equal(topic, 'will/gone')
    assert.equal(payload.toString(), 'bye')
  } finally {
    await own.stop()
  }
})

test('server-side DISCONNECT: disconnect event with the reason code, then connectionLost', async () => {
  // A scripted server: CONNACK Success, then DISCONNECT 0x8E (Session taken over).
  const net = require('node:net')
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.once('data', () => {
      socket.write(Buffer.from([0x20, 0x03, 0x00, 0x00, 0x00]))
      socket.write(Buffer.from([0xe0, 0x02, 0x8e, 0x00]))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    // Listeners first: the DISCONNECT follows the CONNACK at once.
    const c = new mqttkit.MqttClient(`mqtt://127.0.0.1:${server.address().port}`, { clientId: 'x', reconnect: false })
    clients.push(c)
    const order = []
    for (const name of ['disconnect', 'connectionLost', 'close', 'offline']) c.on(name, () => order.push(name))
    const disconnected = once(c, 'disconnect')
    const lost = once(c, 'connectionLost')
    await c.connect()
    const [packet] = await disconnected
    assert.equal(packet.reasonCode, 0x8e)
    assert.equal(packet.byServer, true)
    const [error] = await lost
    assert.equal(error.code, 'ERR_MQTT_CONNECTION_LOST')
    assert.equal(error.reasonCode, 0x8e)
    assert.deepEqual(order.slice(0, 4), ['disconnect', 'connectionLost', 'close', 'offline'])
  } finally {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  }
})

test('session takeover by another client: connectionLost, close, offline', async () => {
  const first = await client('takeover', { reconnect: false })
  const lost = once(first, 'connectionLost')
  const second = await client('takeover', { reconnect: false })
  const [error] = await lost
  assert.equal(error.code, 'ERR_MQTT_CONNECTION_LOST')
  assert.equal(second.connected, true)
})

test('error event: a fire-and-forget operation that fails', async () => {
  const c = await client('error-event', { offlineBuffer: false, reconnect: false })
  await c.disconnect()
  const failed = once(c, 'error')
  c.publishNowait('err/t', 'x', { qos: 1 })
  const [error] = await failed
  assert.ok(error instanceof mqttkit.MqttError)
  assert.equal(error.code, 'ERR_MQTT_NOT_CONNECTED')
  await assert.rejects(c.publish('err/t', 'x', { qos: 1 }), { code: 'ERR_MQTT_NOT_CONNECTED' })
})

test('MQTT.js-style callbacks and options', async () => {
  const c = await client('compat', { keepalive: 30, clean: true, reconnectPeriod: 0, connectTimeout: 5000 })
  await new Promise((resolve, reject) => c.subscribe('cb/t', { qos: 1 }, (err) => (err ? reject(err) : resolve())))
  const arrived = once(c, 'message')
  await new Promise((resolve, reject) => c.publish('cb/t', 'cb', { qos: 1 }, (err) => (err ? reject(err) : resolve())))
  assert.equal((await arrived)[1].toString(), 'cb')
})
