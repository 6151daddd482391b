'use strict'
// SCRAM-SHA-256 (RFC 5802 / 7677) written as a JavaScript authenticator, for the tests of the
// `authenticator` option (the embedded broker implements the server side).

const crypto = require('node:crypto')

const hmac = (key, text) => crypto.createHmac('sha256', key).update(text).digest()
const sha256 = (data) => crypto.createHash('sha256').update(data).digest()

/** SCRAM-SHA-256 (RFC 5802 / 7677) as a JS authenticator; `hooks` replace its steps. */
function scram (username, password, hooks = {}) {
  const counts = { started: 0, finished: 0 }
  return {
    counts,
    method: 'SCRAM-SHA-256',
    start () {
      counts.started++
      const nonce = crypto.randomBytes(18).toString('base64')
      const clientFirstBare = `n=${username},r=${nonce}`
      let serverSignature
      return {
        initialData: () => `n,,${clientFirstBare}`,
        respond: hooks.respond || ((challenge) => {
          const serverFirst = challenge.toString()
          const attributes = Object.fromEntries(serverFirst.split(',').map((a) => [a[0], a.slice(2)]))
          if (!attributes.r.startsWith(nonce)) throw new Error('the server nonce does not extend ours')
          const salted = crypto.pbkdf2Sync(password, Buffer.from(attributes.s, 'base64'), Number(attributes.i), 32, 'sha256')
          const clientKey = hmac(salted, 'Client Key')
          const clientFinalBare = `c=biws,r=${attributes.r}`
          const authMessage = `${clientFirstBare},${serverFirst},${clientFinalBare}`
          const signature = hmac(sha256(clientKey), authMessage)
          const proof = Buffer.from(clientKey.map((byte, i) => byte ^ signature[i]))
          serverSignature = hmac(hmac(salted, 'Server Key'), authMessage).toString('base64')
          return Buffer.from(`${clientFinalBare},p=${proof.toString('base64')}`)
        }),
        finish: hooks.finish || ((data) => {
          if (data == null || data.toString() !== `v=${serverSignature}`) throw new Error('the server signature does not match')
          counts.finished++
        })
      }
    }
  }
}

module.exports = { scram }
