package node

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/registry"
)

// The read-only views of the admin API, and disconnects.

// NamespaceSummary is one entry of GET /v1/namespaces.
type NamespaceSummary struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
	// Views is the number of open /ws-star/1.0.0 views (joins) of the
	// namespace on this node, watchers included.
	Views int `json:"views"`
}

func (n *Node) adminNamespaces(w http.ResponseWriter, _ *http.Request) {
	views := map[string]int{}
	if n.WSStar != nil {
		views = n.WSStar.NamespaceViews()
	}
	var out []NamespaceSummary
	for _, c := range n.stats.Namespaces() {
		out = append(out, NamespaceSummary{Name: c.Name, Members: c.Members, Views: views[c.Name]})
		delete(views, c.Name)
	}
	// Namespaces only watched: views but no member.
	for name, v := range views {
		out = append(out, NamespaceSummary{Name: name, Views: v})
	}
	slices.SortFunc(out, func(a, b NamespaceSummary) int { return strings.Compare(a.Name, b.Name) })
	if out == nil {
		out = []NamespaceSummary{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespaces": out})
}

// NamespaceDetail is GET /v1/namespaces/{ns}.
type NamespaceDetail struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
	Views   int    `json:"views"`
	// Truncated: List holds the oldest ?limit= members only.
	Truncated bool         `json:"truncated"`
	List      []MemberInfo `json:"list"`
}

// MemberInfo is one member in GET /v1/namespaces/{ns}.
type MemberInfo struct {
	Peer  string   `json:"peer"`
	Addrs []string `json:"addrs"`
	// Since is when the peer became a member, as this node learned it.
	Since time.Time `json:"since"`
	// Source is "live" while a /ws-star/1.0.0 stream holds the membership,
	// else "rendezvous" (a /rendezvous/1.0.0 registration).
	Source string `json:"source"`
	// Expires is the rendezvous registration's expiry, if there is one.
	Expires *time.Time `json:"expires,omitempty"`
	// Nodes are the cluster nodes serving the member (clustered only).
	Nodes []string `json:"nodes,omitempty"`
}

func (n *Node) memberInfo(m registry.Member) MemberInfo {
	mi := MemberInfo{Peer: m.Peer.String(), Addrs: []string{}, Since: m.Since.UTC(), Source: m.Source.String()}
	for _, a := range m.Addrs {
		mi.Addrs = append(mi.Addrs, a.String())
	}
	if !m.Expiry.IsZero() {
		e := m.Expiry.UTC()
		mi.Expires = &e
	}
	if n.Cluster != nil {
		mi.Nodes = n.Cluster.Holders(m.Namespace, m.Peer)
	}
	return mi
}

func (n *Node) adminNamespace(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	limit := defaultMemberLimit
	if s := r.URL.Query().Get("limit"); s != "" {
		l, err := strconv.Atoi(s)
		if err != nil || l < 1 || l > maxMemberLimit {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a number from 1 to %d", maxMemberLimit))
			return
		}
		limit = l
	}
	members, total := n.stats.NamespaceMembers(ns, limit)
	views := 0
	if n.WSStar != nil {
		views = n.WSStar.NamespaceViews()[ns]
	}
	if total == 0 && views == 0 {
		adminError(w, http.StatusNotFound, fmt.Sprintf("namespace %q has no members and no views", ns))
		return
	}
	list := make([]MemberInfo, 0, len(members))
	for _, m := range members {
		list = append(list, n.memberInfo(m))
	}
	writeJSON(w, http.StatusOK, NamespaceDetail{Name: ns, Members: total, Views: views, Truncated: len(list) < total, List: list})
}

// PeerInfo is GET /v1/peers/{id}.
type PeerInfo struct {
	Peer        string           `json:"peer"`
	Connections []ConnectionInfo `json:"connections"`
	// Reservation: the peer holds a relay reservation on this node.
	Reservation bool `json:"reservation"`
	// WSStarJoins are its /ws-star/1.0.0 joins on this node.
	WSStarJoins []wsstar.Join `json:"wsstar_joins"`
	// Registrations are its memberships through /rendezvous/1.0.0 (a TTL
	// hold), and Memberships all of them, whatever the protocol.
	Registrations []RegistrationInfo `json:"rendezvous_registrations"`
	Memberships   []RegistrationInfo `json:"memberships"`
	Denied        bool               `json:"denied"`
}

// ConnectionInfo is one connection of a peer.
type ConnectionInfo struct {
	Remote    string    `json:"remote_addr"`
	Local     string    `json:"local_addr"`
	Direction string    `json:"direction"`
	Opened    time.Time `json:"opened"`
}

// RegistrationInfo is one membership of a peer.
type RegistrationInfo struct {
	Namespace string     `json:"namespace"`
	Source    string     `json:"source"`
	Since     time.Time  `json:"since"`
	Expires   *time.Time `json:"expires,omitempty"`
}

func (n *Node) adminPeer(w http.ResponseWriter, r *http.Request) {
	p, ok := adminPeerID(w, r)
	if !ok {
		return
	}
	info := PeerInfo{
		Peer:          p.String(),
		Connections:   []ConnectionInfo{},
		Reservation:   n.reservations.Has(p),
		WSStarJoins:   []wsstar.Join{},
		Registrations: []RegistrationInfo{},
		Memberships:   []RegistrationInfo{},
		Denied:        n.deny.Denied(p),
	}
	for _, c := range n.Host.Network().ConnsToPeer(p) {
		st := c.Stat()
		info.Connections = append(info.Connections, ConnectionInfo{
			Remote: c.RemoteMultiaddr().String(), Local: c.LocalMultiaddr().String(),
			Direction: st.Direction.String(), Opened: st.Opened.UTC(),
		})
	}
	if n.WSStar != nil {
		info.WSStarJoins = append(info.WSStarJoins, n.WSStar.PeerJoins(p)...)
	}
	for _, m := range n.stats.PeerMemberships(p) {
		ri := RegistrationInfo{Namespace: m.Namespace, Source: m.Source.String(), Since: m.Since.UTC()}
		if !m.Expiry.IsZero() {
			e := m.Expiry.UTC()
			ri.Expires = &e
			info.Registrations = append(info.Registrations, ri)
		}
		info.Memberships = append(info.Memberships, ri)
	}
	if len(info.Connections) == 0 && len(info.Memberships) == 0 && !info.Denied {
		adminError(w, http.StatusNotFound, "peer "+p.String()+" is not connected and has no registrations")
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func adminPeerID(w http.ResponseWriter, r *http.Request) (peer.ID, bool) {
	s := r.PathValue("id")
	p, err := config.ParsePeerID(s)
	if err != nil {
		adminError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a peer ID", s))
		return "", false
	}
	return p, true
}

func (n *Node) adminDisconnect(w http.ResponseWriter, r *http.Request) {
	p, ok := adminPeerID(w, r)
	if !ok {
		return
	}
	conns := len(n.Host.Network().ConnsToPeer(p))
	if conns > 0 {
		if err := n.Host.Network().ClosePeer(p); err != nil {
			adminError(w, http.StatusInternalServerError, "disconnect: "+err.Error())
			return
		}
	}
	if n.Legacy != nil {
		// An old client's socket.io connection is not a libp2p one.
		conns += n.Legacy.Disconnect(p)
	}
	if conns == 0 {
		adminError(w, http.StatusNotFound, "peer "+p.String()+" is not connected")
		return
	}
	n.log.Warn("admin: disconnected a peer", "peer", p, "connections", conns)
	writeJSON(w, http.StatusOK, map[string]any{"peer": p.String(), "closed": conns})
}
