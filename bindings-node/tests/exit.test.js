'use strict'
// A closed client never keeps the process alive; an open one with process.exit() does not
// crash it.

const test = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const path = require('node:path')
const { startMosquitto } = require('./helpers')

const ROOT = path.join(__dirname, '..')

function runScript (source, ms = 15000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', source], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => { output += d })
    child.stderr.on('data', (d) => { output += d })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the script did not exit within ${ms} ms: ${output}`))
    }, ms)
    child.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, output }) })
  })
}

let broker
test.before(async () => { broker = await startMosquitto() })
test.after(async () => { await broker.stop() })

test('a script that connects, works and ends exits on its own', async () => {
  const { code, output } = await runScript(`
    const mqttkit = require('.')
    ;(async () => {
      const client = await mqttkit.connect('${broker.url}', { clientId: 'exit-1' })
      client.on('message', () => {})
      await client.subscribe('exit/#', { qos: 1 })
      await client.publish('exit/x', 'bye', { qos: 1 })
      client.publishNowait('exit/y', 'bye')
      await client.end()
      console.log('done')
    })()
  `)
  assert.equal(code, 0, output)
  assert.match(output, /done/)
})

test('a client whose connect failed keeps nothing alive', async () => {
  const { code, output } = await runScript(`
    const mqttkit = require('.')
    mqttkit.connect('mqtt://127.0.0.1:1', { clientId: 'exit-2', reconnect: false })
      .catch((error) => console.log('failed', error.code))
  `)
  assert.equal(code, 0, output)
  assert.match(output, /failed ERR_MQTT_NETWORK/)
})

test('process.exit with clients still open does not crash', async () => {
  const { code, signal, output } = await runScript(`
    const mqttkit = require('.')
    ;(async () => {
      const clients = []
      for (let i = 0; i < 3; i++) clients.push(await mqttkit.connect('${broker.url}', { clientId: 'exit-3-' + i }))
      await clients[0].subscribe('exit3/#')
      for (let i = 0; i < 1000; i++) clients[1].publishNowait('exit3/t', 'x')
      setImmediate(() => process.exit(0))
    })()
  `)
  assert.equal(signal, null, output)
  assert.equal(code, 0, output)
})

test('an open client keeps the process alive (like a socket) until ended', async () => {
  const { code, output } = await runScript(`
    const mqttkit = require('.')
    ;(async () => {
      const client = await mqttkit.connect('${broker.url}', { clientId: 'exit-4' })
      let ticks = 0
      const timer = setInterval(() => { ticks++ }, 1).unref()
      // Without a ref'd handle the process would exit here, before the timeout fires.
      setTimeout(async () => { console.log('still alive'); await client.end() }, 200).unref()
      client.on('end', () => console.log('ended'))
    })()
  `)
  assert.equal(code, 0, output)
  assert.match(output, /still alive/)
  assert.match(output, /ended/)
})

test('a worker thread torn down with a client open neither crashes nor hangs the process', async () => {
  const { code, signal, output } = await runScript(`
    const { Worker } = require('node:worker_threads')
    const worker = new Worker(\`
      const mqttkit = require(${JSON.stringify(ROOT)})
      const { parentPort } = require('node:worker_threads')
      mqttkit.connect('${broker.url}', { clientId: 'exit-worker' }).then(async (client) => {
        await client.subscribe('w/#')
        client.publishNowait('w/x', 'still open')
        parentPort.postMessage('connected')
      })
    \`, { eval: true })
    worker.once('message', async () => {
      await worker.terminate()
      console.log('terminated')
    })
  `)
  assert.equal(signal, null, output)
  assert.equal(code, 0, output)
  assert.match(output, /terminated/)
})
