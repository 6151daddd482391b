// Public types of the `mqttkit` package (hand-written; the native layer's generated types
// are in native.d.ts and re-exported where they are part of the public API).
import { EventEmitter } from 'node:events'
import type { ErrorKindInfo } from './native'

export type { ErrorKindInfo } from './native'

export type QoS = 0 | 1 | 2
export type Payload = string | Buffer | Uint8Array
/** `{ name: value }`, repeated names as arrays (MQTT.js style), or `[name, value]` pairs. */
export type UserProperties = Record<string, string | string[]> | Array<[string, string]>

export interface PublishProperties {
  payloadFormatIndicator?: boolean
  messageExpiryInterval?: number
  contentType?: string
  responseTopic?: string
  correlationData?: Payload
  userProperties?: UserProperties
  topicAlias?: number
}

export interface ReceivedProperties {
  payloadFormatIndicator?: boolean
  messageExpiryInterval?: number
  contentType?: string
  responseTopic?: string
  correlationData?: Buffer
  userProperties?: Record<string, string | string[]>
  topicAlias?: number
  subscriptionIdentifier?: number | number[]
}

export interface Will {
  topic: string
  payload?: Payload
  qos?: QoS
  retain?: boolean
  willDelayInterval?: number
  properties?: PublishProperties & { willDelayInterval?: number }
}

export interface ReconnectPolicy {
  enabled?: boolean
  /** ms, default 1000 */
  initialDelay?: number
  /** ms, default 30000 */
  maxDelay?: number
  multiplier?: number
  jitter?: number
  /** 0: forever */
  maxAttempts?: number
}

export type TimeoutPreset = 'internet' | 'localNetwork' | 'satellite' | 'none'

/** Milliseconds; `Infinity` waits without limit. */
export interface Timeouts {
  preset?: TimeoutPreset
  connect?: number
  publish?: number
  subscribe?: number
  unsubscribe?: number
  ping?: number
  /** AUTH exchanges (`authContinue`, `reAuthenticate`) and `disconnect` */
  auth?: number
}

/** PEM text (certificates or a key) as a string, Buffer or Uint8Array. */
export type Pem = string | Buffer | Uint8Array

export interface SubscriptionOptions {
  qos?: QoS
  noLocal?: boolean
  retainAsPublished?: boolean
  /** 0: send retained at subscribe, 1: only for a new subscription, 2: never */
  retainHandling?: 0 | 1 | 2
  /** MQTT.js spellings */
  nl?: boolean
  rap?: boolean
  rh?: 0 | 1 | 2
}

export type Topics = string | Array<string | (SubscriptionOptions & { topic: string })> | Record<string, QoS | SubscriptionOptions>

