// The other processes of the Node benchmark (bench.js), each in its own process so that
// none shares the measured client's JS thread:
//
// - `sink [floodCount]`: a do-nothing listener that answers CONNECT, PUBLISH (QoS 1/2),
//   PINGREQ and SUBSCRIBE, and forgets everything else. Given a count, it answers a
//   SUBSCRIBE to `bench/rx` with that many MQTT 5 QoS 0 PUBLISH packets (64 B payloads)
//   written as fast as the socket takes them: the client's receive path timed alone.
// - `broker`: mqttkit's own broker (`mqttkit.Broker.start`), queues raised so that no
//   QoS 0 message is dropped for a slow subscriber (as the Mosquitto configuration below).
// - `flood url count`: an mqttkit client publishing `count` QoS 0 messages to `bench/rx`
//   (window 1000), the publisher of the receive rows through a broker.
//
// Parents start them with `startSink`, `startBroker`, `startMosquitto` and `flood`.
'use strict'

const { fork, spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const RX_TOPIC = 'bench/rx'
const RX_PAYLOAD = 64

/** One MQTT 5 QoS 0 PUBLISH of `RX_PAYLOAD` bytes to `RX_TOPIC`. */
function rxPublish () {
  const topic = Buffer.from(RX_TOPIC)
  const remaining = 2 + topic.length + 1 + RX_PAYLOAD
  return Buffer.concat([Buffer.from([0x30, remaining, 0, topic.length]), topic, Buffer.from([0]), Buffer.alloc(RX_PAYLOAD, 0x62)])
}

/** Writes `count` PUBLISH packets to `socket`, waiting for `drain` whenever it is full. */
function floodSocket (socket, count) {
  const one = rxPublish()
  const perChunk = 1000
  const chunk = Buffer.concat(new Array(perChunk).fill(one))
  let left = count
  const write = () => {
    while (left > 0 && !socket.destroyed) {
      const n = Math.min(left, perChunk)
      left -= n
      if (!socket.write(n === perChunk ? chunk : chunk.subarray(0, n * one.length))) {
        socket.once('drain', write)
        return
      }
    }
  }
  write()
}

/** The answers to the complete packets at the start of `buffer`; returns the bytes used. */
function answer (state, buffer, out, floodCount) {
  let offset = 0
  while (offset + 2 <= buffer.length) {
    let length = 0
    let multiplier = 1
    let i = offset + 1
    let complete = false
    for (; i < buffer.length && i < offset + 5; i++) {
      length += (buffer[i] & 0x7f) * multiplier
      multiplier *= 128
      if ((buffer[i] & 0x80) === 0) { complete = true; i++; break }
    }
    if (!complete || i + length > buffer.length) break
    const type = buffer[offset] >> 4
    if (type === 1) {
      state.version = buffer[i + 6]
      out.push(state.version === 5 ? Buffer.from([0x20, 3, 0, 0, 0]) : Buffer.from([0x20, 2, 0, 0]))
    } else if (type === 3) {
      const qos = (buffer[offset] >> 1) & 3
      if (qos > 0) {
        const topicLength = buffer.readUInt16BE(i)
        const id = i + 2 + topicLength
        out.push(Buffer.from([qos === 1 ? 0x40 : 0x50, 2, buffer[id], buffer[id + 1]]))
      }
    } else if (type === 6) {
      out.push(Buffer.from([0x70, 2, buffer[i], buffer[i + 1]]))
    } else if (type === 8) {
      // One filter per SUBSCRIBE here: granted QoS 0.
      out.push(state.version === 5
        ? Buffer.from([0x90, 4, buffer[i], buffer[i + 1], 0, 0])
        : Buffer.from([0x90, 3, buffer[i], buffer[i + 1], 0]))
      if (floodCount > 0 && buffer.subarray(i, i + length).includes(RX_TOPIC)) state.flood = true
    } else if (type === 12) {
      out.push(Buffer.from([0xd0, 0]))
    }
    offset = i + length
  }
  return offset
}

function runSink (floodCount) {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    const state = { version: 4, flood: false }
    let buffer = Buffer.alloc(0)
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk
      const out = []
      buffer = buffer.subarray(answer(state, buffer, out, floodCount))
      if (out.length) socket.write(out.length === 1 ? out[0] : Buffer.concat(out))
      if (state.flood) {
        state.flood = false
        floodSocket(socket, floodCount)
      }
    })
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  process.on('message', (m) => { if (m === 'stop') process.exit(0) })
}

