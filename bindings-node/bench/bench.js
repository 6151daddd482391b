// Benchmark (not a test): mqttkit vs MQTT.js, publish throughput (100k QoS 0, 20k QoS 1,
// 64 B payloads) awaited with a window of outstanding publishes and in a plain loop that
// calls publish without awaiting, against a do-nothing sink listener, against mqttkit's
// broker and against Mosquitto; receive throughput (100k QoS 0) from the sink flooding the
// subscriber (no broker: the client alone) and through each broker from a separate
// publisher. Every peer runs in its own process (peers.js). Prints a table with ratios.
//
// Build release first:  (cd bindings-node && npm run build:release)
// Run:                  node bindings-node/bench/bench.js
// (MQTT.js's plain loop prints MaxListenersExceededWarning: it adds a `drain` listener per
// publication while its socket is full.)
'use strict'

const os = require('node:os')

const mqtt = require('mqtt')
const mqttkit = require('..')
const { RX_TOPIC, startSink, startBroker, startMosquitto, flood } = require('./peers')

const PAYLOAD = Buffer.alloc(64, 0x61)
const RUNS = Number(process.env.BENCH_RUNS || 3)
const WINDOW = 1000

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

// Subscribes to bench/rx at `url` and times `count` messages from the first to the last;
// `publisher(url)` starts what sends them (nothing for the flooding sink: the SUBSCRIBE
// starts it) and returns a child process or undefined.
async function receive (name, url, count, publisher) {
  const lib = libraries[name]
  const client = await lib.connect(url, `bench-rx-${name}`)
  let received = 0
  let first = 0n
  let last = 0n
  let cpu
  const finished = new Promise((resolve) => {
    const timer = setTimeout(resolve, 60000)
    client.on('message', () => {
      if (received === 0) {
        first = process.hrtime.bigint()
        cpu = process.cpuUsage()
      }
      received++
      last = process.hrtime.bigint()
      if (received === count) {
        cpu = process.cpuUsage(cpu)
        clearTimeout(timer)
        resolve()
      }
    })
  })
  if (name === 'mqttkit') await client.subscribe(RX_TOPIC, { qos: 0 })
  else await client.subscribeAsync(RX_TOPIC, { qos: 0 })
  const child = publisher(url)
  await finished
  if (child) child.kill()
  await lib.end(client)
  const seconds = Number(last - first) / 1e9
  // This process runs nothing but the receiving client meanwhile (JS thread and, for
  // mqttkit, the native threads): its CPU time per message.
  const cpuPerMessage = received === count ? (cpu.user + cpu.system) / received : NaN
  return { rate: received / seconds, received, cpuPerMessage }
}

function fmt (rate) {
  return rate >= 1e6 ? `${(rate / 1e6).toFixed(2)}M` : `${(rate / 1e3).toFixed(1)}k`
}

// Optional filters for quick runs: BENCH_LIBS=mqttkit, BENCH_FILTER='QoS 0.*windowed'.
const ONLY_LIBS = process.env.BENCH_LIBS ? process.env.BENCH_LIBS.split(',') : null
const FILTER = process.env.BENCH_FILTER ? new RegExp(process.env.BENCH_FILTER) : null
const wanted = (name) => !FILTER || FILTER.test(name)
const libs = () => Object.keys(libraries).filter((name) => !ONLY_LIBS || ONLY_LIBS.includes(name))

const RX_COUNT = 100000

// Where the publish rows go, and where the receive rows come from.
const targets = [
  { name: 'sink', start: () => startSink(), startRx: () => startSink(RX_COUNT), publisher: () => undefined },
  { name: 'mqttkit broker', start: startBroker, startRx: startBroker, publisher: (url) => flood(url, RX_COUNT) },
  { name: 'mosquitto', start: startMosquitto, startRx: startMosquitto, publisher: (url) => flood(url, RX_COUNT) }
]

async function publishRows (rows, target, qos, count) {
  for (const style of ['windowed', 'plain loop']) {
    const label = `publish QoS ${qos} x${count / 1000}k, ${style}`
    if (!wanted(`${label} ${target.name}`)) continue
    const rates = {}
    for (const name of libs()) {
      const peer = await target.start()
      const lib = libraries[name]
      const client = await lib.connect(peer.url, `bench-${name}`)
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
      peer.stop()
    }
    rows.push([label, target.name, rates.mqttkit, rates['MQTT.js']])
  }
  const label = `publishNowait QoS ${qos} x${count / 1000}k, plain loop`
  if (!wanted(`${label} ${target.name}`) || (ONLY_LIBS && !ONLY_LIBS.includes('mqttkit'))) return
  const peer = await target.start()
  const client = await mqttkit.connect(peer.url, { clientId: 'bench-nowait' })
  await nowaitLoop(client, qos, Math.min(5000, count))
  let rate = 0
  for (let run = 0; run < RUNS; run++) rate = Math.max(rate, await nowaitLoop(client, qos, count))
  await client.end()
  peer.stop()
  rows.push([label, target.name, rate, undefined])
}

async function receiveRow (rows, target) {
  const label = `receive QoS 0 x${RX_COUNT / 1000}k`
  if (!wanted(`${label} ${target.name}`)) return
  const rates = {}
  const cpu = {}
  let note = ''
  for (const name of libs()) {
    rates[name] = 0
    cpu[name] = Infinity
    for (let run = 0; run < RUNS; run++) {
      const peer = await target.startRx()
      const { rate, received, cpuPerMessage } = await receive(name, peer.url, RX_COUNT, target.publisher)
      if (received !== RX_COUNT) note += ` (${name} got ${received})`
      const dropped = peer.dropped ? await peer.dropped() : 0
      if (dropped > 0) note += ` (broker dropped ${dropped})`
      rates[name] = Math.max(rates[name], rate)
      cpu[name] = Math.min(cpu[name], cpuPerMessage)
      peer.stop()
    }
  }
  const cpuNote = libs().map((name) => `${name} ${cpu[name].toFixed(2)}`).join(', ')
  rows.push([`${label}, CPU µs/msg ${cpuNote}${note}`, target.name, rates.mqttkit, rates['MQTT.js']])
}

async function main () {
  const rows = []
  for (const target of targets) {
    await publishRows(rows, target, 0, 100000)
    await publishRows(rows, target, 1, 20000)
  }
  for (const target of targets) await receiveRow(rows, target)

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
