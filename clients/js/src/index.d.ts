import type { Connection, PeerDiscovery, PeerDiscoveryEvents, PeerId, PeerInfo, Startable, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TypedEventEmitter } from 'main-event'

export declare const WS_STAR_PROTOCOL = '/ws-star/1.0.0'
export declare const RENDEZVOUS_PROTOCOL = '/rendezvous/1.0.0'
/** Largest client message a node accepts (4 KiB). */
export declare const MAX_CLIENT_MESSAGE: number
/** Largest message a node sends (1 MiB); longer length prefixes are refused before allocating. */
export declare const MAX_SERVER_MESSAGE: number
/** Longest namespace, in UTF-8 bytes (255). */
export declare const MAX_NAMESPACE_BYTES: number
export declare const STATUS_NAMES: Readonly<Record<number, string>>

export interface WsStarInit {
  /** Direct multiaddrs of rendezvous nodes, each ending in /p2p/<node peer id>. */
  servers: Array<string | Multiaddr> | string | Multiaddr
  /** Namespaces to join on every node (1 to 255 UTF-8 bytes each). */
  namespaces: string[] | string
  /** Be listed as a member (default true). false only watches. */
  announce?: boolean
  /** Make sure a relay reservation is held on each node before announcing (default: announce). */
  reserve?: boolean
  /** Largest view per namespace; 0 (default) asks for the node's default. */
  maxPeers?: number
  /** Verify signed peer records relayed by the node (default true); peers with a forged record are dropped. */
  verifyRecords?: boolean
  /** Time allowed to connect, reserve and open the stream, ms (default 10000). */
  dialTimeout?: number
  /** First reconnect delay ceiling, ms (default 500); doubles per failed attempt. */
  initialDelay?: number
  /** Largest reconnect delay ceiling, ms (default 30000). */
  maxDelay?: number
  /**
   * Open direct WebRTC connections to discovered peers that offer one
   * (`<node>/p2p-circuit/webrtc`), signalled through the node's relay; the
   * relayed connection stays in use when WebRTC fails. Needs `webRTC()` from
   * `@libp2p/webrtc` in `transports` (its `rtcConfiguration` sets the ICE
   * servers). Default false.
   */
  webRTC?: boolean | WebRTCUpgradeInit
}

export interface WebRTCUpgradeInit {
  /** Listen on /webrtc, so that peers can dial this one over WebRTC (default true). */
  listen?: boolean
  /**
   * Close the relayed connection to a peer once a direct one is open (default
   * true): it frees one of the node's circuits on each side and stops its
   * pings. Streams still open on it are closed.
   */
  closeRelayed?: boolean
  /** Time allowed for one WebRTC dial, ms (default 10000). */
  timeout?: number
  /**
   * Of two peers that both offer WebRTC, the one whose id sorts first dials;
   * the other dials only if no connection arrived within this many ms (default 3000).
   */
  responderDelay?: number
}

/** Why a peer is no longer listed: a protocol reason, or 'unreachable' when the node (or the view) went away. */
export type PeerLeftReason = 'left' | 'disconnected' | 'expired' | 'unreachable' | 'unspecified'

export interface PeerLeftEvent { id: PeerId, reason: PeerLeftReason }
export interface JoinEvent { server: Multiaddr, namespace: string, members: number, maxPeers: number }
export interface ServerErrorEvent { server: Multiaddr, namespace?: string, peer?: PeerId, error: Error }
export interface ServerDisconnectedEvent { server: Multiaddr, retryIn: number }
export interface DirectEvent { id: PeerId, connection: Connection }
export interface DirectErrorEvent { id: PeerId, error: Error }

export interface WsStarEvents extends PeerDiscoveryEvents {
  /** A peer seen earlier is no longer listed by any node in any namespace. */
  'peer:left': CustomEvent<PeerLeftEvent>
  /** A namespace was joined (again) on a node. */
  join: CustomEvent<JoinEvent>
  /** Something failed on a node (a rejected join, a forged record, a lost connection); the client carries on. */
  'server:error': CustomEvent<ServerErrorEvent>
  /** The session with a node ended; a reconnect follows after retryIn ms. */
  'server:disconnected': CustomEvent<ServerDisconnectedEvent>
  /** webRTC: a direct connection to a listed peer opened (dialed by either side). */
  direct: CustomEvent<DirectEvent>
  /** webRTC: a WebRTC dial to a listed peer failed; the relay stays the way to it. Retried when its addresses change. */
  'direct:error': CustomEvent<DirectErrorEvent>
  /** webRTC: the last direct connection to a listed peer closed; a new attempt follows after a second. */
  'direct:closed': CustomEvent<{ id: PeerId }>
}

export declare class WsStarDiscovery extends TypedEventEmitter<WsStarEvents> implements PeerDiscovery, Startable {
  readonly [Symbol.toStringTag]: string
  start (): void
  afterStart (): void
  stop (): Promise<void>
  /**
   * Peers currently seen, deduplicated across nodes and namespaces. `verified`
   * is true when a node relayed the peer's signed peer record and it verified;
   * `direct` when a direct (WebRTC) connection to the peer is open (webRTC).
   */
  getPeers (namespace?: string): Array<PeerInfo & { verified: boolean, direct: boolean }>
  getServers (): Array<{ server: Multiaddr, connected: boolean, namespaces: string[] }>
}

