package node

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/ws-star/rendezvous/config"
	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/registry"
)

// The admin API (docs/admin.md) answers operators on its own listener: the
// namespaces and their members, one peer's connections and memberships,
// disconnects and the deny list. Everything is JSON, including errors.

const (
	// maxAdminBody bounds a request body: the largest is a deny entry.
	maxAdminBody = 4 << 10
	// minAdminToken is the shortest token accepted: a guessable token on a
	// reachable port would hand out bans and disconnects.
	minAdminToken = 16
	// defaultMemberLimit and maxMemberLimit bound the members one namespace
	// query lists (?limit=).
	defaultMemberLimit = 1000
	maxMemberLimit     = 100000
)

// startAdmin serves the admin API when admin.addr is set.
func (n *Node) startAdmin() error {
	if n.cfg.Admin.Addr == "" {
		return nil
	}
	var token []byte
	if f := n.cfg.Admin.TokenFile; f != "" {
		t, err := readAdminToken(f)
		if err != nil {
			return err
		}
		token = t
	}
	return n.serve("admin", n.cfg.AdminListenAddr(), n.adminHandler(token))
}

func readAdminToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("admin.token_file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if len(t) < minAdminToken {
		return nil, fmt.Errorf("admin.token_file %s: the token must be at least %d characters", path, minAdminToken)
	}
	if len(t) > maxAdminBody {
		return nil, fmt.Errorf("admin.token_file %s: the token must be at most %d bytes", path, maxAdminBody)
	}
	return []byte(t), nil
}

// adminHandler routes the API; with a token, every request must carry it.
func (n *Node) adminHandler(token []byte) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/namespaces", n.adminNamespaces)
	mux.HandleFunc("GET /v1/namespaces/{ns}", n.adminNamespace)
	mux.HandleFunc("GET /v1/peers/{id}", n.adminPeer)
	mux.HandleFunc("POST /v1/peers/{id}/disconnect", n.adminDisconnect)
	mux.HandleFunc("GET /v1/deny", n.adminDenyList)
	mux.HandleFunc("POST /v1/deny", n.adminDeny)
	mux.HandleFunc("DELETE /v1/deny/{entry...}", n.adminUndeny)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path+" (see docs/admin.md)")
	})
	var h http.Handler = mux
	if token != nil {
		h = requireToken(token, mux)
	}
	return n.recoverHTTP(h)
}

// requireToken compares digests, so the comparison takes the same time
// whatever the length and content of what was sent.
func requireToken(token []byte, next http.Handler) http.Handler {
	want := sha256.Sum256(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rendezvous admin"`)
			adminError(w, http.StatusUnauthorized, "missing or wrong bearer token (Authorization: Bearer <token from admin.token_file>)")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func adminError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

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
		Reservation:   n.reservations.has(p),
		WSStarJoins:   []wsstar.Join{},
		Registrations: []RegistrationInfo{},
		Memberships:   []RegistrationInfo{},
		Denied:        n.deny.cur.Load().peer(p),
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
	if conns == 0 {
		adminError(w, http.StatusNotFound, "peer "+p.String()+" is not connected")
		return
	}
	if err := n.Host.Network().ClosePeer(p); err != nil {
		adminError(w, http.StatusInternalServerError, "disconnect: "+err.Error())
		return
	}
	n.log.Warn("admin: disconnected a peer", "peer", p, "connections", conns)
	writeJSON(w, http.StatusOK, map[string]any{"peer": p.String(), "closed": conns})
}

func (n *Node) adminDenyList(w http.ResponseWriter, _ *http.Request) {
	entries := n.deny.entries()
	if entries == nil {
		entries = []denyEntry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": entries, "file": n.cfg.Deny.File})
}

// denyRequest is the body of POST /v1/deny: exactly one of the two.
type denyRequest struct {
	Peer   string `json:"peer"`
	Subnet string `json:"subnet"`
}

func (n *Node) adminDeny(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAdminBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req denyRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			adminError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxAdminBody))
			return
		}
		adminError(w, http.StatusBadRequest, `body must be {"peer": "<peer ID>"} or {"subnet": "<CIDR>"}: `+err.Error())
		return
	}
	if dec.More() {
		adminError(w, http.StatusBadRequest, "body must hold one JSON object")
		return
	}
	var entry, kind string
	switch {
	case req.Peer != "" && req.Subnet == "":
		p, err := config.ParsePeerID(req.Peer)
		if err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("peer %q: %v", req.Peer, err))
			return
		}
		entry, kind = p.String(), denyPeer
	case req.Subnet != "" && req.Peer == "":
		pfx, err := config.ParseSubnet(req.Subnet)
		if err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf("subnet %q: %v", req.Subnet, err))
			return
		}
		entry, kind = pfx.String(), denySubnet
	default:
		adminError(w, http.StatusBadRequest, `body must name exactly one of "peer" and "subnet"`)
		return
	}
	added, closed, err := n.deny.add(entry, kind)
	if err != nil {
		adminError(w, http.StatusInternalServerError, "deny: "+err.Error())
		return
	}
	code := http.StatusOK
	if added {
		code = http.StatusCreated
	}
	writeJSON(w, code, map[string]any{
		"entry": entry, "kind": kind, "added": added, "closed": closed,
		// Without deny.file the ban lasts until the node restarts.
		"persisted": n.deny.persistent(),
	})
}

func (n *Node) adminUndeny(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("entry")
	entry, kind, err := parseDenyEntry(raw)
	if err != nil {
		adminError(w, http.StatusBadRequest, fmt.Sprintf("%q: %v", raw, err))
		return
	}
	switch err := n.deny.remove(entry, kind); {
	case errors.Is(err, errDenyNotFound):
		adminError(w, http.StatusNotFound, fmt.Sprintf("%s: %v", entry, err))
	case errors.Is(err, errDenyConfigured):
		adminError(w, http.StatusConflict, fmt.Sprintf("%s: %v", entry, err))
	case err != nil:
		adminError(w, http.StatusInternalServerError, "undeny: "+err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]any{"entry": entry, "kind": kind, "removed": true})
	}
}

// has reports whether p holds a relay reservation.
func (s *reservationSet) has(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.peers[p]
	return ok
}
