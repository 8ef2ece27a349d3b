// The demo page: a js-libp2p node in the browser that joins a namespace on a
// ws-star rendezvous node, lists the peers in it live, upgrades to a direct
// WebRTC connection to each (signalled through the node's circuit relay) and
// chats over it, or through the relay when WebRTC cannot connect. It finds
// the peers over /ws-star/1.0.0, or with ?discovery=pubsub with
// pubsub-peer-discovery over gossipsub (pubsub.js); what follows discovery is
// the same.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webRTC, webRTCDirect } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { webTransport } from '@libp2p/webtransport'
import { isDirectConnection, wsStar } from '@ws-star/libp2p-client'
import { createLibp2p } from 'libp2p'
import { handleMessages, sendMessage } from './chat.js'
import { DISCOVERY_TOPIC, pubsubDiscovery } from './pubsub.js'

// The discovery modes: ?discovery=ws-star (the default) or pubsub.
const DISCOVERY = {
  'ws-star': { label: '/ws-star/1.0.0', nsKind: 'Namespace', defaultNs: 'ws-star-demo' },
  pubsub: { label: 'pubsub-peer-discovery over gossipsub', nsKind: 'Topic (namespace)', defaultNs: DISCOVERY_TOPIC }
}

const $ = (id) => document.getElementById(id)
const ui = {
  form: $('connect-form'),
  node: $('node-addr'),
  discovery: $('discovery'),
  ns: $('namespace'),
  nsKind: $('ns-kind'),
  discoveryLabel: $('discovery-label'),
  connect: $('connect'),
  status: $('status'),
  self: $('self-id'),
  error: $('error'),
  nsLabel: $('ns-label'),
  peers: $('peers'),
  peersEmpty: $('peers-empty'),
  count: $('peer-count'),
  messages: $('messages'),
  messagesEmpty: $('messages-empty'),
  sendForm: $('send-form'),
  message: $('message'),
  send: $('send')
}

let libp2p
let selected // peer id string of the chosen recipient
const peers = new Map() // peer id string -> { id, row }

const params = new URLSearchParams(location.search)
// A node serving this page fills in its own address.
const servedBy = document.querySelector('meta[name="ws-star-node"]')?.content ?? ''
ui.node.value = params.get('node') ?? servedBy
const askedDiscovery = params.get('discovery') ?? 'ws-star'
ui.discovery.value = Object.hasOwn(DISCOVERY, askedDiscovery) ? askedDiscovery : 'ws-star'
// In pubsub mode the namespace is the discovery topic.
ui.ns.value = params.get('ns') ?? DISCOVERY[ui.discovery.value].defaultNs
showDiscovery(ui.discovery.value)
// ?webrtc=0 stays on the relay; ?rtc=<RTCConfiguration JSON> sets the ICE
// servers (STUN/TURN) and policy.
const useWebRTC = params.get('webrtc') !== '0'
const rtcParam = params.get('rtc')
ui.nsLabel.textContent = ui.ns.value

ui.form.addEventListener('submit', (evt) => {
  evt.preventDefault()
  connect(ui.node.value.trim(), ui.ns.value.trim(), ui.discovery.value).catch(fail)
})

ui.discovery.addEventListener('change', () => {
  // The other mode's default namespace becomes this one's.
  if (Object.values(DISCOVERY).some((d) => d.defaultNs === ui.ns.value)) ui.ns.value = DISCOVERY[ui.discovery.value].defaultNs
  showDiscovery(ui.discovery.value)
})

ui.sendForm.addEventListener('submit', (evt) => {
  evt.preventDefault()
  const text = ui.message.value.trim()
  const peer = peers.get(selected)
  if (text === '' || peer === undefined || libp2p === undefined) return
  ui.send.disabled = true
  sendMessage(libp2p, peer.id, text).then((connection) => {
    addMessage('out', `to ${short(peer.id)}`, text, connection)
    ui.message.value = ''
  }, (err) => {
    addMessage('system', '', `Could not reach ${short(peer.id)}: ${err.message}`)
  }).finally(() => { ui.send.disabled = selected === undefined })
})

