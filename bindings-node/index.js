'use strict'
// mqttkit for Node.js: the public API over the native client (src/client.rs).
//
// Every operation returns a Promise that settles on the server's acknowledgement; the
// `...Nowait` form of each queues the operation and returns at once (failures arrive as
// `error` events). Events are emitted on the JS thread in the order the core produced them,
// one native wake-up per batch.

const { EventEmitter } = require('node:events')
const native = require('./mqttkit.node')
const { PublishBatch } = require('./publish-batch')

const KINDS = native.errorKinds()
const KIND_BY_CODE = new Map(KINDS.map((k) => [k.code, k]))

/** Every error mqttkit reports: an `Error` with a stable `code` (`ERR_MQTT_TIMEOUT`, ...). */
class MqttError extends Error {
  constructor (info) {
    super(info.message)
    this.name = 'MqttError'
    this.code = info.code
    this.kind = info.kind
    this.errno = info.errno
    if (info.reasonCode != null) this.reasonCode = info.reasonCode
    if (info.reasonCodes != null) this.reasonCodes = info.reasonCodes
    if (info.reasonString != null) this.reasonString = info.reasonString
    if (info.operation != null) this.operation = info.operation
    if (info.packetId != null) this.packetId = info.packetId
    this.recoverable = Boolean(info.recoverable)
    this.shouldReconnect = Boolean(info.shouldReconnect)
    this.fatal = Boolean(info.fatal)
    this.authError = Boolean(info.authError)
  }
}

/** A synchronous native throw as an MqttError (its `code` is already the stable one). */
function fromNative (error) {
  const kind = error && KIND_BY_CODE.get(error.code)
  if (!kind) return error
  const info = { code: kind.code, kind: kind.kind, errno: kind.errno, message: error.message }
  return new MqttError(info)
}

function invalidArgument (message) {
  return fromNative(Object.assign(new Error(message), { code: 'ERR_MQTT_INVALID_ARGUMENT' }))
}

const TAG = {
  MESSAGE: 1,
  DONE: 2,
  FAILED: 3,
  CONNECTED: 4,
  DISCONNECTED: 5,
  PUBLISHED: 6,
  SUBSCRIBED: 7,
  UNSUBSCRIBED: 8,
  PING_RESPONSE: 9,
  ERROR: 10,
  CONNECTION_LOST: 11,
  RECONNECT_ATTEMPT: 12,
  PENDING_CLEARED: 13,
  AUTH: 14,
  PEER_CERTIFICATE: 15,
  CLOSED: 16,
  DONE_PUBLISH: 18
}

function publishResult (packetId, qos, reasonCode, properties) {
  return { packetId: packetId === 0 ? undefined : packetId - 0x10000, qos, reasonCode, properties }
}

// ---- argument normalization ---------------------------------------------------------------

function toBuffer (value, what) {
  if (value == null) return undefined
  if (Buffer.isBuffer(value)) return value
  if (typeof value === 'string') return Buffer.from(value)
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  throw invalidArgument(`${what} must be a string, Buffer or Uint8Array`)
}

function payloadOf (payload) {
  if (typeof payload === 'string' || ArrayBuffer.isView(payload)) {
    if (typeof payload === 'string' || payload instanceof Uint8Array) return payload
  }
  if (payload == null) return ''
  throw invalidArgument('payload must be a string, Buffer or Uint8Array')
}

/** `{ name: value | value[] }` (MQTT.js style) or `[[name, value], ...]` into `[n, v, ...]`. */
function flatUserProperties (props) {
  if (props == null) return undefined
  const flat = []
  const pairs = Array.isArray(props) ? props : Object.entries(props)
  for (const [name, value] of pairs) {
    if (Array.isArray(value)) {
      for (const v of value) flat.push(String(name), String(v))
    } else {
      flat.push(String(name), String(value))
    }
  }
  return flat
}

function publishProperties (p) {
  if (p == null) return undefined
  return {
    payloadFormatIndicator: p.payloadFormatIndicator,
    messageExpiryInterval: p.messageExpiryInterval,
    contentType: p.contentType,
    responseTopic: p.responseTopic,
    correlationData: toBuffer(p.correlationData, 'correlationData'),
    userProperties: flatUserProperties(p.userProperties),
    topicAlias: p.topicAlias
  }
}

function protocolVersion (v) {
  if (v == null) return undefined
  if (v === 5 || v === '5' || v === '5.0') return 5
  if (v === 4 || v === '4' || v === '3.1.1') return 4
  return typeof v === 'number' ? v : -1
}

