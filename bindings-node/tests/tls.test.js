'use strict'
// TLS options (`ca`, `cert`, `key`, `servername`, `ALPNProtocols`, `rejectUnauthorized`) on
// `mqtts://` and `wss://`, against Mosquitto's TLS listeners with certificates made by the
// `openssl` CLI for this run.

const test = require('node:test')
const assert = require('node:assert/strict')
const mqttkit = require('..')
const { once, within } = require('./helpers')
const { makeCertificates, startTlsMosquitto, startWssBridge, startTlsProxy } = require('./tls-fixtures')

let certs
let mosquitto
test.before(async () => {
  certs = makeCertificates()
  mosquitto = await startTlsMosquitto(certs)
})
test.after(async () => {
  await mosquitto.stop()
  certs.remove()
})

const clients = []
async function client (url, options) {
  const c = await mqttkit.connect(url, { reconnect: false, timeouts: 'localNetwork', ...options })
  clients.push(c)
  return c
}
test.afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => within(c.end(), 5000, 'end')))
})

/** Connecting must fail with `code` and a message matching `message`. */
async function refused (url, options, code, message) {
  await assert.rejects(mqttkit.connect(url, { reconnect: false, timeouts: 'localNetwork', ...options }), (error) => {
    assert.ok(error instanceof mqttkit.MqttError, `not an MqttError: ${error}`)
    assert.equal(error.code, code, error.message)
    assert.match(error.message, message)
    return true
  })
}

/** A message published by `pub` arrives at `sub` through the broker. */
async function roundTrip (sub, pub, topic) {
  await sub.subscribe(topic, { qos: 1 })
  const arrived = once(sub, 'message')
  await pub.publish(topic, 'over tls', { qos: 1 })
  const [got, payload] = await arrived
  assert.equal(got, topic)
  assert.equal(payload.toString(), 'over tls')
}

function derOf (pem) {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64')
}

test('mqtts:// with the CA as text: messages flow, the peer certificate is reported', async () => {
  const c = new mqttkit.MqttClient(mosquitto.tlsUrl, { ca: certs.ca, reconnect: false })
  clients.push(c)
  const certificate = once(c, 'peerCertificate')
  await c.connect()
  const [der] = await certificate
  assert.ok(Buffer.isBuffer(der))
  assert.deepEqual(der, derOf(certs.serverCert))
  const pub = await client(mosquitto.tlsUrl, { ca: Buffer.from(certs.ca), clientId: 'tls-pub' })
  await roundTrip(c, pub, 'tls/plain')
})

test('mutual TLS: a client certificate signed by the CA is accepted, none or a wrong one is not', async () => {
  const sub = await client(mosquitto.mtlsUrl, { ca: certs.ca, cert: certs.clientCert, key: Buffer.from(certs.clientKey) })
  const pub = await client(mosquitto.mtlsUrl, { ca: [certs.otherCa, certs.ca], cert: [certs.clientCert], key: certs.clientKey })
  await roundTrip(sub, pub, 'tls/mutual')
  await refused(mosquitto.mtlsUrl, { ca: certs.ca }, 'ERR_MQTT_NETWORK', /CertificateRequired/)
  // The server certificate is not for client authentication.
  await refused(mosquitto.mtlsUrl, { ca: certs.ca, cert: certs.serverCert, key: certs.serverKey },
    'ERR_MQTT_NETWORK', /fatal alert/)
})

test('server verification: a wrong CA, no CA and a wrong servername fail; rejectUnauthorized false skips it', async () => {
  await refused(mosquitto.tlsUrl, { ca: certs.otherCa }, 'ERR_MQTT_NETWORK', /invalid peer certificate: UnknownIssuer/)
  // Without `ca` the Mozilla roots are trusted, which do not include the test CA.
  await refused(mosquitto.tlsUrl, {}, 'ERR_MQTT_NETWORK', /UnknownIssuer/)
  await refused(mosquitto.tlsUrl, { ca: certs.ca, servername: 'other.test' }, 'ERR_MQTT_NETWORK', /not valid for name "other.test"/)
  const named = await client(mosquitto.tlsUrl, { ca: certs.ca, servername: 'broker.test' })
  const insecure = await client(mosquitto.tlsUrl, { rejectUnauthorized: false, clientId: 'tls-insecure' })
  await roundTrip(named, insecure, 'tls/insecure')
})

test('servername is sent as SNI and ALPNProtocols are offered', async () => {
  const proxy = await startTlsProxy(certs, mosquitto.plainPort)
  try {
    const c = await client(proxy.url, { ca: certs.ca, servername: 'broker.test', ALPNProtocols: ['mqtt', Buffer.from('x-other')] })
    await c.ping()
    assert.deepEqual(proxy.handshakes, [{ servername: 'broker.test', alpnProtocol: 'mqtt' }])
    await c.end()
  } finally {
    await proxy.stop()
  }
})

test('wss:// verifies the server with the same options', async () => {
  const bridge = await startWssBridge(certs, mosquitto.plainPort)
  try {
    const sub = await client(bridge.url, { ca: certs.ca, clientId: 'wss-sub' })
    const pub = await client(mosquitto.tlsUrl, { ca: certs.ca, clientId: 'wss-pub' })
    await roundTrip(sub, pub, 'tls/wss')
    await refused(bridge.url, { ca: certs.otherCa }, 'ERR_MQTT_NETWORK', /UnknownIssuer/)
    await sub.end()
  } finally {
    await bridge.stop()
  }
})

test('bad TLS options fail at once with an error naming what is wrong', async () => {
  const url = mosquitto.tlsUrl
  const config = 'ERR_MQTT_INVALID_CONFIGURATION'
  await refused(url, { ca: 'not a certificate' }, config, /tls: the CA PEM holds no certificate/)
  await refused(url, { ca: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }, config, /tls: CA certificate/)
  await refused(url, { ca: certs.ca, cert: certs.clientCert, key: 'not a key' }, config, /tls: client key PEM/)
  await refused(url, { ca: certs.ca, cert: certs.clientCert }, config, /needs its key/)
  await refused(url, { ca: certs.ca, key: certs.clientKey }, config, /needs its key/)
  await refused(url, { ca: certs.ca, cert: certs.clientCert, key: certs.serverKey }, config, /client certificate and key/)
  await refused(url, { ca: 42 }, config, /ca must be PEM text/)
  await refused(url, { ca: [certs.ca, {}] }, config, /ca\[1\] must be PEM text/)
  await refused(url, { ALPNProtocols: 'mqtt' }, config, /ALPNProtocols must be an array/)
  await refused(url, { ALPNProtocols: [''] }, config, /ALPNProtocols\[0\]/)
  await refused(url, { rejectUnauthorized: 'no' }, config, /rejectUnauthorized must be a boolean/)
  await refused(url, { servername: '' }, config, /servername must be a non-empty string/)
  await refused(url, { ca: certs.ca, servername: 'not a name!' }, config, /tls server name "not a name!"/)
  await refused(`mqtt://127.0.0.1:${mosquitto.plainPort}`, { ca: certs.ca }, config, /tls options need an mqtts:\/\/ or wss:\/\/ URL/)
})
