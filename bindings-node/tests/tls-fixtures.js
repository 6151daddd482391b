'use strict'
// TLS test fixtures: certificates made with the `openssl` CLI (a CA, a server certificate for
// 127.0.0.1 / localhost / broker.test, a client certificate, and an unrelated second CA), a
// Mosquitto with a TLS listener and a mutual-TLS listener, and a `wss://` endpoint that
// bridges WebSocket connections to a plain MQTT listener.

const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const https = require('node:https')
const tls = require('node:tls')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { WebSocketServer } = require('ws')
const { freePort, mosquittoBinary, waitForPort } = require('./helpers')

function openssl (dir, args) {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A CA at `name`.crt/.key in `dir`. */
function makeCa (dir, name) {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
}

/** A leaf certificate `name`.crt/.key signed by `ca`, with the given X.509 v3 extensions. */
function makeLeaf (dir, ca, name, extensions) {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`])
  fs.writeFileSync(path.join(dir, `${name}.ext`), extensions.join('\n') + '\n')
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-set_serial', String(Date.now()), '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`])
}

/** Makes every certificate the TLS tests need; returns their PEM texts and the folder. */
function makeCertificates () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqttkit-node-tls-'))
  makeCa(dir, 'ca')
  makeCa(dir, 'other-ca')
  makeLeaf(dir, 'ca', 'server', ['basicConstraints=CA:FALSE', 'keyUsage=digitalSignature',
    'extendedKeyUsage=serverAuth', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:broker.test'])
  makeLeaf(dir, 'ca', 'client', ['basicConstraints=CA:FALSE', 'keyUsage=digitalSignature',
    'extendedKeyUsage=clientAuth'])
  // Mosquitto started as root reads its files as the `mosquitto` user.
  fs.chmodSync(dir, 0o755)
  for (const file of fs.readdirSync(dir)) fs.chmodSync(path.join(dir, file), 0o644)
  const read = (file) => fs.readFileSync(path.join(dir, file), 'utf8')
  return {
    dir,
    ca: read('ca.crt'),
    otherCa: read('other-ca.crt'),
    serverCert: read('server.crt'),
    serverKey: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
    remove () { fs.rmSync(dir, { recursive: true, force: true }) }
  }
}

/**
 * Mosquitto with a plain listener (`plainUrl`), a TLS listener (`tlsUrl`) and a TLS
 * listener that requires a client certificate signed by the CA (`mtlsUrl`).
 */
async function startTlsMosquitto (certs) {
  const [plain, tls, mtls] = [await freePort(), await freePort(), await freePort()]
  const files = (extra) => [`cafile ${path.join(certs.dir, 'ca.crt')}`,
    `certfile ${path.join(certs.dir, 'server.crt')}`, `keyfile ${path.join(certs.dir, 'server.key')}`, ...extra]
  const config = [
    'allow_anonymous true', 'persistence false',
    `listener ${plain} 127.0.0.1`,
    `listener ${tls} 127.0.0.1`, ...files([]),
    `listener ${mtls} 127.0.0.1`, ...files(['require_certificate true'])
  ].join('\n') + '\n'
  const configFile = path.join(certs.dir, 'mosquitto.conf')
  fs.writeFileSync(configFile, config)
  const child = spawn(mosquittoBinary(), ['-c', configFile], { stdio: 'ignore' })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  await Promise.all([waitForPort(plain), waitForPort(tls), waitForPort(mtls)])
  return {
    plainPort: plain,
    tlsUrl: `mqtts://127.0.0.1:${tls}`,
    mtlsUrl: `mqtts://127.0.0.1:${mtls}`,
    async stop () {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
    }
  }
}

/**
 * A `wss://` endpoint with the server certificate whose WebSocket connections are bridged
 * to the plain MQTT listener on `mqttPort`.
 */
async function startWssBridge (certs, mqttPort) {
  const server = https.createServer({ cert: certs.serverCert, key: certs.serverKey })
  const wss = new WebSocketServer({ server, handleProtocols: (protocols) => protocols.has('mqtt') ? 'mqtt' : false })
  const sockets = new Set()
  wss.on('connection', (ws) => {
    const tcp = net.connect(mqttPort, '127.0.0.1')
    sockets.add(tcp)
    tcp.on('data', (data) => ws.send(data))
    tcp.on('close', () => { sockets.delete(tcp); ws.close() })
    tcp.on('error', () => ws.terminate())
    ws.on('message', (data) => tcp.write(data))
    ws.on('close', () => tcp.end())
    ws.on('error', () => tcp.destroy())
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `wss://127.0.0.1:${server.address().port}/mqtt`,
    async stop () {
      for (const client of wss.clients) client.terminate()
      for (const socket of sockets) socket.destroy()
      wss.close()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

/**
 * A TLS endpoint with the server certificate that offers ALPN `mqtt`, records what each
 * client sent in its handshake (`handshakes`: SNI server name, negotiated ALPN protocol)
 * and forwards the decrypted stream to the plain MQTT listener on `mqttPort`.
 */
async function startTlsProxy (certs, mqttPort) {
  const handshakes = []
  const sockets = new Set()
  const server = tls.createServer({ cert: certs.serverCert, key: certs.serverKey, ALPNProtocols: ['mqtt'] }, (socket) => {
    handshakes.push({ servername: socket.servername, alpnProtocol: socket.alpnProtocol })
    const tcp = net.connect(mqttPort, '127.0.0.1')
    for (const s of [socket, tcp]) { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)) }
    socket.pipe(tcp).pipe(socket)
  })
  server.on('tlsClientError', () => {})
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `mqtts://127.0.0.1:${server.address().port}`,
    handshakes,
    async stop () {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

module.exports = { makeCertificates, startTlsMosquitto, startWssBridge, startTlsProxy }
