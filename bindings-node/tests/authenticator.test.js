'use strict'
// Enhanced authentication methods written in JavaScript (`authenticator` option): SCRAM-SHA-256
// implemented here with node:crypto against the embedded broker's SCRAM, at connect and on
// re-authentication; failures of the callbacks become ERR_MQTT_AUTH_FAILED with their message.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const mqttkit = require('..')
const { within } = require('./helpers')

const { scram } = require('./scram')

let broker
test.before(async () => {
  broker = await mqttkit.Broker.start({ port: 0, allowAnonymous: false, users: [{ username: 'alice', password: 'wonder' }] })
})
test.after(async () => { await broker.close() })

async function refused (options, message) {
  await assert.rejects(mqttkit.connect(broker.url, { reconnect: false, timeouts: 'localNetwork', ...options }), (error) => {
    assert.ok(error instanceof mqttkit.MqttError, String(error))
    assert.equal(error.authError, true, `${error.code}: ${error.message}`)
    assert.match(error.message, message)
    return true
  })
}

test('a JS authenticator runs the exchange at connect and on reAuthenticate()', async () => {
  const authenticator = scram('alice', 'wonder')
  const client = await mqttkit.connect(broker.url, { clientId: 'js-scram', authenticator, timeouts: 'localNetwork' })
  try {
    assert.deepEqual(authenticator.counts, { started: 1, finished: 1 })
    const auth = await client.reAuthenticate()
    assert.equal(auth.reasonCode, 0)
    assert.deepEqual(authenticator.counts, { started: 2, finished: 2 })
    await client.publish('js-scram/t', 'x', { qos: 1 })
  } finally {
    await within(client.end(), 5000, 'end')
  }
})

test('failures of a JS authenticator are auth errors naming what went wrong', async () => {
  await refused({ clientId: 'js-wrong', authenticator: scram('alice', 'nope') }, /./)
  await refused({ clientId: 'js-throws', authenticator: scram('alice', 'wonder', { respond () { throw new Error('no token at hand') } }) },
    /authenticator: no token at hand/)
  await refused({ clientId: 'js-async', authenticator: scram('alice', 'wonder', { respond: async () => 'late' }) },
    /respond\(\) returned a Promise: authenticator callbacks must be synchronous/)
  await refused({ clientId: 'js-number', authenticator: scram('alice', 'wonder', { respond: () => 42 }) },
    /respond\(\) must return a Buffer, a Uint8Array, a string or undefined/)
  await refused({ clientId: 'js-distrust', authenticator: scram('alice', 'wonder', { finish () { throw new Error('server not trusted') } }) },
    /authenticator: server not trusted/)
})

test('a bad authenticator option is refused at once', async () => {
  const config = { code: 'ERR_MQTT_INVALID_CONFIGURATION' }
  await assert.rejects(mqttkit.connect(broker.url, { authenticator: {} }), { ...config, message: /authenticator must be an object with a method name/ })
  await assert.rejects(mqttkit.connect(broker.url, { authenticator: { method: 'X', start: 'no' } }), config)
  await assert.rejects(mqttkit.connect(broker.url, { authenticator: scram('alice', 'wonder'), scram: { username: 'alice', password: 'wonder' } }),
    { ...config, message: /authenticator and scram cannot be combined/ })
  // A start that fails cannot hold the CONNECT back: the server refuses it, and an `error`
  // event says why.
  const client = new mqttkit.MqttClient(broker.url, { clientId: 'js-no-exchange', reconnect: false, authenticator: { method: 'SCRAM-SHA-256', start: () => null } })
  const reported = new Promise((resolve) => client.once('error', resolve))
  await assert.rejects(client.connect(), { code: 'ERR_MQTT_CONNECTION_REFUSED', reasonCode: 0x87 })
  const error = await within(reported, 5000, 'error event')
  assert.equal(error.code, 'ERR_MQTT_AUTH_FAILED')
  assert.equal(error.authError, true)
  assert.match(error.message, /authenticator: authenticator.start\(\) must return an object with a respond\(challenge\) method/)
  await client.end()
})

test('a script with a JS authenticator that ends its client exits on its own', async () => {
  const source = `
    const mqttkit = require('.')
    const { scram } = require('./tests/scram')
    ;(async () => {
      const broker = await mqttkit.Broker.start({ port: 0, allowAnonymous: false, users: [{ username: 'bob', password: 'pw' }] })
      const client = await mqttkit.connect(broker.url, { clientId: 'exit-auth', authenticator: scram('bob', 'pw') })
      await client.reAuthenticate()
      await client.end()
      await broker.close()
      console.log('done')
    })()
  `
  const child = spawn(process.execPath, ['-e', source], { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  const timer = setTimeout(() => child.kill('SIGKILL'), 15000)
  const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(timer)
  assert.equal(signal, null, `killed after 15 s: ${output}`)
  assert.equal(code, 0, output)
  assert.match(output, /done/)
})
