// A TypeScript example, type-checked by `tsc --noEmit` in the tests (and runnable after
// compiling). It shows the types of options, results, events and errors.
import { connect, MqttError, type ConnectOptions, type MessageIterator, type MqttClient, type PublishResult } from '../../bindings-node'

async function main (): Promise<void> {
  const client: MqttClient = await connect(process.env.MQTT_URL ?? 'mqtt://127.0.0.1:1883', {
    clientId: 'example-typed',
    protocolVersion: 5,
    keepAlive: 30,
    will: { topic: 'status/example-typed', payload: 'offline', qos: 1, retain: true },
    reconnect: { initialDelay: 500, maxDelay: 10_000 },
    timeouts: { preset: 'localNetwork', publish: 1_000 },
    autoAck: true,
  })
  client.on('message', (topic: string, payload: Buffer) => {
    console.log(topic, payload.toString())
  })
  client.on('error', (error: MqttError) => console.error(error.code, error.reasonCode))
  await client.subscribe('typed/#', { qos: 1, nl: false })
  const ack: PublishResult = await client.publish('typed/x', 'hello', {
    qos: 1,
    properties: { contentType: 'text/plain', userProperties: { source: 'ts' } },
  })
  console.log(ack.reasonCode)
  // Per-call timeouts: ms, or Infinity to wait without limit.
  await client.ping({ timeout: Infinity })
  const messages: MessageIterator = client.messages()
  for await (const message of messages) {
    console.log(message.topic, message.qos, messages.buffered)
    break
  }
  await client.end({ timeout: 2_000 })
}

/** The TLS options' types (`mqtts://`); not run by this example. */
export function tlsOptions (ca: Buffer, cert: string, key: string): ConnectOptions {
  return { ca: [ca], cert, key, servername: 'broker.example', ALPNProtocols: ['mqtt'], rejectUnauthorized: true }
}

main().catch((error: unknown) => {
  if (error instanceof MqttError) console.error(error.code)
  process.exit(1)
})