/** Every client option of the core, camelCase; MQTT.js spellings are accepted too. */
export interface ConnectOptions {
  clientId?: string
  /** 4 (3.1.1) or 5 (default) */
  protocolVersion?: 4 | 5 | '3.1.1' | '5.0'
  cleanStart?: boolean
  clean?: boolean
  /** seconds */
  keepAlive?: number
  keepalive?: number
  username?: string
  password?: string | Buffer | Uint8Array
  will?: Will
  sessionExpiryInterval?: number
  sessionless?: boolean
  autoSubscribe?: Topics
  autoAck?: boolean
  maximumPacketSize?: number
  requestResponseInformation?: boolean
  requestProblemInformation?: boolean
  receiveMaximum?: number
  maxInflight?: number
  topicAliasMaximum?: number
  autoTopicAlias?: boolean
  userProperties?: UserProperties
  /** MQTT.js style CONNECT properties */
  properties?: {
    sessionExpiryInterval?: number
    receiveMaximum?: number
    maximumPacketSize?: number
    topicAliasMaximum?: number
    requestResponseInformation?: boolean
    requestProblemInformation?: boolean
    userProperties?: UserProperties
  }
  reconnect?: boolean | ReconnectPolicy
  /** MQTT.js: fixed reconnect delay in ms, 0 disables reconnecting */
  reconnectPeriod?: number
  timeouts?: TimeoutPreset | Timeouts
  /** MQTT.js: connect timeout in ms */
  connectTimeout?: number
  offlineBuffer?: false | { enabled?: boolean; capacity?: number }
  commandQueueSize?: number
  tcpNoDelay?: boolean
  /** SCRAM-SHA-256 enhanced authentication (MQTT 5) at every connect and on `reAuthenticate()` */
  scram?: { username: string; password: string }
  /** Any other enhanced-authentication method (MQTT 5), run at every connect and on
   * `reAuthenticate()`; not combined with `scram` */
  authenticator?: Authenticator
  /** timeout (ms) of the first connect made by `connect()`; `Infinity`: no limit */
  timeout?: number
  /** TLS (`mqtts://`, `wss://`): CA certificates to trust (several: an array or one PEM
   * holding them all); without it, the Mozilla root certificates */
  ca?: Pem | Pem[]
  /** TLS: client certificate chain for mutual TLS (needs `key`) */
  cert?: Pem | Pem[]
  /** TLS: private key of `cert` (PKCS#8, PKCS#1 or SEC1) */
  key?: Pem
  /** TLS: the name sent as SNI and verified against the server certificate, when it
   * differs from the URL's host */
  servername?: string
  /** TLS: ALPN protocols to offer, e.g. `['mqtt']` */
  ALPNProtocols?: Array<string | Buffer | Uint8Array>
  /** TLS: `false` accepts any server certificate (encrypted but not authenticated; only for
   * tests against self-signed brokers). Default `true`. */
  rejectUnauthorized?: boolean
}

/**
 * An enhanced-authentication method written in JavaScript. `start()` begins one exchange
 * (per connect or re-authentication). The callbacks must be synchronous (a returned Promise
 * fails the exchange); a throw fails it with ERR_MQTT_AUTH_FAILED and the thrown message.
 */
export interface Authenticator {
  /** The Authentication Method name, e.g. `'SCRAM-SHA-256'` */
  method: string
  start (): AuthExchange
}

/** One authentication exchange. */
export interface AuthExchange {
  /** Authentication Data for CONNECT or the AUTH that starts re-authentication */
  initialData? (): Payload | undefined | null
  /** The answer to the server's challenge (AUTH Continue authentication) */
  respond (challenge: Buffer | undefined): Payload | undefined | null
  /** Checks the server's final Authentication Data; throw to distrust the server */
  finish? (data: Buffer | undefined): void
}

export interface CallOptions {
  /** ms; overrides the client's timeout for this call; `Infinity`: no limit */
  timeout?: number
}

export interface PublishOptions extends CallOptions {
  qos?: QoS
  retain?: boolean
  properties?: PublishProperties
}

export interface SubscribeOptions extends CallOptions, SubscriptionOptions {
  properties?: { subscriptionIdentifier?: number; userProperties?: UserProperties }
}

export interface UnsubscribeOptions extends CallOptions {
  properties?: { userProperties?: UserProperties }
}

/** `timeout` bounds the wait for the connection to close (default: the auth timeout). */
export interface DisconnectOptions extends CallOptions {
  reasonCode?: number
  properties?: { sessionExpiryInterval?: number; reasonString?: string; userProperties?: UserProperties }
}

export interface AckProperties {
  reasonString?: string
  userProperties?: Record<string, string | string[]>
}

export interface ConnAck {
  cmd: 'connack'
  sessionPresent: boolean
  reasonCode: number
  assignedClientId?: string
  properties: Record<string, unknown>
}

export interface PublishResult {
  packetId?: number | null
  qos: QoS
  reasonCode: number
  properties: AckProperties
}

export interface SubscribeResult {
  packetId: number
  reasonCodes: number[]
  properties: AckProperties
  /** MQTT.js style: one entry per filter; `qos` is the granted QoS or a failure code */
  granted?: Array<{ topic: string; qos: number }>
}

export type UnsubscribeResult = Omit<SubscribeResult, 'granted'>

export interface PingResult {
  /** ms */
  roundTrip: number
}

