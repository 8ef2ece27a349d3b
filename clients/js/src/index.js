// @ws-star/libp2p-client: js-libp2p 3.x clients for a ws-star rendezvous node.
export { wsStar, WsStarDiscovery } from './wsstar.js'
export { rendezvousClient, RendezvousClient } from './rendezvous.js'
export {
  InvalidParametersError, InvalidPeerRecordError, MalformedMessageError, MessageTooLargeError,
  NotStartedError, ServerStatusError, StreamClosedError, STATUS_NAMES
} from './errors.js'
export { WS_STAR_PROTOCOL, MAX_CLIENT_MESSAGE, MAX_SERVER_MESSAGE, MAX_NAMESPACE_BYTES } from './wsstar-codec.js'
export { RENDEZVOUS_PROTOCOL } from './rendezvous-codec.js'
export { DirectUpgrader, isDirectConnection, isWebRTCCircuit } from './direct.js'
