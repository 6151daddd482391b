// The package is usable from ESM: named and default exports.
import test from 'node:test'
import assert from 'node:assert/strict'
import mqttkit, { connect, MqttError, errorKinds, codes } from '../index.mjs'

test('ESM named and default exports', () => {
  assert.equal(typeof connect, 'function')
  assert.equal(mqttkit.connect, connect)
  assert.ok(MqttError.prototype instanceof Error)
  assert.equal(errorKinds().length, 18)
  assert.equal(codes.TIMEOUT, 'ERR_MQTT_TIMEOUT')
})
