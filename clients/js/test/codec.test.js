// Wire codecs, framing and option checks, without a network.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import { backoffDelay } from '../src/backoff.js'
import { InvalidParametersError, InvalidPeerRecordError, MalformedMessageError, MessageTooLargeError } from '../src/errors.js'
import { encodeFrame, FrameDecoder } from '../src/framing.js'
import { Writer } from '../src/protobuf.js'
import { decodeMessage, encodeDiscover, encodeRegister } from '../src/rendezvous-codec.js'
import { refreshDelay } from '../src/rendezvous.js'
import { verifyPeerRecord } from '../src/records.js'
import { decodeServerMessage, encodeJoin, encodeLeave } from '../src/wsstar-codec.js'
import { ServerSession, WsStarDiscovery, wsStar } from '../src/wsstar.js'

const hex = (b) => Buffer.from(b).toString('hex')
const bytes = (h) => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ''), 'hex'))

describe('ws-star codec', () => {
  test('Join and Leave encode as docs/protocol.md specifies', () => {
    // ClientMessage{join: Join{ns: "ab", announce: true, max_peers: 300}}
    assert.equal(hex(encodeJoin({ ns: 'ab', announce: true, maxPeers: 300 })), '0a09' + '0a026162' + '1001' + '18ac02')
    // proto3 defaults are omitted, the oneof member is always present
    assert.equal(hex(encodeJoin({ ns: 'x' })), '0a03' + '0a0178')
    assert.equal(hex(encodeLeave('ab')), '1204' + '0a026162')
  })

  test('a JoinAck decodes with every field', () => {
    // ack{ns "n", status 400, status_text "busy", max_peers 16, members 2^40}
    const ack = new Writer().stringField(1, 'n').uintField(2, 400).stringField(3, 'busy').uintField(4, 16).uintField(5, 2n ** 40n).finish()
    const msg = decodeServerMessage(new Writer().messageField(1, ack).finish())
    assert.deepEqual(msg, { type: 'ack', ns: 'n', status: 400, statusText: 'busy', maxPeers: 16, members: 2 ** 40 })
  })

  test('a Peers batch decodes events, skipping unknown fields', () => {
    const ev = new Writer().uintField(1, 3).bytesField(2, bytes('0024080112')).bytesField(3, bytes('04 7f000001'))
      .bytesField(3, bytes('04 7f000002')).uintField(5, 2).uintField(99, 7).finish()
    const peers = new Writer().stringField(1, 'n').uintField(2, true).messageField(3, ev).stringField(42, 'future').finish()
    const msg = decodeServerMessage(new Writer().messageField(2, peers).finish())
    assert.equal(msg.type, 'peers')
    assert.equal(msg.snapshot, true)
    assert.equal(msg.events.length, 1)
    assert.equal(msg.events[0].kind, 3)
    assert.equal(msg.events[0].reason, 2)
    assert.equal(msg.events[0].addrs.length, 2)
    assert.equal(msg.events[0].signedPeerRecord, undefined)
  })

  test('a ServerMessage with no known member is reported as unknown, not an error', () => {
    assert.deepEqual(decodeServerMessage(new Writer().stringField(9, 'later').finish()), { type: 'unknown' })
    assert.deepEqual(decodeServerMessage(new Uint8Array(0)), { type: 'unknown' })
  })

  test('malformed input is refused with MalformedMessageError', () => {
    const cases = {
      'truncated varint': bytes('08'),
      'length past the end': bytes('0a05 0a01'),
      'invalid UTF-8 in ns': new Writer().messageField(1, new Writer().bytesField(1, bytes('ff fe')).finish()).finish(),
      'varint over 10 bytes': bytes('10 ffffffffffffffffffff01'),
      'group wire type': bytes('0b'),
      'field number 0': bytes('00 00'),
      'wrong wire type for a known field': bytes('0d 00000000'),
      'peer event without peer id': new Writer().messageField(2, new Writer().messageField(3, new Writer().uintField(1, 1).finish()).finish()).finish()
    }
    for (const [name, input] of Object.entries(cases)) {
      assert.throws(() => decodeServerMessage(input), MalformedMessageError, name)
    }
  })

  test('random input never throws anything but MalformedMessageError', () => {
    // A fixed-seed sweep; deeper exploration belongs to a fuzzer.
    let seed = 0x2545f491
    const rand = () => {
      seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5
      return (seed >>> 0) / 2 ** 32
    }
    const valid = new Writer().messageField(2, new Writer().stringField(1, 'ns').uintField(2, true)
      .messageField(3, new Writer().uintField(1, 1).bytesField(2, bytes('0024080112')).finish()).finish()).finish()
    for (let i = 0; i < 20_000; i++) {
      const input = i % 2 === 0 ? mutate(valid, rand) : Uint8Array.from({ length: Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))
      try {
        decodeServerMessage(input)
        decodeMessage(input)
      } catch (err) {
        assert.ok(err instanceof MalformedMessageError, `input ${hex(input)} threw ${err}`)
      }
    }
  })
})

