// The demo's chat protocol: one stream per message, the UTF-8 text and then
// end of stream. Receivers stop reading past MAX_MESSAGE_BYTES.
export const CHAT_PROTOCOL = '/ws-star-demo/chat/1.0.0'
export const MAX_MESSAGE_BYTES = 2048

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Sends text to peerId over a new stream (through the relay when that is the only way). */
export async function sendMessage (libp2p, peerId, text) {
  const bytes = encoder.encode(text)
  if (bytes.length > MAX_MESSAGE_BYTES) throw new Error(`message is longer than ${MAX_MESSAGE_BYTES} bytes`)
  const signal = AbortSignal.timeout(10_000)
  const stream = await libp2p.dialProtocol(peerId, CHAT_PROTOCOL, { signal, runOnLimitedConnection: true })
  stream.send(bytes)
  await stream.close({ signal })
}

/** Calls onMessage(peerId, text) for every message received. */
export async function handleMessages (libp2p, onMessage) {
  await libp2p.handle(CHAT_PROTOCOL, (stream, connection) => {
    const parts = []
    let size = 0
    const timer = setTimeout(() => stream.abort(new Error('message took too long')), 10_000)
    stream.addEventListener('message', (evt) => {
      for (const part of evt.data instanceof Uint8Array ? [evt.data] : evt.data) {
        size += part.byteLength
        if (size > MAX_MESSAGE_BYTES) {
          clearTimeout(timer)
          stream.abort(new Error('message too long'))
          return
        }
        parts.push(part.slice())
      }
    })
    stream.addEventListener('end', () => {
      clearTimeout(timer)
      if (size > MAX_MESSAGE_BYTES) return
      const all = new Uint8Array(size)
      let off = 0
      for (const p of parts) { all.set(p, off); off += p.length }
      let text
      try {
        text = decoder.decode(all)
      } catch {
        return // not UTF-8: not from this demo
      }
      stream.close().catch(() => {})
      onMessage(connection.remotePeer, text)
    })
    stream.addEventListener('close', () => clearTimeout(timer))
  }, { runOnLimitedConnection: true })
}
