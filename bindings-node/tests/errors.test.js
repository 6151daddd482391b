'use strict'
// Every core error kind maps to a stable code; the mapping is exhaustive (src/errors.rs).

const test = require('node:test')
const assert = require('node:assert/strict')
const mqttkit = require('..')

const EXPECTED = {
  TIMEOUT: 'ERR_MQTT_TIMEOUT',
  CONNECTION_REFUSED: 'ERR_MQTT_CONNECTION_REFUSED',
  CONNECTION_LOST: 'ERR_MQTT_CONNECTION_LOST',
  NOT_CONNECTED: 'ERR_MQTT_NOT_CONNECTED',
  ALREADY_CONNECTED: 'ERR_MQTT_ALREADY_CONNECTED',
  NETWORK: 'ERR_MQTT_NETWORK',
  PROTOCOL_VIOLATION: 'ERR_MQTT_PROTOCOL_VIOLATION',
  PACKET_PARSING: 'ERR_MQTT_PACKET_PARSING',
  PUBLISH_FAILED: 'ERR_MQTT_PUBLISH_FAILED',
  SUBSCRIBE_FAILED: 'ERR_MQTT_SUBSCRIBE_FAILED',
  UNSUBSCRIBE_FAILED: 'ERR_MQTT_UNSUBSCRIBE_FAILED',
  BUFFER_FULL: 'ERR_MQTT_BUFFER_FULL',
  CHANNEL_CLOSED: 'ERR_MQTT_CLIENT_CLOSED',
  PACKET_ID_EXHAUSTED: 'ERR_MQTT_PACKET_ID_EXHAUSTED',
  INVALID_CONFIGURATION: 'ERR_MQTT_INVALID_CONFIGURATION',
  INVALID_ARGUMENT: 'ERR_MQTT_INVALID_ARGUMENT',
  AUTH_FAILED: 'ERR_MQTT_AUTH_FAILED',
  INTERNAL: 'ERR_MQTT_INTERNAL'
}

test('every core error kind has its own stable code', () => {
  const kinds = mqttkit.errorKinds()
  assert.deepEqual(Object.fromEntries(kinds.map((k) => [k.kind, k.code])), EXPECTED)
  assert.deepEqual(kinds.map((k) => k.errno), kinds.map((_, i) => i + 1))
  assert.equal(new Set(kinds.map((k) => k.code)).size, kinds.length)
  assert.equal(mqttkit.codes.TIMEOUT, 'ERR_MQTT_TIMEOUT')
})

test('every kind goes through the real mapping into an MqttError', () => {
  for (const kind of mqttkit.errorKinds()) {
    const error = mqttkit._sampleError(kind.errno)
    assert.ok(error instanceof Error, kind.kind)
    assert.ok(error instanceof mqttkit.MqttError, kind.kind)
    assert.equal(error.code, kind.code)
    assert.equal(error.kind, kind.kind)
    assert.equal(error.errno, kind.errno)
    assert.equal(typeof error.message, 'string')
    assert.ok(error.message.length > 0)
    for (const flag of ['recoverable', 'shouldReconnect', 'fatal', 'authError']) {
      assert.equal(typeof error[flag], 'boolean')
    }
  }
  assert.equal(mqttkit._sampleError(1).operation, 'publish')
  assert.equal(mqttkit._sampleError(2).reasonCode, 0x87)
  assert.equal(mqttkit._sampleError(2).reasonString, 'go away')
  assert.equal(mqttkit._sampleError(2).authError, true)
  assert.equal(mqttkit._sampleError(3).reasonCode, 0x8b)
  assert.equal(mqttkit._sampleError(9).packetId, 7)
  assert.equal(mqttkit._sampleError(9).reasonCode, 0x97)
  assert.deepEqual(mqttkit._sampleError(10).reasonCodes, [0x87])
  assert.equal(mqttkit._sampleError(1).recoverable, true)
  assert.equal(mqttkit._sampleError(15).fatal, true)
})