// Characters a topic name cannot contain (the rest is checked natively).
const INVALID_TOPIC = /[+#\u0000]/

/**
 * A timeout option in ms as the native layer takes it: `undefined` keeps the configured one,
 * a number >= 0 limits the wait, `Infinity` waits without limit.
 */
function timeoutMs (v, what = 'timeout', error = invalidArgument) {
  if (v === undefined || (typeof v === 'number' && v >= 0)) return v
  throw error(`${what} must be a number of milliseconds >= 0, or Infinity to wait without limit; got ${v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : String(v)}`)
}

function invalidConfiguration (message) {
  return fromNative(Object.assign(new Error(message), { code: 'ERR_MQTT_INVALID_CONFIGURATION' }))
}

/** A PEM option (`ca`, `cert`, `key`): text or bytes, or an array of them joined. */
function pemOf (value, what) {
  if (value == null) return undefined
  const parts = Array.isArray(value) ? value : [value]
  const buffers = parts.map((part, i) => {
    if (typeof part === 'string') return Buffer.from(part)
    if (part instanceof Uint8Array) return Buffer.from(part.buffer, part.byteOffset, part.byteLength)
    throw invalidConfiguration(`${what}${Array.isArray(value) ? `[${i}]` : ''} must be PEM text as a string, Buffer or Uint8Array`)
  })
  return buffers.length === 1 ? buffers[0] : Buffer.concat(buffers.flatMap((b) => [b, Buffer.from('\n')]))
}

/** MQTT.js / `tls.connect` TLS options into the native ones; undefined when none is set. */
function tlsOptions (o) {
  if (o.ca == null && o.cert == null && o.key == null && o.servername == null &&
      o.ALPNProtocols == null && o.rejectUnauthorized == null) return undefined
  if (o.rejectUnauthorized != null && typeof o.rejectUnauthorized !== 'boolean') {
    throw invalidConfiguration(`rejectUnauthorized must be a boolean, got ${typeof o.rejectUnauthorized}`)
  }
  if (o.servername != null && (typeof o.servername !== 'string' || o.servername.length === 0)) {
    throw invalidConfiguration('servername must be a non-empty string')
  }
  let alpn
  if (o.ALPNProtocols != null) {
    if (!Array.isArray(o.ALPNProtocols)) throw invalidConfiguration('ALPNProtocols must be an array of strings or Buffers')
    alpn = o.ALPNProtocols.map((p, i) => {
      if (typeof p === 'string' && p.length > 0) return Buffer.from(p)
      if (p instanceof Uint8Array && p.byteLength > 0) return Buffer.from(p.buffer, p.byteOffset, p.byteLength)
      throw invalidConfiguration(`ALPNProtocols[${i}] must be a non-empty string or Buffer`)
    })
  }
  return {
    ca: pemOf(o.ca, 'ca'),
    cert: pemOf(o.cert, 'cert'),
    key: pemOf(o.key, 'key'),
    servername: o.servername,
    alpnProtocols: alpn,
    rejectUnauthorized: o.rejectUnauthorized
  }
}

function subscriptionOf (topic, o) {
  if (typeof o === 'number') o = { qos: o }
  o = o || {}
  return {
    topic,
    qos: o.qos ?? 0,
    noLocal: o.noLocal ?? o.nl,
    retainAsPublished: o.retainAsPublished ?? o.rap,
    retainHandling: o.retainHandling ?? o.rh
  }
}

/** Client options as the native layer takes them (camelCase, ms, Buffers, flat props). */
function nativeOptions (o) {
  const props = o.properties || {}
  const will = o.will && {
    topic: o.will.topic,
    payload: toBuffer(o.will.payload ?? '', 'will.payload'),
    qos: o.will.qos,
    retain: o.will.retain,
    willDelayInterval: o.will.willDelayInterval ?? (o.will.properties && o.will.properties.willDelayInterval),
    properties: publishProperties(o.will.properties)
  }
  let reconnect
  if (o.reconnect === false) reconnect = { enabled: false }
  else if (o.reconnect && typeof o.reconnect === 'object') reconnect = { ...o.reconnect }
  if (o.reconnectPeriod !== undefined && reconnect === undefined) {
    reconnect = o.reconnectPeriod === 0
      ? { enabled: false }
      : { initialDelay: o.reconnectPeriod, maxDelay: o.reconnectPeriod, multiplier: 1, jitter: 0 }
  }
  let timeouts
  if (typeof o.timeouts === 'string') timeouts = { preset: o.timeouts }
  else if (o.timeouts && typeof o.timeouts === 'object') {
    timeouts = { preset: o.timeouts.preset }
    for (const k of ['connect', 'publish', 'subscribe', 'unsubscribe', 'ping', 'auth']) {
      timeouts[k] = timeoutMs(o.timeouts[k], `timeouts.${k}`, invalidConfiguration)
    }
  }
  if (o.connectTimeout !== undefined) {
    timeouts = timeouts || {}
    timeouts.connect = timeoutMs(o.connectTimeout, 'connectTimeout', invalidConfiguration)
  }
  let offlineBuffer
  if (o.offlineBuffer === false) offlineBuffer = { enabled: false }
  else if (o.offlineBuffer && typeof o.offlineBuffer === 'object') offlineBuffer = { ...o.offlineBuffer }
  let autoSubscribe
  if (o.autoSubscribe) {
    autoSubscribe = subscriptionList(o.autoSubscribe, {})
  }
  return {
    clientId: o.clientId,
    protocolVersion: protocolVersion(o.protocolVersion),
    cleanStart: o.cleanStart ?? o.clean,
    keepAlive: o.keepAlive ?? o.keepalive,
    username: o.username,
    password: toBuffer(o.password, 'password'),
    will,
    sessionExpiryInterval: o.sessionExpiryInterval ?? props.sessionExpiryInterval,
    sessionless: o.sessionless,
    autoSubscribe,
    autoAck: o.autoAck,
    maximumPacketSize: o.maximumPacketSize ?? props.maximumPacketSize,
    requestResponseInformation: o.requestResponseInformation ?? props.requestResponseInformation,
    requestProblemInformation: o.requestProblemInformation ?? props.requestProblemInformation,
    receiveMaximum: o.receiveMaximum ?? props.receiveMaximum,
    maxInflight: o.maxInflight,
    topicAliasMaximum: o.topicAliasMaximum ?? props.topicAliasMaximum,
    autoTopicAlias: o.autoTopicAlias,
    userProperties: flatUserProperties(o.userProperties ?? props.userProperties),
    reconnect,
    timeouts,
    offlineBuffer,
    commandQueueSize: o.commandQueueSize,
    tcpNoDelay: o.tcpNoDelay,
    scram: o.scram,
    tls: tlsOptions(o)
  }
}

/** An authenticator callback's answer as Authentication Data for the native side. */
function authData (value, what) {
  if (value == null) return undefined
  if (typeof value.then === 'function') {
    throw new TypeError(`${what} returned a Promise: authenticator callbacks must be synchronous`)
  }
  if (typeof value === 'string') return Buffer.from(value)
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  throw new TypeError(`${what} must return a Buffer, a Uint8Array, a string or undefined`)
}

/**
 * The native side's view of an `authenticator` option: `(step, exchange, data)` runs one
 * step of exchange `exchange` (0 start, 1 respond, 2 finish, 3 abandoned) and answers
 * `{ data }` or `{ error }` (see src/auth.rs). Each exchange is the object `start()` made.
 */
function authDispatcher (authenticator, report) {
  const exchanges = new Map()
  return (step, id, data) => {
    try {
      if (step === 0) {
        const exchange = authenticator.start()
        if (exchange == null || typeof exchange.respond !== 'function') {
          throw new TypeError('authenticator.start() must return an object with a respond(challenge) method')
        }
        const initial = authData(typeof exchange.initialData === 'function' ? exchange.initialData() : undefined, 'initialData()')
        exchanges.set(id, exchange)
        return { data: initial }
      }
      const exchange = exchanges.get(id)
      if (step === 1) return { data: authData(exchange.respond(data), 'respond()') }
      exchanges.delete(id)
      if (step === 2 && typeof exchange.finish === 'function') {
        const result = exchange.finish(data)
        if (result != null && typeof result.then === 'function') {
          throw new TypeError('finish() returned a Promise: authenticator callbacks must be synchronous')
        }
      }
      return {}
    } catch (error) {
      if (step !== 1) exchanges.delete(id)
      const message = `authenticator: ${error && error.message ? error.message : String(error)}`
      // A failed start cannot stop the CONNECT (the server then refuses it): say why.
      if (step === 0) report(message)
      return { error: message }
    }
  }
}

/**
 * Checks the `authenticator` option; returns `[method, dispatcher]` or `[]`. `report`
 * gets the message of an exchange that failed to start.
 */
function authenticatorOf (authenticator, report) {
  if (authenticator == null) return []
  if (typeof authenticator !== 'object' || typeof authenticator.method !== 'string' || authenticator.method.length === 0 ||
      typeof authenticator.start !== 'function') {
    throw invalidConfiguration('authenticator must be an object with a method name (non-empty string) and a start() function')
  }
  return [authenticator.method, authDispatcher(authenticator, report)]
}

/** `'a'`, `['a', 'b']` or `{ a: { qos: 1 }, b: 0 }` into subscriptions. */
function subscriptionList (topics, opts) {
  if (typeof topics === 'string') return [subscriptionOf(topics, opts)]
  if (Array.isArray(topics)) {
    return topics.map((t) => (typeof t === 'string' ? subscriptionOf(t, opts) : subscriptionOf(t.topic, t)))
  }
  if (topics && typeof topics === 'object') {
    return Object.entries(topics).map(([topic, o]) => subscriptionOf(topic, o))
  }
  throw invalidArgument('topics must be a string, an array or an object')
}

function splitCallback (args) {
  const last = args[args.length - 1]
  if (typeof last === 'function') return [args.slice(0, -1), last]
  return [args, undefined]
}

function withCallback (promise, callback) {
  if (callback) promise.then((value) => callback(null, value), (error) => callback(error))
  return promise
}

function rethrowLater (error) {
  process.nextTick(() => { throw error })
}

// ---- the client ---------------------------------------------------------------------------

// Pending requests keep only their Promise's resolve function (no closure or array per call:
// a plain loop of 100k publishes keeps 100k of them alive). `new Promise(captureResolve)`
// leaves it in `captured`; a failure resolves with a rejected Promise.
let captured
function captureResolve (resolve) { captured = resolve }

function rejectWith (resolve, error) {
  resolve(Promise.reject(error))
}

/**
 * An MQTT client. Create it with `await mqttkit.connect(url, options)`.
 * Events: connect, message, close, disconnect, offline, reconnect, error, end, published,
 * subscribed, unsubscribed, pingResponse, connectionLost, reconnectAttempt,
 * pendingOperationsCleared, auth, peerCertificate.
 */
class MqttClient extends EventEmitter {
  constructor (url, options = {}) {
    super()
    this.options = options
    this._pending = new Map()
    this._nextId = 1
    this._ended = false
    this._closed = false
    this._endPromise = undefined
    this._closedResolve = undefined
    this._closedPromise = new Promise((resolve) => { this._closedResolve = resolve })
    this._wasConnected = false
    // Plain publications of the current tick, handed to the native side in one call
    // (`_flush`, also run before any other operation so that the call order is kept).
    this._batch = new PublishBatch()
    this._flushBound = () => this._flush()
    this._flushFailed = (error, ids) => this._batchFailed(error, ids)
    // The last topic `_enqueue` found valid.
    this._validTopic = undefined
    // Messages that `messages()` queues took from the current batch: they stay unconsumed
    // for the backpressure until taken (see `_wake`).
    this._held = 0
    try {
      const authFailed = (message) => this._emitError(new MqttError({ ...native.sampleError(KIND_BY_CODE.get('ERR_MQTT_AUTH_FAILED').errno), message }))
      this._native = new native.NativeClient(url, nativeOptions(options), () => this._wake(), ...authenticatorOf(options.authenticator, authFailed))
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** Whether the client is connected right now. */
  get connected () {
    return !this._closed && this._native.connected
  }

  /** QoS 0 messages dropped from the offline buffer while reconnecting. */
  get droppedMessages () {
    return this._native.droppedMessages
  }

  _id () {
    const id = this._nextId
    this._nextId = id >= 0xfffffffe ? 1 : id + 1
    return id
  }

  _request (call) {
    if (this._batch.count !== 0) this._flush()
    const id = this._id()
    const promise = new Promise(captureResolve)
    this._pending.set(id, captured)
    try {
      call(id)
    } catch (error) {
      this._pending.delete(id)
      return Promise.reject(fromNative(error))
    }
    return promise
  }

  _nowait (call) {
    if (this._batch.count !== 0) this._flush()
    try {
      call()
    } catch (error) {
      throw fromNative(error)
    }
  }

  _emitSafely (event, a, b) {
    try {
      this.emit(event, a, b)
    } catch (error) {
      rethrowLater(error)
    }
  }

  _emitError (error) {
    if (this.listenerCount('error') > 0) this._emitSafely('error', error)
  }

  _wake () {
    try {
      this._deliver()
    } finally {
      // The batch's events are consumed, except the messages `messages()` queues hold.
      const held = this._held
      this._held = 0
      this._native.settle(held)
    }
  }

  _deliver () {
    // One packed batch: records in `nums`, JS values in `refs`, topics and small payloads
    // sliced out of one string and one Buffer (layouts: src/events.rs).
    const batch = this._native.drain()
    const nums = batch[0]
    const refs = batch[1]
    const topics = batch[2]
    const payloads = batch[3]
    const n = nums.length
    let i = 0
    let r = 0
    let lastStart = -1
    let lastEnd = -1
    let topic = ''
    while (i < n) {
      const tag = nums[i]
      switch (tag) {
        case TAG.MESSAGE: {
          const flags = nums[i + 1]
          const token = nums[i + 3]
          const start = nums[i + 4]
          const end = nums[i + 5]
          if (start !== lastStart || end !== lastEnd) {
            topic = topics.slice(start, end)
            lastStart = start
            lastEnd = end
          }
          const payload = (flags & 32) !== 0
            ? refs[r++]
            : payloads === undefined ? Buffer.alloc(0) : payloads.subarray(nums[i + 6], nums[i + 7])
          const packet = {
            cmd: 'publish',
            topic,
            payload,
            qos: flags & 3,
            retain: (flags & 4) !== 0,
            dup: (flags & 8) !== 0,
            messageId: nums[i + 2] || undefined,
            properties: (flags & 16) !== 0 ? refs[r++] : undefined
          }
          if (token !== 0) {
            const nat = this._native
            packet.ack = () => { try { nat.ack(token) } catch (error) { throw fromNative(error) } }
          }
          i += 8
          try {
            this.emit('message', topic, payload, packet)
          } catch (error) {
            rethrowLater(error)
          }
          break
        }
        case TAG.DONE_PUBLISH: {
          const id = nums[i + 1]
          const result = publishResult(nums[i + 2], nums[i + 3], nums[i + 4], nums[i + 5] ? refs[r++] : {})
          i += 6
          const pending = this._pending.get(id)
          if (pending !== undefined) { this._pending.delete(id); pending(result) }
          break
        }
        case TAG.DONE: {
          const id = nums[i + 1]
          const value = refs[r++]
          i += 2
          const pending = this._pending.get(id)
          if (pending !== undefined) { this._pending.delete(id); pending(value) }
          break
        }
        case TAG.FAILED: {
          const id = nums[i + 1]
          const info = refs[r++]
          i += 2
          const pending = this._pending.get(id)
          if (pending !== undefined) { this._pending.delete(id); rejectWith(pending, new MqttError(info)) }
          break
        }
        case TAG.PUBLISHED: {
          const result = publishResult(nums[i + 1], nums[i + 2], nums[i + 3], nums[i + 4] ? refs[r++] : {})
          i += 5
          this._emitSafely('published', result)
          break
        }
        case TAG.CONNECTED: {
          const connack = refs[r++]
          i += 1
          if (this._wasConnected) this._emitSafely('reconnected', connack)
          this._wasConnected = true
          this._emitSafely('connect', connack)
          break
        }
        case TAG.DISCONNECTED: {
          const info = refs[r++]
          i += 1
          // A server's DISCONNECT is followed by connectionLost (which emits close and
          // offline); an application disconnect ends here.
          if (info.byServer) this._emitSafely('disconnect', info)
          else this._emitSafely('close')
          break
        }
        case TAG.SUBSCRIBED: i += 1; this._emitSafely('subscribed', refs[r++]); break
        case TAG.UNSUBSCRIBED: i += 1; this._emitSafely('unsubscribed', refs[r++]); break
        case TAG.PING_RESPONSE: i += 1; this._emitSafely('pingResponse', refs[r++]); break
        case TAG.ERROR: i += 1; this._emitError(new MqttError(refs[r++])); break
        case TAG.CONNECTION_LOST: {
          const error = new MqttError(refs[r++])
          i += 1
          this._emitSafely('connectionLost', error)
          this._emitSafely('close')
          this._emitSafely('offline')
          break
        }
        case TAG.RECONNECT_ATTEMPT: {
          const info = { attempt: nums[i + 1], delay: nums[i + 2] }
          i += 3
          this._emitSafely('reconnectAttempt', info)
          this._emitSafely('reconnect')
          break
        }
        case TAG.PENDING_CLEARED: i += 2; this._emitSafely('pendingOperationsCleared', nums[i - 1]); break
        case TAG.AUTH: i += 1; this._emitSafely('auth', refs[r++]); break
        case TAG.PEER_CERTIFICATE: i += 1; this._emitSafely('peerCertificate', refs[r++]); break
        case TAG.CLOSED: i += 1; this._onClosed(); break
        default:
          throw new Error(`mqttkit: unknown batch record ${tag} (native and JS out of sync)`)
      }
    }
  }

  _onClosed () {
    if (this._closed) return
    this._closed = true
    const closedError = new MqttError({ code: 'ERR_MQTT_CLIENT_CLOSED', kind: 'CHANNEL_CLOSED', errno: 13, message: 'client is shut down' })
    for (const pending of this._pending.values()) rejectWith(pending, closedError)
    this._pending.clear()
    this._closedResolve()
  }

  /** (Re)connects after `disconnect()`; resolves with the CONNACK. */
  connect (opts = {}) {
    return this._request((id) => this._native.connect(id, timeoutMs(opts.timeout)))
  }

  /** Starts connecting; a `connect` or `error` event follows. */
  connectNowait () {
    this._nowait(() => this._native.connectNowait())
  }

  /**
   * Publishes; resolves on PUBACK (QoS 1), PUBCOMP (QoS 2), or once written (QoS 0).
   * `opts`: qos, retain, properties (MQTT 5), timeout (ms).
   */
  publish (topic, payload, opts, callback) {
    if (typeof opts === 'function') { callback = opts; opts = undefined }
    const id = this._id()
    // Registered before the publication is queued: a batch handed over meanwhile may fail it.
    let promise = new Promise(captureResolve)
    this._pending.set(id, captured)
    try {
      if (opts === undefined) {
        this._enqueue(id, topic, payload, 0, false)
      } else if (opts.properties === undefined && opts.timeout === undefined) {
        this._enqueue(id, topic, payload, opts.qos ?? 0, opts.retain === true)
      } else {
        if (this._batch.count !== 0) this._flush()
        this._native.publish(id, topic, payloadOf(payload), opts.qos ?? 0, opts.retain === true,
          opts.properties === undefined ? undefined : publishProperties(opts.properties), timeoutMs(opts.timeout))
      }
    } catch (error) {
      this._pending.delete(id)
      promise = Promise.reject(fromNative(error))
    }
    return callback === undefined ? promise : withCallback(promise, callback)
  }

  /** Queues a publication and returns; QoS 1/2 acks arrive as `published` events. */
  publishNowait (topic, payload, opts) {
    if (opts === undefined) {
      this._enqueue(0, topic, payload, 0, false)
      return
    }
    if (opts.properties === undefined) {
      this._enqueue(0, topic, payload, opts.qos ?? 0, opts.retain === true)
      return
    }
    if (this._batch.count !== 0) this._flush()
    try {
      this._native.publish(0, topic, payloadOf(payload), opts.qos ?? 0, opts.retain === true, publishProperties(opts.properties), undefined)
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** Adds a plain publication to this tick's batch, checking what must fail at once. */
  _enqueue (id, topic, payload, qos, retain) {
    if (this._closed) throw fromNative({ code: 'ERR_MQTT_CLIENT_CLOSED', message: 'client is shut down' })
    if (topic !== this._validTopic) {
      if (typeof topic !== 'string' || topic.length === 0 || INVALID_TOPIC.test(topic)) {
        throw invalidArgument(`topic ${JSON.stringify(topic)}: not a valid topic name (empty, wildcard or NUL)`)
      }
      this._validTopic = topic
    }
    if (qos !== 0 && qos !== 1 && qos !== 2) throw invalidArgument(`qos must be 0, 1 or 2, got ${qos}`)
    let length
    if (typeof payload === 'string') length = Buffer.byteLength(payload)
    else if (payload instanceof Uint8Array) length = payload.byteLength
    else if (payload == null) length = 0
    else throw invalidArgument('payload must be a string, Buffer or Uint8Array')
    const batch = this._batch
    if (!batch.fits(length)) this._flush()
    if (batch.count === 0) queueMicrotask(this._flushBound)
    // A long synchronous loop hands over every BATCH_LIMIT publications, so that the
    // native side works while the loop goes on.
    if (batch.add(id, topic, payload, length, retain ? qos | 4 : qos)) this._flush()
  }

  /** Hands this tick's batch of publications to the native side in one call. */
  _flush () {
    if (this._batch.count !== 0) this._batch.handOver(this._native, this._flushFailed)
  }

  /** The client was closed in the meantime: fails the waiting publications of a batch. */
  _batchFailed (error, ids) {
    const failure = fromNative(error)
    for (const id of ids) {
      const pending = this._pending.get(id)
      if (pending !== undefined) { this._pending.delete(id); rejectWith(pending, failure) }
    }
  }

  _subscribeArgs (topics, opts) {
    const props = opts.properties || {}
    return [subscriptionList(topics, opts), props.subscriptionIdentifier ?? opts.subscriptionIdentifier,
      flatUserProperties(props.userProperties ?? opts.userProperties), timeoutMs(opts.timeout)]
  }

  /**
   * Subscribes to a filter, an array of filters or `{ filter: { qos, ... } }`; resolves with
   * the SUBACK (`reasonCodes`, and MQTT.js-style `granted`).
   */
  subscribe (topics, ...rest) {
    const [[opts = {}], callback] = splitCallback(rest)
    let args
    try { args = this._subscribeArgs(topics, opts) } catch (error) { return withCallback(Promise.reject(error), callback) }
    const promise = this._request((id) => this._native.subscribe(id, ...args)).then((result) => {
      result.granted = args[0].map((s, i) => ({ topic: s.topic, qos: result.reasonCodes[i] }))
      return result
    })
    return withCallback(promise, callback)
  }

  /** Queues a subscription; the SUBACK arrives as a `subscribed` event. */
  subscribeNowait (topics, opts = {}) {
    const args = this._subscribeArgs(topics, opts)
    this._nowait(() => this._native.subscribe(0, ...args))
  }

  /** Unsubscribes from a filter or an array of filters; resolves with the UNSUBACK. */
  unsubscribe (topics, ...rest) {
    const [[opts = {}], callback] = splitCallback(rest)
    const filters = Array.isArray(topics) ? topics : [topics]
    const props = opts.properties || {}
    const promise = this._request((id) => this._native.unsubscribe(
      id, filters, flatUserProperties(props.userProperties ?? opts.userProperties), timeoutMs(opts.timeout)))
    return withCallback(promise, callback)
  }

  /** Queues an unsubscription; the UNSUBACK arrives as an `unsubscribed` event. */
  unsubscribeNowait (topics) {
    const filters = Array.isArray(topics) ? topics : [topics]
    this._nowait(() => this._native.unsubscribe(0, filters, undefined, undefined))
  }

  /** PINGREQ; resolves with `{ roundTrip }` (ms). */
  ping (opts = {}) {
    return this._request((id) => this._native.ping(id, timeoutMs(opts.timeout)))
  }

  /** Sends PINGREQ; a `pingResponse` event follows. */
  pingNowait () {
    this._nowait(() => this._native.ping(0, undefined))
  }

  /**
   * AUTH Continue authentication (MQTT 5); resolves with the server's AUTH answer.
   * `opts.timeout` (ms) overrides the client's auth timeout; `Infinity` waits without limit.
   */
  authContinue (method, data, opts = {}) {
    return this._request((id) => this._native.authContinue(id, method, toBuffer(data, 'data'), timeoutMs(opts.timeout)))
  }

  /** Fire-and-forget `authContinue`: the answer arrives as an `auth` event. */
  authContinueNowait (method, data) {
    this._nowait(() => this._native.authContinue(0, method, toBuffer(data, 'data'), undefined))
  }

  /**
   * Re-authenticates. Without arguments the configured authenticator (`scram` option) runs
   * the whole exchange and this resolves on AUTH Success; with `{ method, data }` it sends
   * AUTH Re-authenticate by hand and resolves with the server's first answer (continue with
   * `authContinue`). `timeout` (ms) overrides the client's auth timeout; `Infinity` waits
   * without limit.
   */
  reAuthenticate ({ method, data, timeout } = {}) {
    return this._request((id) => this._native.reAuthenticate(id, method, toBuffer(data, 'data'), timeoutMs(timeout)))
  }

  /** Fire-and-forget `reAuthenticate`: the server's answers arrive as `auth` events. */
  reAuthenticateNowait ({ method, data } = {}) {
    this._nowait(() => this._native.reAuthenticate(0, method, toBuffer(data, 'data'), undefined))
  }

  /**
   * Sends DISCONNECT and waits until the connection is closed; the client may `connect()`
   * again. `opts`: reasonCode, properties { sessionExpiryInterval, reasonString,
   * userProperties }, timeout (ms; overrides the client's auth timeout, which bounds the
   * disconnect; `Infinity` waits without limit).
   */
  disconnect (opts = {}) {
    const p = opts.properties || {}
    return this._request((id) => this._native.disconnect(
      id, opts.reasonCode, p.sessionExpiryInterval, p.reasonString, flatUserProperties(p.userProperties), timeoutMs(opts.timeout)))
  }

  /** Starts disconnecting; a `close` event follows. */
  disconnectNowait () {
    this._nowait(() => this._native.disconnect(0))
  }

  /**
   * Closes the client for good (DISCONNECT if connected, then shutdown) and emits `end`.
   * Pending operations fail with ERR_MQTT_CLIENT_CLOSED. Idempotent. `opts` as for
   * `disconnect()`, `timeout` included.
   * MQTT.js forms `end()`, `end(force)`, `end(force, opts)`, `end(cb)` are accepted.
   */
  end (...args) {
    const [rest, callback] = splitCallback(args)
    const opts = (typeof rest[0] === 'object' && rest[0]) || (typeof rest[1] === 'object' && rest[1]) || {}
    try {
      timeoutMs(opts.timeout)
    } catch (error) {
      return withCallback(Promise.reject(error), callback)
    }
    if (!this._endPromise) {
      this._endPromise = (async () => {
        if (!this._closed) {
          if (this._native.connected && rest[0] !== true) {
            try { await this.disconnect(opts) } catch (_) { /* closing anyway */ }
          }
          try {
            await this._request((id) => this._native.shutdown(id))
          } catch (_) { /* already shut down */ }
          await this._closedPromise
        }
        this._emitSafely('end')
      })()
    }
    return withCallback(this._endPromise, callback)
  }

  /** Alias of `end()`. */
  close (...args) {
    return this.end(...args)
  }

  /** Alias of `end()` (MQTT.js). */
  endAsync (...args) {
    return this.end(...args)
  }

  /** Acknowledges a received message when `autoAck` is false (same as `packet.ack()`). */
  ack (packet) {
    if (packet && typeof packet.ack === 'function') packet.ack()
  }

  /**
   * Received messages as an async iterator: `for await (const m of client.messages())`.
   * Each item is `{ topic, payload, packet, qos, retain, properties }`. Ends when the client
   * ends, after the messages already queued; `break` (or `return()`) stops it early.
   *
   * Bounded by backpressure: messages wait here until taken, and while 4096 or more events
   * of this client are unconsumed, the client stops reading from the socket (the broker
   * then queues, or applies its own policy), so a slow consumer neither makes memory grow
   * without limit nor loses messages (at most 4096 plus one core batch of up to 1024
   * wait here). Meanwhile every event waits, including `message` listeners and the
   * acknowledgements of own operations, so a consumer that far behind should not wait for
   * an acknowledgement before taking the next message. `buffered` tells how many wait.
   */
  messages () {
    const client = this
    const queue = []
    let head = 0
    let unreleased = 0
    let waiting = null
    let done = false
    const onMessage = (topic, payload, packet) => {
      const item = { topic, payload, packet, qos: packet.qos, retain: packet.retain, properties: packet.properties }
      if (waiting) { const w = waiting; waiting = null; w({ value: item, done: false }); return }
      queue.push(item)
      client._held++
    }
    const release = (count) => {
      if (count > 0) client._native.release(count)
    }
    const finish = () => {
      if (done) return
      done = true
      this.off('message', onMessage)
      this.off('end', finish)
      if (waiting) { const w = waiting; waiting = null; w({ value: undefined, done: true }) }
    }
    this.on('message', onMessage)
    this.on('end', finish)
    if (this._closed) finish()
    return {
      /** Messages received and not taken yet. */
      get buffered () { return queue.length - head },
      next: () => {
        if (head < queue.length) {
          const value = queue[head]
          queue[head++] = undefined
          unreleased++
          if (head === queue.length) { queue.length = 0; head = 0 }
          if (unreleased >= 256 || head === 0) { release(unreleased); unreleased = 0 }
          return Promise.resolve({ value, done: false })
        }
        if (done) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => { waiting = resolve })
      },
      return: () => {
        finish()
        release(queue.length - head + unreleased)
        unreleased = 0
        queue.length = 0
        head = 0
        return Promise.resolve({ value: undefined, done: true })
      },
      [Symbol.asyncIterator] () { return this }
    }
  }
}

/**
 * Creates a client and connects it; resolves once the CONNACK arrived. On failure the
 * client is closed (it keeps nothing alive) and the Promise rejects with an MqttError.
 * `options.timeout` (ms) overrides the connect timeout for this first connect.
 */
async function connect (url, options = {}) {
  if (url && typeof url === 'object') {
    options = url
    const protocol = options.protocol || 'mqtt'
    url = options.url || `${protocol}://${options.host || options.hostname || '127.0.0.1'}:${options.port || DEFAULT_PORTS[protocol] || 1883}`
  }
  const client = new MqttClient(url, options)
  try {
    await client.connect({ timeout: options.timeout })
  } catch (error) {
    await client.end(true)
    throw error
  }
  return client
}

// ---- the embedded broker --------------------------------------------------------------------

/** Broker counters as returned by `broker.stats()`. */
class Broker {
  constructor (handle) {
    this._native = handle
    this.addresses = handle.addresses
    const first = this.addresses[0]
    const colon = first.lastIndexOf(':')
    this.host = first.slice(0, colon).replace(/^\[|\]$/g, '')
    this.port = Number(first.slice(colon + 1))
    this.url = `mqtt://${first}`
    this._closePromise = undefined
    // A running broker keeps the process alive, like a listening net.Server; a closed one
    // does not.
    this._keepAlive = setInterval(() => {}, 0x7fffffff)
  }

  /**
   * Starts an embedded broker: `await Broker.start({ host: '127.0.0.1', port: 0 })`.
   * Options: host, port (0: a free port), allowAnonymous, users [{ username, password }],
   * maxConnections, maxPacketSize, maxQueuedMessages, maximumQos, retainAvailable, and
   * `config` (the broker's TOML configuration as text).
   */
  static start (options = {}) {
    if (typeof native.startBroker !== 'function') {
      return Promise.reject(new Error('this build of mqttkit has no embedded broker (cargo feature "broker")'))
    }
    return new Promise((resolve, reject) => {
      native.startBroker({ ...options }, (result) => {
        if (typeof result === 'string') {
          reject(new MqttError({ code: 'ERR_MQTT_INVALID_CONFIGURATION', kind: 'INVALID_CONFIGURATION', errno: 15, message: result }))
        } else {
          resolve(new Broker(result))
        }
      })
    })
  }

  /** A snapshot of the counters: connections, messagesIn, messagesOut, bytesIn, ..., throttled, publishDenied, subscribeDenied. */
  stats () {
    return this._native.stats()
  }

  /**
   * Reads the password file and the ACL file of the configuration again and puts them in
   * force, as Mosquitto does on SIGHUP: connected clients stay connected and are checked
   * against the new rules from now on. Throws ERR_MQTT_INVALID_CONFIGURATION naming the
   * file and line of a bad file; then nothing changes.
   */
  reloadAuth () {
    const error = this._native.reloadAuth()
    if (error != null) {
      throw new MqttError({ code: 'ERR_MQTT_INVALID_CONFIGURATION', kind: 'INVALID_CONFIGURATION', errno: 15, message: error })
    }
  }

  /** Stops the broker (DISCONNECT 0x8B to MQTT 5 clients) and waits until it stopped. */
  close () {
    if (!this._closePromise) {
      this._closePromise = new Promise((resolve) => {
        this._native.close(() => {
          clearInterval(this._keepAlive)
          resolve()
        })
      })
    }
    return this._closePromise
  }
}

/** Every core error kind with its `code`, for exhaustive handling and tests. */
function errorKinds () {
  return KINDS.map((k) => ({ ...k }))
}

/** The `code` of every core error kind, keyed by kind name (`codes.TIMEOUT`). */
const codes = Object.freeze(Object.fromEntries(KINDS.map((k) => [k.kind, k.code])))

module.exports = {
  connect,
  connectAsync: connect,
  MqttClient,
  MqttError,
  Broker,
  errorKinds,
  codes,
  /** @internal for tests: a representative error of each kind through the real mapping. */
  _sampleError: (errno) => new MqttError(native.sampleError(errno))
}
