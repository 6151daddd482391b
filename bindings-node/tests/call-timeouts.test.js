'use strict'
// Per-call timeouts of every wait-for-ack operation, against a server that accepts the
// connection (CONNACK) and then answers nothing; `Infinity` waits without limit; a bad
// timeout is refused at once.

const test = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const mqttkit = require('..')
const { within } = require('./helpers')

/**
 * An MQTT 5 "server" that answers CONNECT with a CONNACK and then nothing; with `stall`, it
 * stops reading after the CONNACK, so the client's writes back up.
 */
async function muteServer ({ stall = false } = {}) {
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    socket.once('data', () => {
      socket.write(Buffer.from([0x20, 3, 0, 0, 0]))
      if (stall) socket.pause()
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `mqtt://127.0.0.1:${server.address().port}`,
    async stop () {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/**
 * An MQTT 5 "server" that answers CONNECT and acknowledges the QoS 1 publications whose
 * payload is `ack`, and no other.
 */
async function pickyServer () {
  const server = net.createServer((socket) => {
    socket.on('error', () => {})
    let buffer = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      // Small packets only: a one-byte remaining length.
      while (buffer.length >= 2 && buffer.length >= 2 + buffer[1]) {
        const packet = buffer.subarray(0, 2 + buffer[1])
        buffer = buffer.subarray(packet.length)
        if (packet[0] === 0x10) socket.write(Buffer.from([0x20, 3, 0, 0, 0]))
        if (packet[0] === 0x32) {
          const id = 4 + packet.readUInt16BE(2)
          const payload = packet.subarray(id + 3).toString()
          if (payload === 'ack') socket.write(Buffer.from([0x40, 2, packet[id], packet[id + 1]]))
        }
      }
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `mqtt://127.0.0.1:${server.address().port}`, stop: () => new Promise((resolve) => server.close(resolve)) }
}

/** `promise` must reject with a timeout of `operation` after about `ms`. */
async function timesOut (promise, operation, ms) {
  const started = Date.now()
  await within(assert.rejects(promise, (error) => {
    assert.equal(error.code, 'ERR_MQTT_TIMEOUT', error.message)
    assert.equal(error.operation, operation)
    return true
  }), 10000, `${operation} timeout`)
  assert.ok(Date.now() - started >= ms - 5, `${operation} gave up after ${Date.now() - started} ms, before ${ms} ms`)
}

test('every wait-for-ack operation takes a per-call timeout', async () => {
  const server = await muteServer()
  // The client's own timeouts are long: only the per-call ones can expire here.
  const c = await mqttkit.connect(server.url, { clientId: 'per-call', reconnect: false, timeouts: 'satellite' })
  try {
    await timesOut(c.publish('t', 'x', { qos: 1, timeout: 100 }), 'publish', 100)
    await timesOut(c.subscribe('t', { qos: 1, timeout: 100 }), 'subscribe', 100)
    await timesOut(c.unsubscribe('t', { timeout: 100 }), 'unsubscribe', 100)
    await timesOut(c.ping({ timeout: 100 }), 'ping', 100)
    await timesOut(c.authContinue('X-TEST', 'data', { timeout: 100 }), 'auth', 100)
    await timesOut(c.reAuthenticate({ method: 'X-TEST', data: 'data', timeout: 100 }), 'auth', 100)
  } finally {
    await within(c.end({ timeout: 1000 }), 5000, 'end')
    await server.stop()
  }
})

test('the auth timeout from the options applies to authContinue and reAuthenticate', async () => {
  const server = await muteServer()
  const c = await mqttkit.connect(server.url, { clientId: 'auth-default', reconnect: false, timeouts: { auth: 150 } })
  try {
    await timesOut(c.authContinue('X-TEST'), 'auth', 150)
    await timesOut(c.reAuthenticate({ method: 'X-TEST' }), 'auth', 150)
  } finally {
    await within(c.end(), 5000, 'end')
    await server.stop()
  }
})

test('the publish timeout from the options applies to each of many publishes started together', async () => {
  const server = await pickyServer()
  const c = await mqttkit.connect(server.url, { clientId: 'publish-default', reconnect: false, timeouts: { publish: 150 } })
  try {
    // One tick: handed over together; only the unacknowledged ones time out, each on its own.
    const payloads = ['ack', 'mute', 'ack', 'mute', 'mute', 'ack']
    const calls = payloads.map((payload) => c.publish('t', payload, { qos: 1 }))
    const qos0 = c.publish('t', 'mute', { qos: 0 })
    const started = Date.now()
    for (const [i, call] of calls.entries()) {
      if (payloads[i] === 'ack') assert.equal((await within(call, 10000, `publish ${i}`)).reasonCode, 0)
    }
    assert.equal((await qos0).qos, 0)
    for (const [i, call] of calls.entries()) {
      if (payloads[i] === 'mute') await timesOut(call, 'publish', 150 - (Date.now() - started))
    }
    // The client goes on: a later publish gets its acknowledgement.
    assert.equal((await within(c.publish('t', 'ack', { qos: 1 }), 10000, 'later publish')).reasonCode, 0)
  } finally {
    await within(c.end(), 5000, 'end')
    await server.stop()
  }
})

test('disconnect and end take a timeout; Infinity waits without limit', async () => {
  const server = await muteServer({ stall: true })
  const c = await mqttkit.connect(server.url, { clientId: 'disconnect-timeout', reconnect: false })
  try {
    // More than the socket buffers hold: the DISCONNECT waits behind it, and the server
    // does not read.
    const large = Buffer.alloc(256 * 1024)
    for (let i = 0; i < 64; i++) c.publishNowait('fill', large)
    await timesOut(c.disconnect({ timeout: 200 }), 'disconnect', 200)
    // With Infinity, the wait only ends when the server goes away.
    let settled = false
    const forever = c.disconnect({ timeout: Infinity }).then(() => { settled = true }, () => { settled = true })
    const probe = await within(c.ping({ timeout: 100 }).catch((error) => error.code), 5000, 'probe')
    assert.equal(probe, 'ERR_MQTT_TIMEOUT')
    assert.equal(settled, false)
    await server.stop()
    await within(forever, 10000, 'disconnect after the server closed')
  } finally {
    await within(c.end({ timeout: 1000 }), 5000, 'end')
    await server.stop()
  }
})

test('a bad timeout is refused at once, naming the option', async () => {
  const server = await muteServer()
  const c = await mqttkit.connect(server.url, { clientId: 'bad-timeout', reconnect: false })
  try {
    const bad = { code: 'ERR_MQTT_INVALID_ARGUMENT', message: /timeout must be a number of milliseconds >= 0, or Infinity/ }
    await assert.rejects(c.publish('t', 'x', { timeout: -1 }), bad)
    await assert.rejects(c.publish('t', 'x', { timeout: null }), bad)
    await assert.rejects(c.subscribe('t', { timeout: '100' }), bad)
    await assert.rejects(c.unsubscribe('t', { timeout: NaN }), bad)
    await assert.rejects(c.ping({ timeout: null }), bad)
    await assert.rejects(c.authContinue('X', undefined, { timeout: -5 }), bad)
    await assert.rejects(c.reAuthenticate({ method: 'X', timeout: 'soon' }), bad)
    await assert.rejects(c.disconnect({ timeout: null }), bad)
    await assert.rejects(c.end({ timeout: -1 }), bad)
    assert.equal(c.connected, true)
    await assert.rejects(mqttkit.connect(server.url, { timeouts: { publish: null } }),
      { code: 'ERR_MQTT_INVALID_CONFIGURATION', message: /timeouts.publish must be a number of milliseconds/ })
    await assert.rejects(mqttkit.connect(server.url, { connectTimeout: -1 }),
      { code: 'ERR_MQTT_INVALID_CONFIGURATION', message: /connectTimeout must be/ })
  } finally {
    await within(c.end(), 5000, 'end')
    await server.stop()
  }
})
