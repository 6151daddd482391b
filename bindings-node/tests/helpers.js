'use strict'
// Test fixtures: a Mosquitto broker on a free port, a listener that never answers, and
// awaiting events with a timeout (no fixed sleeps).

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const EVENT_TIMEOUT = 10000

function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function mosquittoBinary () {
  for (const candidate of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto']) {
    if (fs.existsSync(candidate)) return candidate
  }
  throw new Error('mosquitto is not installed: run scripts/install-test-deps.sh')
}

async function waitForPort (port) {
  for (let i = 0; i < 500; i++) {
    const ok = await new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error(`nothing listens on port ${port}`)
}

/**
 * Starts Mosquitto on 127.0.0.1 (a free port, or `port` to restart one). Its per-client queue
 * is unbounded (`max_queued_messages 0`): by default Mosquitto drops QoS 1/2 messages beyond
 * 1000 queued for a subscriber, which the ordering tests would see as loss.
 */
async function startMosquitto (port) {
  port = port || await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqttkit-node-'))
  const config = path.join(dir, 'mosquitto.conf')
  fs.writeFileSync(config, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_keepalive 65535\nmax_queued_messages 0\n`)
  const child = spawn(mosquittoBinary(), ['-c', config], { stdio: 'ignore' })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  await waitForPort(port)
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async stop () {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** A TCP listener that accepts connections and never answers. */
async function silentListener () {
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
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

/** Resolves with the arguments of the next `event` on `emitter`, or rejects after `ms`. */
function once (emitter, event, ms = EVENT_TIMEOUT, filter = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, handler)
      reject(new Error(`no '${event}' event within ${ms} ms`))
    }, ms)
    function handler (...args) {
      if (!filter(...args)) return
      clearTimeout(timer)
      emitter.off(event, handler)
      resolve(args)
    }
    emitter.on(event, handler)
  })
}

/** Rejects if `promise` does not settle within `ms`. */
function within (promise, ms = EVENT_TIMEOUT, what = 'operation') {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms) })
  ]).finally(() => clearTimeout(timer))
}

/** Collects `count` messages from `client` (bounded by `ms`). */
function collect (client, count, ms = EVENT_TIMEOUT) {
  const got = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { client.off('message', handler); reject(new Error(`got ${got.length} of ${count} messages`)) }, ms)
    function handler (topic, payload, packet) {
      got.push({ topic, payload, packet })
      if (got.length === count) { clearTimeout(timer); client.off('message', handler); resolve(got) }
    }
    client.on('message', handler)
  })
}

module.exports = { startMosquitto, mosquittoBinary, waitForPort, silentListener, freePort, once, within, collect, EVENT_TIMEOUT }
