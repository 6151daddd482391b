'use strict'
// The plain publications of one tick (no properties, no per-call timeout), handed to the
// native side in one call: `NativeClient.publishBatch(records, topics, payloads)` (see
// src/client.rs). `records` holds `[id, flags, payloadLength]` per publication, `topics`
// the topics joined by NUL (which a topic name cannot contain), each only where it differs
// from the previous publication's (flag NEW_TOPIC), and `payloads` the payloads back to
// back. The records and the payload buffer are reused from batch to batch: the native side
// copies what it keeps during the call. A payload is copied when `publish()` is called.

/** Largest number of publications handed over in one native call. */
const BATCH_LIMIT = 256
/** Record flag: this publication's topic is the next one of `topics`. */
const NEW_TOPIC = 8
/**
 * Payload bytes a batch holds before it is handed over (a larger payload goes alone); the
 * buffer is allocated at a client's first publication.
 */
const PAYLOAD_CAPACITY = 32 * 1024

class PublishBatch {
  constructor () {
    this.records = new Uint32Array(BATCH_LIMIT * 3)
    this.count = 0
    this.topics = []
    this.lastTopic = undefined
    this.buffer = undefined
    this.payloads = undefined
    this.bytes = 0
  }

  /** Whether a payload of `length` bytes still fits (an empty batch takes any payload). */
  fits (length) {
    return this.count === 0 || this.bytes + length <= this.payloads.length
  }

  /**
   * Adds a publication (`flags`: qos | retain << 2) whose payload (string, Uint8Array or
   * undefined) is `length` bytes long; returns whether the batch is full now.
   */
  add (id, topic, payload, length, flags) {
    if (this.count === 0) {
      if (this.buffer === undefined) this.buffer = this.payloads = Buffer.allocUnsafe(PAYLOAD_CAPACITY)
      if (length > this.payloads.length) this.payloads = Buffer.allocUnsafe(length)
    }
    if (topic !== this.lastTopic) {
      this.topics.push(topic)
      this.lastTopic = topic
      flags |= NEW_TOPIC
    }
    const r = this.count * 3
    this.records[r] = id
    this.records[r + 1] = flags
    this.records[r + 2] = length
    if (length > 0) {
      if (typeof payload === 'string') this.payloads.write(payload, this.bytes)
      else this.payloads.set(payload, this.bytes)
      this.bytes += length
    }
    return ++this.count >= BATCH_LIMIT
  }

  /**
   * Hands the batch to `native` and empties it. If the native call throws (the client was
   * closed meanwhile), `failed(error, ids)` gets the request ids of the batch (0:
   * fire-and-forget).
   */
  handOver (native, failed) {
    const count = this.count
    const records = this.records.subarray(0, count * 3)
    const topics = this.topics.length === 1 ? this.topics[0] : this.topics.join('\0')
    const payloads = this.bytes > 0 ? this.payloads.subarray(0, this.bytes) : undefined
    this.count = 0
    this.topics.length = 0
    this.lastTopic = undefined
    this.bytes = 0
    // A one-off buffer for a large payload is not kept.
    this.payloads = this.buffer
    try {
      native.publishBatch(records, topics, payloads)
    } catch (error) {
      const ids = new Array(count)
      for (let i = 0; i < count; i++) ids[i] = records[i * 3]
      failed(error, ids)
    }
  }
}

module.exports = { PublishBatch }