export interface AuthPacket {
  cmd: 'auth'
  reasonCode: number
  properties: { authenticationMethod?: string; authenticationData?: Buffer; reasonString?: string; userProperties?: Record<string, string | string[]> }
}

export interface DisconnectPacket {
  cmd: 'disconnect'
  reasonCode: number
  byServer: boolean
  properties: { sessionExpiryInterval?: number; reasonString?: string; serverReference?: string; userProperties?: Record<string, string | string[]> }
}

export interface PublishPacket {
  cmd: 'publish'
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  dup: boolean
  messageId?: number
  properties?: ReceivedProperties | null
  /** present when `autoAck` is false and the message needs an acknowledgement */
  ack?: () => void
}

export interface Message {
  topic: string
  payload: Buffer
  qos: QoS
  retain: boolean
  properties?: ReceivedProperties | null
  packet: PublishPacket
}

/** `client.messages()`: an async iterator over received messages. */
export interface MessageIterator extends AsyncIterableIterator<Message> {
  /** Messages received and not taken yet; the client stops reading from the socket while
   * 4096 or more events are unconsumed, so this stays bounded. */
  readonly buffered: number
}

/** Stable `code` of every error kind. */
export type ErrorCode =
  | 'ERR_MQTT_TIMEOUT' | 'ERR_MQTT_CONNECTION_REFUSED' | 'ERR_MQTT_CONNECTION_LOST'
  | 'ERR_MQTT_NOT_CONNECTED' | 'ERR_MQTT_ALREADY_CONNECTED' | 'ERR_MQTT_NETWORK'
  | 'ERR_MQTT_PROTOCOL_VIOLATION' | 'ERR_MQTT_PACKET_PARSING' | 'ERR_MQTT_PUBLISH_FAILED'
  | 'ERR_MQTT_SUBSCRIBE_FAILED' | 'ERR_MQTT_UNSUBSCRIBE_FAILED' | 'ERR_MQTT_BUFFER_FULL'
  | 'ERR_MQTT_CLIENT_CLOSED' | 'ERR_MQTT_PACKET_ID_EXHAUSTED' | 'ERR_MQTT_INVALID_CONFIGURATION'
  | 'ERR_MQTT_INVALID_ARGUMENT' | 'ERR_MQTT_AUTH_FAILED' | 'ERR_MQTT_INTERNAL'

export class MqttError extends Error {
  code: ErrorCode
  /** the core's kind name, e.g. `TIMEOUT` */
  kind: string
  /** the core's kind number */
  errno: number
  reasonCode?: number
  reasonCodes?: number[]
  reasonString?: string
  operation?: string
  packetId?: number
  recoverable: boolean
  shouldReconnect: boolean
  fatal: boolean
  authError: boolean
}

export interface MqttClientEvents {
  connect: [connack: ConnAck]
  reconnected: [connack: ConnAck]
  message: [topic: string, payload: Buffer, packet: PublishPacket]
  close: []
  disconnect: [packet: DisconnectPacket]
  offline: []
  reconnect: []
  error: [error: MqttError]
  end: []
  published: [result: PublishResult]
  subscribed: [result: SubscribeResult]
  unsubscribed: [result: UnsubscribeResult]
  pingResponse: [result: PingResult]
  connectionLost: [error: MqttError]
  reconnectAttempt: [info: { attempt: number; delay: number }]
  pendingOperationsCleared: [count: number]
  auth: [packet: AuthPacket]
  peerCertificate: [der: Buffer]
}

export class MqttClient extends EventEmitter {
  /** Creates a client without connecting; call `connect()`. */
  constructor (url: string, options?: ConnectOptions)
  readonly options: ConnectOptions
  readonly connected: boolean
  readonly droppedMessages: number

  on<E extends keyof MqttClientEvents>(event: E, listener: (...args: MqttClientEvents[E]) => void): this
  once<E extends keyof MqttClientEvents>(event: E, listener: (...args: MqttClientEvents[E]) => void): this
  off<E extends keyof MqttClientEvents>(event: E, listener: (...args: MqttClientEvents[E]) => void): this

