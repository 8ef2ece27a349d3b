// Peer ids and signed peer records (RFC 0002 envelope + RFC 0003 record) as
// the node relays them: verified here so a node cannot forge a peer's own
// address claims.
import { peerIdFromMultihash, peerIdFromPublicKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidPeerRecordError, MalformedMessageError } from './errors.js'

/** Parses a binary peer id (a multihash). */
export function peerIdFromBytes (bytes) {
  try {
    return peerIdFromMultihash(Digest.decode(bytes))
  } catch (err) {
    throw new MalformedMessageError(`invalid peer id: ${err.message}`)
  }
}

/** Parses binary multiaddrs, dropping a trailing /p2p/<peer> and any that do not parse. */
export function multiaddrsFromBytes (list, peerId) {
  const out = []
  for (const bytes of list) {
    try {
      out.push(withoutPeer(multiaddr(bytes), peerId))
    } catch {
      // One bad address must not hide the peer's other addresses.
    }
  }
  return out
}

/**
 * Opens a marshalled signed envelope holding a libp2p peer record and checks
 * that it is signed by `expected` and is about `expected`.
 * @returns {Promise<{ multiaddrs: import('@multiformats/multiaddr').Multiaddr[], seq: bigint, envelope: Uint8Array }>}
 */
export async function verifyPeerRecord (bytes, expected) {
  let envelope, record
  try {
    envelope = await RecordEnvelope.openAndCertify(bytes, PeerRecord.DOMAIN)
    if (!equalBytes(envelope.payloadType, PeerRecord.CODEC)) throw new Error('payload is not a libp2p peer record')
    record = PeerRecord.createFromProtobuf(envelope.payload)
  } catch (err) {
    throw new InvalidPeerRecordError(`signed peer record does not verify: ${err.message}`)
  }
  if (!peerIdFromPublicKey(envelope.publicKey).equals(expected)) {
    throw new InvalidPeerRecordError(`signed peer record is signed by another key than ${expected}`)
  }
  if (!record.peerId.equals(expected)) {
    throw new InvalidPeerRecordError(`signed peer record is about ${record.peerId}, not ${expected}`)
  }
  return {
    multiaddrs: record.multiaddrs.map((ma) => withoutPeer(ma, expected)),
    seq: record.seqNumber,
    envelope: bytes
  }
}

function withoutPeer (ma, peerId) {
  const last = ma.getComponents().at(-1)
  if (last?.name === 'p2p' && last.value === peerId.toString()) {
    return ma.decapsulateCode(last.code)
  }
  return ma
}

function equalBytes (a, b) {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
