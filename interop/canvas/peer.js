// A js-libp2p 2.x peer as a canvas app builds it: WebSockets only, reachable
// through a relay reservation on the rendezvous node, with the
// @canvas-js/libp2p-rendezvous client.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { rendezvousClient } from '@canvas-js/libp2p-rendezvous/client'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'

/**
 * @param {string} nodeAddr the node's /ws multiaddr ending in /p2p/<id>
 * @param {object} [rendezvous] RendezvousClientInit (autoRegister, autoDiscover)
 * @param {{ start?: boolean }} [opts] start: false to attach listeners first
 */
export async function createPeer (nodeAddr, rendezvous = { autoDiscover: false }, { start = true } = {}) {
  return createLibp2p({
    start,
    // The reservation is made during start(); the client refuses to
    // register a peer that has no address.
    addresses: { listen: [`${nodeAddr}/p2p-circuit`] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      rendezvous: rendezvousClient(rendezvous)
    }
  })
}

/** The peer's addresses through the node's relay. */
export function circuitAddrs (peer, nodeAddr) {
  return peer.getMultiaddrs().map(String).filter((ma) => ma.startsWith(`${nodeAddr}/p2p-circuit/`))
}
