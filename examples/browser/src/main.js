// The demo page: a js-libp2p node in the browser that joins a namespace on a
// ws-star rendezvous node, lists the peers in it live and chats with them
// through the node's circuit relay.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { wsStar } from '@ws-star/libp2p-client'
import { createLibp2p } from 'libp2p'
import { handleMessages, sendMessage } from './chat.js'

const $ = (id) => document.getElementById(id)
const ui = {
  form: $('connect-form'),
  node: $('node-addr'),
  ns: $('namespace'),
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
ui.node.value = params.get('node') ?? ''
ui.ns.value = params.get('ns') ?? ui.ns.value
ui.nsLabel.textContent = ui.ns.value

ui.form.addEventListener('submit', (evt) => {
  evt.preventDefault()
  connect(ui.node.value.trim(), ui.ns.value.trim()).catch(fail)
})

ui.sendForm.addEventListener('submit', (evt) => {
  evt.preventDefault()
  const text = ui.message.value.trim()
  const peer = peers.get(selected)
  if (text === '' || peer === undefined || libp2p === undefined) return
  ui.send.disabled = true
  sendMessage(libp2p, peer.id, text).then(() => {
    addMessage('out', `to ${short(peer.id)}`, text)
    ui.message.value = ''
  }, (err) => {
    addMessage('system', '', `Could not reach ${short(peer.id)}: ${err.message}`)
  }).finally(() => { ui.send.disabled = selected === undefined })
})

// A link with ?node= connects straight away.
if (ui.node.value !== '') ui.form.requestSubmit()

async function connect (node, ns) {
  ui.error.hidden = true
  if (libp2p !== undefined) {
    const old = libp2p
    libp2p = undefined
    for (const id of [...peers.keys()]) removePeer(id)
    await old.stop()
  }
  ui.nsLabel.textContent = ns
  history.replaceState(null, '', `?${new URLSearchParams({ node, ns })}`)
  setStatus('connecting', 'Connecting…')

  const node$ = await createLibp2p({
    addresses: { listen: [] },
    transports: [webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The default browser gater refuses private and loopback addresses; this
    // page dials exactly the node the user named, wherever it runs.
    connectionGater: { denyDialMultiaddr: () => false },
    services: {
      identify: identify(),
      wsStar: wsStar({ servers: [node], namespaces: [ns] })
    }
  })
  libp2p = node$
  ui.self.textContent = short(libp2p.peerId)
  ui.self.title = libp2p.peerId.toString()
  document.body.dataset.peerId = libp2p.peerId.toString()

  const discovery = libp2p.services.wsStar
  discovery.addEventListener('peer', (evt) => addPeer(evt.detail.id, evt.detail.multiaddrs))
  discovery.addEventListener('peer:left', (evt) => removePeer(evt.detail.id.toString(), evt.detail.reason))
  const nodeId = node.slice(node.lastIndexOf('/') + 1)
  discovery.addEventListener('join', () => {
    setStatus('connected', `Connected to node ${short(nodeId)}`)
    ui.error.hidden = true
  })
  discovery.addEventListener('server:disconnected', (evt) => {
    setStatus('reconnecting', `Node unreachable · retrying in ${(evt.detail.retryIn / 1000).toFixed(1)} s`)
  })
  discovery.addEventListener('server:error', (evt) => showError(evt.detail.error))
  await handleMessages(libp2p, (from, text) => {
    addMessage('in', `from ${short(from)}`, text)
  })
}

function addPeer (id, multiaddrs) {
  const key = id.toString()
  const addrs = multiaddrs.map(String)
  const existing = peers.get(key)
  if (existing !== undefined) {
    // An update: the peer's addresses changed.
    showRoute(existing.row.firstChild, addrs)
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
  showRoute(button, addrs)
  button.addEventListener('click', () => select(key))
  row.append(button)
  ui.peers.append(row)
  peers.set(key, { id, row })
  if (document.body.dataset.firstPeerMs === undefined) {
    // Time since navigation started: what a visitor waits for the first peer.
    document.body.dataset.firstPeerMs = performance.now().toFixed(0)
  }
  renderCount()
  addMessage('system', '', `${short(key)} joined`)
}

function showRoute (button, addrs) {
  button.dataset.addrs = addrs.join(' ')
  const relayed = addrs.length > 0 && addrs.every((a) => a.includes('/p2p-circuit'))
  button.querySelector('.via').textContent = relayed ? 'via relay' : 'direct'
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

function addMessage (kind, meta, text) {
  const li = document.createElement('li')
  li.className = `message ${kind}`
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