// A link with ?node=, or the node serving the page, connects straight away.
if (askedDiscovery !== ui.discovery.value) {
  fail(new Error(`Unknown discovery "${askedDiscovery}": use ws-star or pubsub`))
} else if (ui.node.value !== '') ui.form.requestSubmit()
else if (params.has('via')) {
  // /demo/?via=webrtc-direct (or webtransport) on a node without that listener.
  showError(new Error(`The node serving this page does not listen on ${params.get('via')}: enter one of its addresses`))
}

async function connect (node, ns, mode) {
  ui.error.hidden = true
  if (libp2p !== undefined) {
    const old = libp2p
    libp2p = undefined
    for (const id of [...peers.keys()]) removePeer(id)
    await old.stop()
  }
  ui.nsLabel.textContent = ns
  showDiscovery(mode)
  const query = new URLSearchParams(params)
  query.set('ns', ns)
  if (mode !== 'ws-star') query.set('discovery', mode)
  else query.delete('discovery')
  if (node !== servedBy) query.set('node', node)
  else query.delete('node')
  history.replaceState(null, '', `?${query}`)
  setStatus('connecting', 'Connecting…')

  const nodeId = node.slice(node.lastIndexOf('/') + 1)
  const transport = transportFor(node)
  document.body.dataset.transport = transport.name
  const transports = [transport.factory(), circuitRelayTransport()]
  if (useWebRTC) transports.push(webRTC({ rtcConfiguration: rtcConfiguration(node) }))
  // Either discovery reserves a slot on the node's relay, listens on /webrtc
  // and upgrades the peers it finds (webRTC below), with the same events.
  const upgrade = useWebRTC ? { timeout: 8_000 } : false
  const discoveryOptions = mode === 'pubsub'
    ? pubsubDiscovery({ node, topic: ns, webRTC: upgrade })
    : { services: { wsStar: wsStar({ servers: [node], namespaces: [ns], webRTC: upgrade }) } }
  const node$ = await createLibp2p({
    addresses: { listen: [] },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The default browser gater refuses private and loopback addresses; this
    // page dials exactly the node the user named, wherever it runs.
    connectionGater: { denyDialMultiaddr: () => false },
    // js-libp2p pings every connection on a new stream every 10 s by
    // default, which is most of what an idle browser costs the node; once a
    // minute still finds a dead connection (and the node's own keep-alive
    // finds dead browsers).
    connectionMonitor: { pingInterval: 60_000 },
    peerDiscovery: discoveryOptions.peerDiscovery,
    services: { identify: identify(), ...discoveryOptions.services }
  })
  libp2p = node$
  ui.self.textContent = short(libp2p.peerId)
  ui.self.title = libp2p.peerId.toString()
  document.body.dataset.peerId = libp2p.peerId.toString()

  const discovery = mode === 'pubsub' ? libp2p.services.pubsubPeers : libp2p.services.wsStar
  discovery.addEventListener('peer', (evt) => addPeer(evt.detail.id, evt.detail.multiaddrs))
  discovery.addEventListener('peer:left', (evt) => peerLeft(evt.detail.id.toString(), evt.detail.reason))
  discovery.addEventListener('direct:error', (evt) => {
    addMessage('system', '', `No WebRTC connection to ${short(evt.detail.id)} (${evt.detail.error.message}): messages go through the relay`)
  })
  // Any connection opening or closing may change a peer's route.
  libp2p.addEventListener('connection:open', (evt) => routeChanged(evt.detail.remotePeer.toString()))
  libp2p.addEventListener('connection:close', (evt) => routeChanged(evt.detail.remotePeer.toString()))
  // Which addresses the node is reached at, for the curious (and the tests).
  const nodeConnectionsChanged = () => {
    const toNode = libp2p?.getConnections().filter((c) => c.status === 'open' && c.remotePeer.toString() === nodeId) ?? []
    document.body.dataset.nodeConnAddrs = toNode.map((c) => c.remoteAddr.toString()).join(' ')
  }
  libp2p.addEventListener('connection:open', nodeConnectionsChanged)
  libp2p.addEventListener('connection:close', nodeConnectionsChanged)
  discovery.addEventListener('join', () => {
    nodeConnectionsChanged()
    setStatus('connected', `Connected to node ${short(nodeId)} over ${transport.label} · ${mode} discovery`)
    ui.error.hidden = true
  })
  discovery.addEventListener('server:disconnected', (evt) => {
    setStatus('reconnecting', `Node unreachable · retrying in ${(evt.detail.retryIn / 1000).toFixed(1)} s`)
  })
  discovery.addEventListener('server:error', (evt) => showError(evt.detail.error))
  await handleMessages(libp2p, (from, text, connection) => {
    addMessage('in', `from ${short(from)}`, text, connection)
  })
}