  connect (options?: CallOptions): Promise<ConnAck>
  connectNowait (): void
  publish (topic: string, payload: Payload, options?: PublishOptions, callback?: (error: MqttError | null, result?: PublishResult) => void): Promise<PublishResult>
  publishNowait (topic: string, payload: Payload, options?: Omit<PublishOptions, 'timeout'>): void
  subscribe (topics: Topics, options?: SubscribeOptions, callback?: (error: MqttError | null, result?: SubscribeResult) => void): Promise<SubscribeResult>
  subscribeNowait (topics: Topics, options?: SubscribeOptions): void
  unsubscribe (topics: string | string[], options?: UnsubscribeOptions, callback?: (error: MqttError | null, result?: UnsubscribeResult) => void): Promise<UnsubscribeResult>
  unsubscribeNowait (topics: string | string[]): void
  ping (options?: CallOptions): Promise<PingResult>
  pingNowait (): void
  authContinue (method: string, data?: Payload, options?: CallOptions): Promise<AuthPacket>
  authContinueNowait (method: string, data?: Payload): void
  reAuthenticate (options?: CallOptions & { method?: string; data?: Payload }): Promise<AuthPacket>
  reAuthenticateNowait (options?: { method: string; data?: Payload }): void
  disconnect (options?: DisconnectOptions): Promise<void>
  disconnectNowait (): void
  end (force?: boolean | DisconnectOptions, options?: DisconnectOptions, callback?: (error?: Error | null) => void): Promise<void>
  endAsync (force?: boolean, options?: DisconnectOptions): Promise<void>
  close (): Promise<void>
  ack (packet: PublishPacket): void
  /** Received messages for `for await`; bounded by backpressure (see README). */
  messages (): MessageIterator
}

export interface BrokerOptions {
  /** IP address to listen on (default 127.0.0.1) */
  host?: string
  /** default 1883; 0 picks a free port */
  port?: number
  /** the broker's TOML configuration as text; host/port override its listeners */
  config?: string
  allowAnonymous?: boolean
  users?: Array<{ username: string; password: string }>
  maxConnections?: number
  maxPacketSize?: number
  maxQueuedMessages?: number
  maximumQos?: QoS
  retainAvailable?: boolean
}

export interface BrokerStats {
  connections: number
  connectionsTotal: number
  messagesIn: number
  messagesOut: number
  bytesIn: number
  bytesOut: number
  subscriptions: number
  retained: number
  queued: number
  dropped: number
  expired: number
  /** Times a client was paused for going over a `[limits]` rate limit (nothing is dropped). */
  throttled: number
  /** PUBLISH packets (and wills) refused by the ACL. */
  publishDenied: number
  /** SUBSCRIBE topic filters refused by the ACL. */
  subscribeDenied: number
}

/** The embedded broker. A running broker keeps the process alive until `close()`. */
export class Broker {
  static start (options?: BrokerOptions): Promise<Broker>
  readonly url: string
  readonly host: string
  readonly port: number
  readonly addresses: string[]
  stats (): BrokerStats
  /**
   * Reads the password file and the ACL file again and puts them in force (Mosquitto's
   * SIGHUP); throws ERR_MQTT_INVALID_CONFIGURATION naming the file and line of a bad file.
   */
  reloadAuth (): void
  close (): Promise<void>
}

export function connect (url: string, options?: ConnectOptions): Promise<MqttClient>
export function connect (options: ConnectOptions & { host?: string; port?: number; protocol?: string; url?: string }): Promise<MqttClient>
export const connectAsync: typeof connect
export function errorKinds (): ErrorKindInfo[]
export const codes: Readonly<Record<string, ErrorCode>>

declare const mqttkit: {
  connect: typeof connect
  connectAsync: typeof connect
  MqttClient: typeof MqttClient
  MqttError: typeof MqttError
  Broker: typeof Broker
  errorKinds: typeof errorKinds
  codes: typeof codes
}
export default mqttkit
