// Benchmark (not a test): mqttkit vs MQTT.js, publish throughput (100k QoS 0, 20k QoS 1,
// 64 B payloads) awaited with a window of outstanding publishes and in a plain loop that
// calls publish without awaiting, against a do-nothing sink listener (a child process that
// only answers CONNECT/PUBLISH/PINGREQ) and against Mosquitto; receive throughput through
// Mosquitto. Prints a table with ratios.
//
// Build release first:  (cd bindings-node && npm run build:release)
// Run:                  node bindings-node/bench/bench.js
'use strict'

const { fork, spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

// ---- the sink: a child process that acknowledges and forgets -------------------------------
if (process.argv[2] === 'sink') {
  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    let buffer = Buffer.alloc(0)
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk
      const out = []
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
          const version = buffer[i + 6]
          out.push(version === 5 ? Buffer.from([0x20, 3, 0, 0, 0]) : Buffer.from([0x20, 2, 0, 0]))
        } else if (type === 3) {
          const qos = (buffer[offset] >> 1) & 3
          if (qos > 0) {
            const topicLength = buffer.readUInt16BE(i)
            const id = i + 2 + topicLength
            out.push(Buffer.from([qos === 1 ? 0x40 : 0x50, 2, buffer[id], buffer[id + 1]]))
          }
        } else if (type === 6) {
          out.push(Buffer.from([0x70, 2, buffer[i], buffer[i + 1]]))
        } else if (type === 12) {
          out.push(Buffer.from([0xd0, 0]))
        }
        offset = i + length
      }
      buffer = buffer.subarray(offset)
      if (out.length) socket.write(out.length === 1 ? out[0] : Buffer.concat(out))
    })
  })
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
  process.on('message', (m) => { if (m === 'stop') process.exit(0) })
  return
}

// ---- the publisher for the receive test: a child process ----------------------------------
if (process.argv[2] === 'flood') {
  const mqttkit = require('..')
  const [, , , url, count] = process.argv
  ;(async () => {
    const client = await mqttkit.connect(url, { clientId: 'bench-flood' })
    const payload = Buffer.alloc(64, 1)
    const window = []
    for (let i = 0; i < Number(count); i++) {
      window.push(client.publish('bench/rx', payload, { qos: 0 }))
      if (window.length >= 1000) { await Promise.all(window); window.length = 0 }
    }
    await Promise.all(window)
    await client.ping()
    await client.end()
  })()
  return
}

const mqtt = require('mqtt')
const mqttkit = require('..')

const PAYLOAD = Buffer.alloc(64, 0x61)
const RUNS = Number(process.env.BENCH_RUNS || 3)
const WINDOW = 1000

async function startSink () {
  const child = fork(__filename, ['sink'], { stdio: 'inherit' })
  const { port } = await new Promise((resolve) => child.once('message', resolve))
  return { url: `mqtt://127.0.0.1:${port}`, stop: () => { child.send('stop') } }
}

async function startMosquitto () {
  const port = await new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) })
  })
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

// Each returns messages per second.
const libraries = {
  mqttkit: {
    connect: (url, id) => mqttkit.connect(url, { clientId: id, protocolVersion: 5 }),
    publish: (c, qos) => c.publish('bench/t', PAYLOAD, { qos }),
    end: (c) => c.end()
  },
  'MQTT.js': {
    connect: (url, id) => mqtt.connectAsync(url, { clientId: id, protocolVersion: 5, reconnectPeriod: 0 }),
    publish: (c, qos) => c.publishAsync('bench/t', PAYLOAD, { qos }),
    end: (c) => c.endAsync()
  }
}

async function windowed (lib, client, qos, count) {
  const started = process.hrtime.bigint()
  let inFlight = 0
  let sent = 0
  let done = 0
  await new Promise((resolve, reject) => {
    const next = () => {
      while (inFlight < WINDOW && sent < count) {
        sent++
        inFlight++
        lib.publish(client, qos).then(() => {
          inFlight--
          done++
          if (done === count) resolve()
          else next()
        }, reject)
      }
    }
    next()
  })
  return count / (Number(process.hrtime.bigint() - started) / 1e9)
}

async function plainLoop (lib, client, qos, count) {
  const started = process.hrtime.bigint()
  const all = new Array(count)
  for (let i = 0; i < count; i++) all[i] = lib.publish(client, qos)
  await Promise.all(all)
  return count / (Number(process.hrtime.bigint() - started) / 1e9)
}

async function nowaitLoop (client, qos, count) {
  const started = process.hrtime.bigint()
  for (let i = 0; i < count; i++) client.publishNowait('bench/t', PAYLOAD, { qos })
  await client.ping({ timeout: 60000 }) // the ping is answered after every publish was written
  return count / (Number(process.hrtime.bigint() - started) / 1e9)
}