/** Shows which discovery the page uses (or will use on Connect). */
function showDiscovery (mode) {
  const d = DISCOVERY[mode]
  document.body.dataset.discovery = mode
  ui.nsKind.textContent = d.nsKind
  const code = document.createElement('code')
  code.textContent = d.label
  ui.discoveryLabel.replaceChildren(code)
}

function addPeer (id, multiaddrs) {
  const key = id.toString()
  const addrs = multiaddrs.map(String)
  const existing = peers.get(key)
  if (existing !== undefined) {
    // An update: the peer's addresses changed, or it is listed again.
    existing.row.firstChild.dataset.addrs = addrs.join(' ')
    delete existing.row.firstChild.dataset.unlisted
    routeChanged(key)
    return
  }
  const row = document.createElement('li')
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'peer arrived'
  button.dataset.peerId = key
  button.setAttribute('aria-pressed', 'false')
  button.title = key
  const avatar = document.createElement('span')
  avatar.className = 'avatar'
  avatar.style.background = colourOf(key)
  const label = document.createElement('span')
  label.className = 'id'
  label.textContent = short(key)
  const via = document.createElement('span')
  via.className = 'via'
  button.append(avatar, label, via)
  button.dataset.addrs = addrs.join(' ')
  button.addEventListener('click', () => select(key))
  row.append(button)
  ui.peers.append(row)
  peers.set(key, { id, row })
  routeChanged(key)
  if (document.body.dataset.firstPeerMs === undefined) {
    // Time since navigation started: what a visitor waits for the first peer.
    document.body.dataset.firstPeerMs = performance.now().toFixed(0)
  }
  renderCount()
  addMessage('system', '', `${short(key)} joined`)
}

/** The connection chat uses for a peer: a direct one if open, else any open one. */
function connectionTo (id) {
  const open = libp2p?.getConnections(id).filter((c) => c.status === 'open') ?? []
  return open.find(isDirectConnection) ?? open[0]
}

/** Shows whether messages to the peer go direct (WebRTC) or through the relay. */
function routeChanged (key) {
  const peer = peers.get(key)
  if (peer === undefined) return
  const button = peer.row.firstChild
  const conn = connectionTo(peer.id)
  const direct = conn !== undefined && isDirectConnection(conn)
  const route = direct ? 'direct' : 'relayed'
  if (button.dataset.route !== undefined && button.dataset.route !== route) {
    addMessage('system', '', `${short(key)}: ${direct ? 'direct WebRTC connection' : 'back on the relay'}`)
  }
  button.dataset.route = route
  button.dataset.connAddr = conn?.remoteAddr.toString() ?? ''
  button.dataset.connections = String(libp2p?.getConnections(peer.id).filter((c) => c.status === 'open').length ?? 0)
  button.querySelector('.via').textContent = direct ? 'direct (WebRTC)' : 'relayed'
  // A peer the node no longer lists stays while the direct connection does.
  if (button.dataset.unlisted !== undefined && !direct) removePeer(key, 'unreachable')
}

