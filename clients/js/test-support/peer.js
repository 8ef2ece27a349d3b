// A js-libp2p 3.x peer configured like a browser app: WebSocket transport
// only, no listen address of its own, reachable only through the relay.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { rendezvousClient, wsStar } from '../src/index.js'

/**
 * @param {object} opts
 * @param {import('../src/index.js').WsStarInit} [opts.wsStar] omit for no discovery service
 * @param {object} [opts.libp2p] more createLibp2p options (addresses, say)
 */
export async function createPeer (opts = {}) {
  const services = {
    identify: identify(),
    rendezvous: rendezvousClient(),
    // Lets a test reserve a relay slot at a chosen moment, as an app does by
    // listening on <node>/p2p-circuit.
    transports: (components) => ({
      listen: (addrs) => components.transportManager.listen(addrs)
    })
  }
  if (opts.wsStar != null) {
    // Short reconnect delays keep the restart test quick.
    services.wsStar = wsStar({ initialDelay: 200, maxDelay: 2_000, ...opts.wsStar })
  }
  return createLibp2p({
    addresses: { listen: [] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // @libp2p/websockets refuses plain /ws to loopback through the default
    // gater; the node under test only listens there.
    connectionGater: { denyDialMultiaddr: () => false },
    services,
    ...opts.libp2p
  })
}

/** Resolves with the first event of `type` on target whose detail passes `match`. */
export function nextEvent (target, type, match = () => true, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      target.removeEventListener(type, onEvent)
      reject(new Error(`no matching ${type} event within ${ms} ms`))
    }, ms)
    function onEvent (evt) {
      if (!match(evt.detail)) return
      clearTimeout(timer)
      target.removeEventListener(type, onEvent)
      resolve(evt.detail)
    }
    target.addEventListener(type, onEvent)
  })
}

/** Polls cond every 20 ms until it is truthy; rejects after ms. `what` may be a function for a late description. */
export async function eventually (what, cond, ms = 10_000) {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await cond()
    if (v) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'function' ? what() : what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