async function receive (name, url, count) {
  const lib = libraries[name]
  const client = await lib.connect(url, `bench-rx-${name}`)
  if (name === 'mqttkit') await client.subscribe('bench/rx', { qos: 0 })
  else await client.subscribeAsync('bench/rx', { qos: 0 })
  let received = 0
  let first = 0n
  let last = 0n
  const finished = new Promise((resolve) => {
    const timer = setTimeout(resolve, 60000)
    client.on('message', () => {
      if (received === 0) first = process.hrtime.bigint()
      received++
      last = process.hrtime.bigint()
      if (received === count) { clearTimeout(timer); resolve() }
    })
  })
  const flood = fork(__filename, ['flood', url, String(count)], { stdio: 'inherit' })
  await finished
  flood.kill()
  await lib.end(client)
  const seconds = Number(last - first) / 1e9
  return { rate: received / seconds, received }
}

function fmt (rate) {
  return rate >= 1e6 ? `${(rate / 1e6).toFixed(2)}M` : `${(rate / 1e3).toFixed(1)}k`
}

// Optional filters for quick runs: BENCH_LIBS=mqttkit, BENCH_FILTER='QoS 0.*windowed'.
const ONLY_LIBS = process.env.BENCH_LIBS ? process.env.BENCH_LIBS.split(',') : null
const FILTER = process.env.BENCH_FILTER ? new RegExp(process.env.BENCH_FILTER) : null
const wanted = (name) => !FILTER || FILTER.test(name)
const libs = () => Object.keys(libraries).filter((name) => !ONLY_LIBS || ONLY_LIBS.includes(name))

async function main () {
  const rows = []
  const cases = [
    { qos: 0, count: 100000 },
    { qos: 1, count: 20000 }
  ]
  for (const [targetName, start] of [['sink', startSink], ['mosquitto', startMosquitto]]) {
    for (const { qos, count } of cases) {
      for (const style of ['windowed', 'plain loop']) {
        const label = `publish QoS ${qos} x${count / 1000}k, ${style}`
        if (!wanted(`${label} ${targetName}`)) continue
        const rates = {}
        for (const name of libs()) {
          const target = await start()
          const lib = libraries[name]
          const client = await lib.connect(target.url, `bench-${name}`)
          // warm-up, then the best of RUNS runs (this machine is shared: the best run is
          // the one least disturbed). MQTT.js's plain loop at QoS 0 takes about a minute
          // per run, so it runs once.
          await windowed(lib, client, qos, Math.min(5000, count))
          const runs = style === 'plain loop' && name === 'MQTT.js' && qos === 0 ? 1 : RUNS
          rates[name] = 0
          for (let run = 0; run < runs; run++) {
            const rate = style === 'windowed'
              ? await windowed(lib, client, qos, count)
              : await plainLoop(lib, client, qos, count)
            rates[name] = Math.max(rates[name], rate)
          }
          await lib.end(client)
          target.stop()
        }
        rows.push([label, targetName, rates.mqttkit, rates['MQTT.js']])
      }
      if (!wanted(`publishNowait QoS ${qos} x${count / 1000}k, plain loop ${targetName}`)) continue
      const target = await start()
      const client = await mqttkit.connect(target.url, { clientId: 'bench-nowait' })
      await nowaitLoop(client, qos, Math.min(5000, count))
      let rate = 0
      for (let run = 0; run < RUNS; run++) rate = Math.max(rate, await nowaitLoop(client, qos, count))
      await client.end()
      target.stop()
      rows.push([`publishNowait QoS ${qos} x${count / 1000}k, plain loop`, targetName, rate, undefined])
    }
  }
  if (wanted('receive QoS 0 x100k mosquitto')) {
    const rates = {}
    let note = ''
    for (const name of libs()) {
      const target = await startMosquitto()
      target.stop()
      rates[name] = 0
      for (let run = 0; run < RUNS; run++) {
        const broker = await startMosquitto()
        const { rate, received } = await receive(name, broker.url, 100000)
        if (received !== 100000) note += ` ${name} got ${received}`
        rates[name] = Math.max(rates[name], rate)
        broker.stop()
      }
    }
    rows.push([`receive QoS 0 x100k${note}`, 'mosquitto', rates.mqttkit, rates['MQTT.js']])
  }

  const header = ['case', 'target', 'mqttkit msg/s', 'MQTT.js msg/s', 'ratio']
  const table = rows.map(([c, t, a, b]) => [c, t, a === undefined ? '-' : fmt(a), b === undefined ? '-' : fmt(b), a === undefined || b === undefined ? '-' : `${(a / b).toFixed(2)}x`])
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)))
  const line = (r) => '| ' + r.map((v, i) => v.padEnd(widths[i])).join(' | ') + ' |'
  console.log(line(header))
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|')
  for (const r of table) console.log(line(r))
  console.log(`\nnode ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model}), window ${WINDOW}, payload ${PAYLOAD.length} B, best of ${RUNS} runs, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`)
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1) })
