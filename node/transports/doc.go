// Package transports holds what the node adds around go-libp2p's
// transports: the WebSocket transport behind the PROXY protocol, the TLS
// certificate reloaded from disk, the WebRTC-direct and WebTransport
// listeners and the ranking of their addresses, the WebRTC-direct
// connection cap, the chain of connection gaters, and the check that every
// configured listener really listens. The node assembles them into its host.
package transports