function peerLeft (key, reason) {
  const peer = peers.get(key)
  if (peer === undefined) return
  const conn = connectionTo(peer.id)
  if (reason === 'unreachable' && conn !== undefined && isDirectConnection(conn)) {
    // The node went away, not the peer: the direct connection still works.
    peer.row.firstChild.dataset.unlisted = ''
    addMessage('system', '', `${short(key)} is no longer listed by the node; still connected directly`)
    return
  }
  removePeer(key, reason)
}

/**
 * The one transport that reaches the node at this address: a WebSocket
 * address needs a certificate (wss) or a plain-http page (ws); WebRTC-direct
 * and WebTransport addresses carry their /certhash and need neither. Only
 * that transport is configured, so the page shows that the node's discovery
 * and relay work over each on its own.
 */
function transportFor (node) {
  if (node.includes('/webrtc-direct')) return { name: 'webrtc-direct', label: 'WebRTC-direct', factory: webRTCDirect }
  if (node.includes('/webtransport')) return { name: 'webtransport', label: 'WebTransport', factory: webTransport }
  return { name: 'websockets', label: 'WebSockets', factory: webSockets }
}

function rtcConfiguration (node) {
  if (rtcParam !== null) return JSON.parse(rtcParam)
  // A node on this machine or the LAN needs no STUN server: host candidates
  // connect. Elsewhere @libp2p/webrtc's default public STUN servers apply.
  return /^\/(ip4\/(127\.|10\.|192\.168\.)|ip6\/::1\/|dns4?\/localhost\/)/.test(node) ? { iceServers: [] } : undefined
}

function removePeer (key, reason) {
  const peer = peers.get(key)
  if (peer === undefined) return
  peer.row.remove()
  peers.delete(key)
  if (selected === key) select(undefined)
  renderCount()
  if (reason !== undefined) addMessage('system', '', `${short(key)} ${reason === 'unreachable' ? 'is unreachable' : 'left'}`)
}

function select (key) {
  selected = key
  for (const [k, p] of peers) p.row.firstChild.setAttribute('aria-pressed', String(k === key))
  const on = key !== undefined
  ui.message.disabled = !on
  ui.send.disabled = !on
  ui.message.placeholder = on ? `Message to ${short(key)}` : 'Select a peer first'
  if (on) ui.message.focus()
}

function renderCount () {
  ui.count.textContent = String(peers.size)
  ui.peersEmpty.hidden = peers.size > 0
}

function addMessage (kind, meta, text, connection) {
  const li = document.createElement('li')
  li.className = `message ${kind}`
  if (connection !== undefined) {
    // Which connection carried it, for the curious (and the tests).
    li.dataset.route = isDirectConnection(connection) ? 'direct' : 'relayed'
    li.dataset.connAddr = connection.remoteAddr.toString()
    meta += li.dataset.route === 'direct' ? ' · direct' : ' · via relay'
  }
  if (meta !== '') {
    const m = document.createElement('span')
    m.className = 'meta'
    m.textContent = meta
    li.append(m)
  }
  li.append(document.createTextNode(text))
  ui.messages.append(li)
  ui.messages.scrollTop = ui.messages.scrollHeight
  ui.messagesEmpty.hidden = true
}

function setStatus (state, text) {
  ui.status.dataset.state = state
  ui.status.textContent = text
}

function showError (err) {
  ui.error.textContent = err?.message ?? String(err)
  ui.error.hidden = false
}

function fail (err) {
  setStatus('failed', 'Not connected')
  showError(err)
}

function short (id) {
  const s = id.toString()
  return `${s.slice(0, 8)}…${s.slice(-6)}`
}

// A stable colour per peer, so the same peer is recognisable across tabs.
function colourOf (key) {
  let h = 0
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0
  return `hsl(${h % 360} 65% 55%)`
}