/** A js-libp2p peer-discovery service: `services: { wsStar: wsStar({ servers, namespaces }) }`. */
export declare function wsStar (init: WsStarInit): (components: any) => WsStarDiscovery

/**
 * What a DirectUpgrader reads from the discovery service it works for (the
 * `webRTC` option of wsStar uses one; another discovery can too).
 */
export interface DirectUpgradeSource {
  /** The libp2p components the service was created with. */
  components: any
  log: any
  /** The peers the service lists now, by peer id string. */
  peers: Map<string, { id: PeerId }>
  /** The addresses of a listed peer (empty when it is not listed). */
  mergedAddrsOf (id: string): Multiaddr[]
  /** Receives `direct`, `direct:error` and `direct:closed` as WsStarEvents describes them. */
  safeDispatchEvent (type: string, init?: CustomEventInit): boolean
}

/**
 * Opens direct WebRTC connections to listed peers that offer
 * `<node>/p2p-circuit/webrtc`, as wsStar's `webRTC` option does, for any
 * discovery service: it calls `start()` after libp2p started, `peerSeen` for
 * a new peer or new addresses, `peerGone` when it stops listing a peer, and
 * `stop()`.
 */
export declare class DirectUpgrader {
  constructor (source: DirectUpgradeSource, init?: WebRTCUpgradeInit)
  start (): Promise<void>
  stop (): void
  peerSeen (id: PeerId, multiaddrs: Multiaddr[]): void
  peerGone (id: string): void
  /** The open direct connection to a peer, if any. */
  directConnection (id: PeerId): Connection | undefined
}

/** True when the connection's data does not pass through a relay (WebRTC, or any non-circuit transport). */
export declare function isDirectConnection (connection: Connection): boolean
/** True for a WebRTC address signalled through a relay: `.../p2p-circuit/webrtc[/p2p/<id>]`. */
export declare function isWebRTCCircuit (ma: Multiaddr): boolean

export interface RendezvousClientInit {
  /** Per request, ms (default 10000). */
  requestTimeout?: number
  /** Largest response accepted, bytes (default 4 MiB). */
  maxResponseSize?: number
}

export interface RegisterOptions extends AbortOptions {
  /** Requested TTL in seconds (default 7200, at most 259200). */
  ttl?: number
  /** Register again before the granted TTL runs out (default true). */
  refresh?: boolean
}

export interface DiscoverOptions extends AbortOptions {
  /** Absent: all namespaces. */
  namespace?: string
  limit?: number
  /** The cookie of the previous page: only newer registrations are returned. */
  cookie?: Uint8Array
}

export interface Registration {
  id: PeerId
  /** From the verified signed peer record. */
  multiaddrs: Multiaddr[]
  namespace: string
  /** Remaining seconds. */
  ttl: number
  signedPeerRecord: Uint8Array
}

export interface RendezvousEvents {
  /** A background refresh failed; it is retried with backoff. */
  'registration:error': CustomEvent<{ server: Multiaddr | PeerId, namespace: string, error: Error }>
}

export type RendezvousServer = string | Multiaddr | PeerId

export declare class RendezvousClient extends TypedEventEmitter<RendezvousEvents> implements Startable {
  readonly [Symbol.toStringTag]: string
  start (): void
  stop (): void
  register (server: RendezvousServer, namespace: string, options?: RegisterOptions): Promise<{ ttl: number }>
  unregister (server: RendezvousServer, namespace: string, options?: AbortOptions): Promise<void>
  discover (server: RendezvousServer, options?: DiscoverOptions): Promise<{ registrations: Registration[], cookie?: Uint8Array, invalid: number }>
}

/** `services: { rendezvous: rendezvousClient() }` */
export declare function rendezvousClient (init?: RendezvousClientInit): (components: any) => RendezvousClient

export declare class MalformedMessageError extends Error { name: 'MalformedMessageError' }
export declare class MessageTooLargeError extends Error { name: 'MessageTooLargeError'; size: number; limit: number }
export declare class StreamClosedError extends Error { name: 'StreamClosedError' }
export declare class ServerStatusError extends Error {
  name: 'ServerStatusError'
  /** 100 E_INVALID_NAMESPACE, 101 E_INVALID_SIGNED_PEER_RECORD, 102 E_INVALID_TTL, 103 E_INVALID_COOKIE, 200 E_NOT_AUTHORIZED, 300 E_INTERNAL_ERROR, 400 E_UNAVAILABLE */
  status: number
  statusName: string
  statusText: string
}
export declare class InvalidPeerRecordError extends Error { name: 'InvalidPeerRecordError' }
export declare class InvalidParametersError extends Error { name: 'InvalidParametersError' }
export declare class NotStartedError extends Error { name: 'NotStartedError' }