function runBroker () {
  const { Broker } = require('..')
  const config = '[limits]\nmax_queued_messages = 10000000\nmax_queued_bytes = 4294967296\nmax_inflight = 65535\n\n[sys]\ninterval_secs = 0\n'
  Broker.start({ host: '127.0.0.1', port: 0, config }).then((broker) => {
    process.send({ port: broker.port })
    process.on('message', (m) => {
      if (m === 'stats') process.send({ stats: broker.stats() })
      if (m === 'stop') broker.close().then(() => process.exit(0))
    })
  }, (error) => { console.error(error); process.exit(1) })
}

async function runFlood (url, count) {
  const mqttkit = require('..')
  const client = await mqttkit.connect(url, { clientId: 'bench-flood' })
  const payload = Buffer.alloc(RX_PAYLOAD, 1)
  const window = []
  for (let i = 0; i < count; i++) {
    window.push(client.publish(RX_TOPIC, payload, { qos: 0 }))
    if (window.length >= 1000) { await Promise.all(window); window.length = 0 }
  }
  await Promise.all(window)
  await client.ping()
  await client.end()
}

/** Forks this file in `role`; resolves with the child and its first message. */
async function forkPeer (args) {
  const child = fork(__filename, args, { stdio: 'inherit' })
  const first = await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`bench peer ${args[0]} exited with ${code}`)))
  })
  return { child, first }
}

/** The sink; with `floodCount`, a SUBSCRIBE to bench/rx is answered with that many messages. */
async function startSink (floodCount = 0) {
  const { child, first } = await forkPeer(['sink', String(floodCount)])
  return { url: `mqtt://127.0.0.1:${first.port}`, stop: () => { child.send('stop') } }
}

/** mqttkit's broker in a child process; `dropped()` asks for its dropped-message counter. */
async function startBroker () {
  const { child, first } = await forkPeer(['broker'])
  return {
    url: `mqtt://127.0.0.1:${first.port}`,
    dropped: () => new Promise((resolve) => {
      child.once('message', (m) => resolve(m.stats.dropped))
      child.send('stats')
    }),
    stop: () => { child.send('stop') }
  }
}

function freePort () {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
  })
}

async function startMosquitto () {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqttkit-bench-'))
  fs.writeFileSync(path.join(dir, 'm.conf'),
    `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n`)
  const child = spawn('/usr/sbin/mosquitto', ['-c', path.join(dir, 'm.conf')], { stdio: 'ignore' })
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1').once('connect', () => { s.destroy(); resolve(true) }).once('error', () => resolve(false))
    })
    if (ok) break
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { url: `mqtt://127.0.0.1:${port}`, stop: () => { child.kill(); fs.rmSync(dir, { recursive: true, force: true }) } }
}

/** Starts the publisher of a receive row through a broker. */
function flood (url, count) {
  return fork(__filename, ['flood', url, String(count)], { stdio: 'inherit' })
}

if (require.main === module) {
  const [role, ...args] = process.argv.slice(2)
  if (role === 'sink') runSink(Number(args[0] || 0))
  else if (role === 'broker') runBroker()
  else if (role === 'flood') runFlood(args[0], Number(args[1])).catch((error) => { console.error(error); process.exit(1) })
  else throw new Error(`unknown bench peer role ${role}`)
}

module.exports = { RX_TOPIC, startSink, startBroker, startMosquitto, flood }
