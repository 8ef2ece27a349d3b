// A js-libp2p 3.x peer configured like a browser app: WebSocket transport
// only, no listen address of its own, reachable only through a relay.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'

const MiB = 1024 * 1024

/**
 * @param {object} [opts]
 * @param {object} [opts.connectionMonitor] js-libp2p's connectionMonitor options
 */
export async function createPeer (opts = {}) {
  return createLibp2p({
    addresses: { listen: [] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    // yamux's defaults let a stream's receive window grow to 16 MiB but reset
    // the stream once 4 MiB sit unread, so a reader that pauses for
    // back-pressure (the echo handler) gets reset. Keep the window below the
    // read buffer limit.
    streamMuxers: [yamux({
      streamOptions: { maxStreamWindowSize: 4 * MiB, maxReadBufferLength: 8 * MiB }
    })],
    // The connection monitor pings every connection each 10 s and aborts the
    // connection when a ping fails: after 5 s, when the other side's ping
    // handler gives up after 10 s, or when the previous ping is still out.
    // Inside a relayed connection the ping frames queue behind the bulk
    // stream's windows (4 MiB each way), so on a shared machine under the race
    // detector the 64 MiB echo lost its connection mid-transfer. The test is
    // about what the relay carries: the monitor still pings, but a late ping
    // is only logged.
    connectionMonitor: { abortConnectionOnPingFailure: false, ...opts.connectionMonitor },
    // @libp2p/websockets refuses plain /ws to loopback through the default
    // gater; the node under test only listens there.
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      ping: ping(),
      // Exposes the transport manager so a test can ask for a relay
      // reservation at a chosen moment, as an app would do by listening on
      // <relay>/p2p-circuit after it has connected.
      transports: (components) => ({
        listen: (addrs) => components.transportManager.listen(addrs)
      })
    }
  })
}