function mutate (buf, rand) {
  const out = Uint8Array.from(buf)
  const n = 1 + Math.floor(rand() * 3)
  for (let i = 0; i < n; i++) out[Math.floor(rand() * out.length)] = Math.floor(rand() * 256)
  return out.subarray(0, Math.floor(rand() * (out.length + 1)))
}

describe('framing', () => {
  test('frames split across chunks at every byte reassemble', () => {
    const msgs = [new Uint8Array(0), bytes('01 02 03'), new Uint8Array(300).fill(7)]
    const wire = Buffer.concat(msgs.map(encodeFrame))
    for (let cut = 0; cut <= wire.length; cut++) {
      const d = new FrameDecoder(1024)
      const frames = [...d.push(wire.subarray(0, cut)), ...d.push(wire.subarray(cut))]
      assert.deepEqual(frames.map(hex), msgs.map(hex), `cut at ${cut}`)
      assert.equal(d.partial, false)
    }
  })

  test('a prefix over the limit is refused as soon as the prefix arrives, before any body', () => {
    const d = new FrameDecoder(1000)
    const prefix = encodeFrame(new Uint8Array(1001)).subarray(0, 2)
    assert.throws(() => d.push(prefix), (err) => err instanceof MessageTooLargeError && err.size === 1001 && err.limit === 1000)
    // a 2^35 prefix: five varint bytes, refused without computing it
    assert.throws(() => new FrameDecoder(1000).push(bytes('8080808080 01')), MessageTooLargeError)
  })
})

describe('rendezvous codec', () => {
  test('REGISTER always carries type, ns, record and ttl', () => {
    const msg = encodeRegister({ ns: 'n', signedPeerRecord: bytes('aabb'), ttl: 7200 })
    assert.equal(hex(msg), '0800' + '120a' + '0a016e' + '1202aabb' + '18a038')
    assert.equal(hex(encodeDiscover({ ns: 'n', limit: 5, cookie: bytes('01') })), '0803' + '2a08' + '0a016e' + '1005' + '1a0101')
  })

  test('responses with absent proto2 defaults decode as OK', () => {
    // DISCOVER_RESPONSE with one registration and a cookie, no status field
    const reg = new Writer().stringField(1, 'n').bytesField(2, bytes('01')).uintField(3, 60).finish()
    const body = new Writer().messageField(1, reg).bytesField(2, bytes('c0ffee')).finish()
    const msg = decodeMessage(new Writer().tag(1, 0).varint(4).messageField(6, body).finish())
    assert.equal(msg.type, 4)
    assert.equal(msg.discover.status, 0)
    assert.equal(hex(msg.discover.cookie), 'c0ffee')
    assert.deepEqual(msg.discover.registrations.map((r) => [r.ns, r.ttl]), [['n', 60]])
  })

  test('refresh happens before the TTL runs out', () => {
    assert.equal(refreshDelay(2), 1_000)
    assert.equal(refreshDelay(60), 30_000)
    assert.equal(refreshDelay(7200), 7140_000)
  })
})

describe('signed peer records', () => {
  const addr = multiaddr('/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWCUtBPwhc8nG2rmPGRAekMnaDEctxNNFcrYvtzG4ZmpUS/p2p-circuit')

  test('a record signed by the listed peer verifies and yields its addresses', async () => {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key)
    const env = await RecordEnvelope.seal(new PeerRecord({ peerId: id, multiaddrs: [addr.encapsulate(`/p2p/${id}`)], seqNumber: 5n }), key)
    const rec = await verifyPeerRecord(env.marshal(), id)
    assert.deepEqual(rec.multiaddrs.map(String), [addr.toString()])
    assert.equal(rec.seq, 5n)
  })

  test('a record of another peer, or a tampered one, is refused with InvalidPeerRecordError', async () => {
    const key = await generateKeyPair('Ed25519')
    const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const env = await RecordEnvelope.seal(new PeerRecord({ peerId: peerIdFromPrivateKey(key), multiaddrs: [addr] }), key)
    const marshalled = env.marshal()
    await assert.rejects(verifyPeerRecord(marshalled, other), InvalidPeerRecordError)
    const tampered = Uint8Array.from(marshalled)
    tampered[tampered.length - 1] ^= 1 // last byte of the signature
    await assert.rejects(verifyPeerRecord(tampered, peerIdFromPrivateKey(key)), InvalidPeerRecordError)
    await assert.rejects(verifyPeerRecord(bytes('0102'), other), InvalidPeerRecordError)
  })
})

