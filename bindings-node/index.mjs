// ESM entry point: the same API as index.js.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const mqttkit = require('./index.js')

export const { connect, connectAsync, MqttClient, MqttError, Broker, errorKinds, codes } = mqttkit
export default mqttkit
