'use strict'
// The cross-language scenarios of tests/scenarios/ (format in its README), run with the
// Promise client against a fresh embedded broker per file; Rust, Python and C run the same
// files with their own APIs.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const mqttkit = require('..')
const { within, EVENT_TIMEOUT } = require('./helpers')

const SCENARIOS = path.join(__dirname, '..', '..', 'tests', 'scenarios')

/** One line of a scenario, `verb client key=value ...`, or null for a blank or comment line. */
function parseStep (line, text) {
  text = text.split(' #')[0].trim()
  if (!text || text.startsWith('#')) return null
  const [verb, client, ...words] = text.split(/\s+/)
  const args = {}
  for (const word of words) {
    const at = word.indexOf('=')
    assert.ok(at > 0, `line ${line}: \`${word}\` is not key=value`)
    args[word.slice(0, at)] = word.slice(at + 1)
  }
  return { line, verb, client, args }
}

function flag (step, key) {
  const value = step.args[key]
  if (value === undefined) return undefined
  assert.ok(value === 'true' || value === 'false', `line ${step.line}: ${key}=${value} is not true or false`)
  return value === 'true'
}

/** Carries out the steps of one file against the broker at `url`. */
class Runner {
  constructor (name, url) {
    this.name = name
    this.url = url
    this.clients = new Map()
  }

  async step (step) {
    const at = `${this.name}:${step.line} \`${step.verb} ${step.client}\``
    if (step.verb === 'connect') return this.connect(step, at)
    const actor = this.clients.get(step.client)
    assert.ok(actor, `${at}: \`${step.client}\` is not connected`)
    const { client, messages } = actor
    const args = step.args
    switch (step.verb) {
      case 'subscribe': {
        const result = await client.subscribe(args.filter, { qos: Number(args.qos), noLocal: flag(step, 'no_local') ?? false })
        assert.deepEqual(result.reasonCodes, [Number(args.granted ?? args.qos)], `${at}: SUBACK`)
        break
      }
      case 'unsubscribe':
        await client.unsubscribe(args.filter)
        break
      case 'publish':
        await client.publish(args.topic, args.payload, { qos: Number(args.qos), retain: flag(step, 'retain') ?? false })
        break
      case 'receive': {
        const message = await next(messages, at)
        assert.deepEqual([message.topic, message.payload.toString()], [args.topic, args.payload], `${at}: topic, payload`)
        if (args.qos !== undefined) assert.equal(message.qos, Number(args.qos), `${at}: QoS`)
        if (flag(step, 'retain') !== undefined) assert.equal(message.retain, flag(step, 'retain'), `${at}: RETAIN`)
        break
      }
      case 'nothing': {
        const fence = `fence/${step.client}`
        await client.publish(fence, 'fence', { qos: 1 })
        const message = await next(messages, at)
        assert.equal(message.topic, fence, `${at}: expected nothing, received ${message.topic} ${message.payload}`)
        break
      }
      case 'disconnect':
        this.clients.delete(step.client)
        await client.end()
        break
      default:
        assert.fail(`${at}: unknown step \`${step.verb}\``)
    }
  }

  async connect (step, at) {
    const version = step.args.version ?? '5'
    assert.ok(version === '5' || version === '3.1.1', `${at}: unknown version ${version}`)
    const options = { clientId: step.client, protocolVersion: version, cleanStart: flag(step, 'clean') ?? true, reconnect: false }
    if (step.args.expiry !== undefined) options.sessionExpiryInterval = Number(step.args.expiry)
    const client = new mqttkit.MqttClient(this.url, options)
    const messages = client.messages()
    const connack = await client.connect()
    if (flag(step, 'present') !== undefined) assert.equal(connack.sessionPresent, flag(step, 'present'), `${at}: Session Present`)
    await client.subscribe(`fence/${step.client}`, { qos: 1 })
    this.clients.set(step.client, { client, messages })
  }

  async close () {
    for (const { client } of this.clients.values()) await client.end(true)
  }
}

async function next (messages, at) {
  const { value, done } = await within(messages.next(), EVENT_TIMEOUT, `${at}: a message`)
  assert.ok(!done, `${at}: the client's messages ended`)
  return value
}

const files = fs.readdirSync(SCENARIOS).filter((name) => name.endsWith('.scenario')).sort()

test('the scenario files are there', () => {
  assert.ok(files.length >= 4, `scenario files missing in ${SCENARIOS}`)
})

test('a step names its verb, client and arguments', () => {
  assert.deepEqual(parseStep(3, 'publish pub topic=a/b qos=1 payload= # trailing comment'),
    { line: 3, verb: 'publish', client: 'pub', args: { topic: 'a/b', qos: '1', payload: '' } })
  assert.equal(parseStep(4, '   # only a comment'), null)
})

for (const name of files) {
  test(`scenario ${name}`, async () => {
    const broker = await mqttkit.Broker.start({ host: '127.0.0.1', port: 0 })
    const runner = new Runner(name, broker.url)
    try {
      const lines = fs.readFileSync(path.join(SCENARIOS, name), 'utf8').split('\n')
      for (const [index, text] of lines.entries()) {
        const step = parseStep(index + 1, text)
        if (step) await runner.step(step)
      }
    } finally {
      await runner.close()
      await broker.close()
    }
  })
}