describe('reconnect backoff', () => {
  test('delays double up to the cap and stay within [ceiling/2, ceiling]', () => {
    const opts = { initialDelay: 500, maxDelay: 30_000 }
    assert.equal(backoffDelay(0, opts, () => 0), 250)
    assert.equal(backoffDelay(0, opts, () => 0.999999), 500)
    assert.equal(backoffDelay(3, opts, () => 0), 2_000)
    assert.equal(backoffDelay(10, opts, () => 0), 15_000)
    assert.equal(backoffDelay(1000, opts, () => 0.999999), 30_000)
  })
})

describe('wsStar options', () => {
  const node = '/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWCUtBPwhc8nG2rmPGRAekMnaDEctxNNFcrYvtzG4ZmpUS'
  test('bad options are refused when the service is configured', () => {
    const bad = {
      'no servers': { servers: [], namespaces: ['a'] },
      'server without peer id': { servers: ['/ip4/127.0.0.1/tcp/1/ws'], namespaces: ['a'] },
      'circuit server': { servers: [node + '/p2p-circuit/p2p/12D3KooWCUtBPwhc8nG2rmPGRAekMnaDEctxNNFcrYvtzG4ZmpUS'], namespaces: ['a'] },
      'not a multiaddr': { servers: ['ws://x'], namespaces: ['a'] },
      'empty namespace': { servers: [node], namespaces: [''] },
      'long namespace': { servers: [node], namespaces: ['é'.repeat(128)] },
      'no namespaces': { servers: [node], namespaces: [] },
      'negative maxPeers': { servers: [node], namespaces: ['a'], maxPeers: -1 },
      'maxDelay below initialDelay': { servers: [node], namespaces: ['a'], initialDelay: 10, maxDelay: 5 }
    }
    for (const [name, init] of Object.entries(bad)) {
      assert.throws(() => wsStar(init), InvalidParametersError, name)
    }
    assert.equal(typeof wsStar({ servers: node, namespaces: 'a' }), 'function')
  })
})

describe('view bookkeeping', () => {
  // Drives one session's message handling directly (no stream): what the
  // node would send after a Closed{OVERFLOW} and the rejoin that follows.
  test('after a view is closed, peers stay listed until the rejoin snapshot, which drops the ones gone', async () => {
    const self = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const [p1, p2, p3] = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))))
    const log = Object.assign(() => {}, { error () {}, trace () {} })
    const node = '/ip4/127.0.0.1/tcp/1/ws/p2p/12D3KooWCUtBPwhc8nG2rmPGRAekMnaDEctxNNFcrYvtzG4ZmpUS'
    const service = new WsStarDiscovery({ peerId: self, logger: { forComponent: () => log } }, { servers: [node], namespaces: ['n'], initialDelay: 60_000, maxDelay: 60_000 })
    const events = []
    service.addEventListener('peer', (e) => events.push(`peer ${e.detail.id}`))
    service.addEventListener('peer:left', (e) => events.push(`left ${e.detail.id} ${e.detail.reason}`))
    const session = new ServerSession(service, service.opts.servers[0], 0)
    const joined = (ids) => ids.map((id) => ({ kind: 1, peerId: id.toMultihash().bytes, addrs: [], signedPeerRecord: undefined, reason: 0 }))

    session.pendingAcks.push('n')
    await session.handle({ type: 'ack', ns: 'n', status: 0, statusText: '', maxPeers: 64, members: 3 })
    await session.handle({ type: 'peers', ns: 'n', snapshot: true, events: joined([p1, p2, self]) })
    assert.deepEqual(events, [`peer ${p1}`, `peer ${p2}`], 'itself is never reported')

    await session.handle({ type: 'closed', ns: 'n', reason: 1, text: 'overflow' })
    assert.equal(events.length, 2, 'no leaves while the view is being rebuilt')
    assert.equal(service.getPeers().length, 2)

    session.pendingAcks.push('n')
    await session.handle({ type: 'ack', ns: 'n', status: 0, statusText: '', maxPeers: 64, members: 3 })
    await session.handle({ type: 'peers', ns: 'n', snapshot: true, events: joined([p2, p3]) })
    assert.deepEqual(events.slice(2), [`peer ${p3}`, `left ${p1} unreachable`])

    await assert.rejects(session.handle({ type: 'ack', ns: 'other', status: 0 }), MalformedMessageError, 'an ack nobody asked for')
    session.dropAll('unreachable')
    assert.deepEqual(service.getPeers(), [])
    for (const t of session.retryTimers) clearTimeout(t)
  })
})
