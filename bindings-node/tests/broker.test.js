'use strict'
// The embedded broker: start on a free port, clients of both libraries through it, counters,
// close; a closed broker keeps nothing alive.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const mqtt = require('mqtt')
const mqttkit = require('..')
const { once, collect } = require('./helpers')

test('Broker.start, clients through it, stats, close', async () => {
  const broker = await mqttkit.Broker.start({ host: '127.0.0.1', port: 0 })
  try {
    assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/)
    assert.ok(broker.port > 0)
    const sub = await mqttkit.connect(broker.url, { clientId: 'eb-sub' })
    const pub = await mqtt.connectAsync(broker.url, { clientId: 'eb-mqttjs', protocolVersion: 5 })
    await sub.subscribe('eb/#', { qos: 1 })
    const got = collect(sub, 3)
    for (const qos of [0, 1, 2]) await pub.publishAsync(`eb/${qos}`, `m${qos}`, { qos })
    const messages = await got
    assert.deepEqual(messages.map((m) => m.payload.toString()), ['m0', 'm1', 'm2'])
    const stats = broker.stats()
    assert.equal(stats.connections, 2)
    assert.ok(stats.messagesIn >= 3)
    assert.ok(stats.messagesOut >= 3)
    assert.equal(stats.subscriptions, 1)
    const lost = once(sub, 'connectionLost')
    await pub.endAsync()
    await broker.close()
    const [error] = await lost
    assert.equal(error.code, 'ERR_MQTT_CONNECTION_LOST')
    await sub.end()
  } finally {
    await broker.close()
  }
})

test('Broker.start reports a bad configuration and a busy port', async () => {
  await assert.rejects(mqttkit.Broker.start({ host: 'not-an-ip', port: 0 }), { code: 'ERR_MQTT_INVALID_CONFIGURATION' })
  const first = await mqttkit.Broker.start({ port: 0 })
  try {
    await assert.rejects(mqttkit.Broker.start({ port: first.port }), /bind|in use/i)
  } finally {
    await first.close()
  }
})

test('a script that starts and closes a broker exits on its own', async () => {
  const child = spawn(process.execPath, ['-e', `
    const mqttkit = require('.')
    ;(async () => {
      const broker = await mqttkit.Broker.start({ port: 0 })
      const client = await mqttkit.connect(broker.url, { clientId: 'eb-exit' })
      await client.publish('x', 'y', { qos: 1 })
      await client.ping()
      await client.end()
      await broker.close()
      console.log('closed')
    })()
  `], { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  const code = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`did not exit: ${output}`)) }, 15000)
    child.on('exit', (c) => { clearTimeout(timer); resolve(c) })
  })
  assert.equal(code, 0, output)
  assert.match(output, /closed/)
})

test('SCRAM-SHA-256 enhanced authentication at connect and re-authentication', async () => {
  const broker = await mqttkit.Broker.start({ port: 0, allowAnonymous: false, users: [{ username: 'alice', password: 'wonder' }] })
  try {
    const client = await mqttkit.connect(broker.url, { clientId: 'scram', scram: { username: 'alice', password: 'wonder' } })
    // Automatic: the configured authenticator answers every challenge.
    const auth = await client.reAuthenticate()
    assert.equal(auth.reasonCode, 0)
    assert.equal(auth.cmd, 'auth')
    await client.publish('scram/t', 'x', { qos: 1 })
    // By hand: AUTH Re-authenticate with a SCRAM client-first message; the server's
    // challenge resolves the call and arrives as an `auth` event.
    const challenge = once(client, 'auth')
    const answer = await client.reAuthenticate({ method: 'SCRAM-SHA-256', data: 'n,,n=alice,r=abcdefghijklmnop' })
    assert.equal(answer.reasonCode, 0x18)
    const [packet] = await challenge
    assert.equal(packet.cmd, 'auth')
    assert.equal(packet.properties.authenticationMethod, 'SCRAM-SHA-256')
    assert.match(packet.properties.authenticationData.toString(), /^r=abcdefghijklmnop/)
    await client.end()
    await assert.rejects(
      mqttkit.connect(broker.url, { clientId: 'scram-bad', scram: { username: 'alice', password: 'nope' }, reconnect: false }),
      (error) => error.authError === true && /ERR_MQTT_(CONNECTION_REFUSED|AUTH_FAILED)/.test(error.code)
    )
    await assert.rejects(
      mqttkit.connect(broker.url, { clientId: 'anon', reconnect: false }),
      (error) => error.code === 'ERR_MQTT_CONNECTION_REFUSED' && error.reasonCode === 0x87
    )
  } finally {
    await broker.close()
  }
})

test('mqttkit client to the mqttkit broker at QoS 0, 1, 2', async () => {
  const broker = await mqttkit.Broker.start({ port: 0 })
  try {
    const a = await mqttkit.connect(broker.url, { clientId: 'kk-a' })
    const b = await mqttkit.connect(broker.url, { clientId: 'kk-b', protocolVersion: 4 })
    await b.subscribe('kk/#', { qos: 2 })
    const got = collect(b, 3)
    for (const qos of [0, 1, 2]) await a.publish(`kk/${qos}`, `q${qos}`, { qos })
    assert.deepEqual((await got).map((m) => [m.topic, m.packet.qos]), [['kk/0', 0], ['kk/1', 1], ['kk/2', 2]])
    await a.end()
    await b.end()
  } finally {
    await broker.close()
  }
})

test('ACL refusals and rate-limit pauses are counted; reloadAuth re-reads the ACL file', async () => {
  const fs = require('node:fs')
  const os = require('node:os')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqttkit-node-acl-'))
  const acl = path.join(dir, 'acl.conf')
  fs.writeFileSync(acl, 'topic readwrite public/#\n')
  const config = `[limits]\nmax_publish_rate = 5\n[acl]\nfile = ${JSON.stringify(acl)}\n`
  const broker = await mqttkit.Broker.start({ port: 0, config })
  try {
    const client = await mqttkit.connect(broker.url, { clientId: 'acl-node', reconnect: false })
    await assert.rejects(client.subscribe('secret/x', { qos: 1 }),
      (error) => error.code === 'ERR_MQTT_SUBSCRIBE_FAILED' && error.reasonCodes[0] === 0x87)
    await assert.rejects(client.publish('secret/x', 'no', { qos: 1 }),
      (error) => error.code === 'ERR_MQTT_PUBLISH_FAILED' && error.reasonCode === 0x87)
    // Over 5 publications a second the broker stops reading for a while: nothing is lost.
    for (let i = 0; i < 12; i++) await client.publish('public/a', `${i}`, { qos: 1 })
    let stats = broker.stats()
    assert.ok(stats.throttled >= 1, JSON.stringify(stats))
    assert.equal(stats.publishDenied, 1)
    assert.equal(stats.subscribeDenied, 1)

    fs.writeFileSync(acl, 'topic readwrite secret/#\n')
    broker.reloadAuth()
    await client.publish('secret/x', 'yes', { qos: 1 })
    fs.writeFileSync(acl, 'topic sometimes secret/#\n')
    assert.throws(() => broker.reloadAuth(),
      (error) => error.code === 'ERR_MQTT_INVALID_CONFIGURATION' && error.message.includes('acl.conf:1:'))
    await client.publish('secret/y', 'still', { qos: 1 })
    stats = broker.stats()
    assert.equal(stats.publishDenied, 1)
    await client.end()
  } finally {
    await broker.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
