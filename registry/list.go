package registry

import (
	"cmp"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// The accessors below serve operators (the node's admin API), not the
// protocols: they copy what they return under the lock, and cost a walk over
// what they list, which the protocols' paths never do.

// NamespaceCount is one namespace and its number of members.
type NamespaceCount struct {
	Name    string
	Members int
}

// Member is a registration with the time its peer became a member (on this
// registry: a shared backend's local copy learned it then).
type Member struct {
	Registration
	Since time.Time
}

// Namespaces returns every namespace with its member count, sorted by name.
func (m *Memory) Namespaces() []NamespaceCount {
	m.mu.Lock()
	defer m.unlock()
	m.expireLocked(time.Now())
	out := make([]NamespaceCount, 0, len(m.namespaces))
	for name, ns := range m.namespaces {
		out = append(out, NamespaceCount{Name: name, Members: len(ns.members)})
	}
	slices.SortFunc(out, func(a, b NamespaceCount) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// NamespaceMembers returns up to limit members of ns, oldest member first,
// and the namespace's total member count.
func (m *Memory) NamespaceMembers(ns string, limit int) (members []Member, total int) {
	m.mu.Lock()
	defer m.unlock()
	m.expireLocked(time.Now())
	n := m.namespaces[ns]
	if n == nil {
		return nil, 0
	}
	entries := make([]*entry, 0, len(n.list))
	entries = append(entries, n.list...)
	slices.SortFunc(entries, func(a, b *entry) int { return cmp.Compare(a.joined, b.joined) })
	entries = entries[:min(max(limit, 0), len(entries))]
	out := make([]Member, 0, len(entries))
	for _, e := range entries {
		out = append(out, Member{Registration: e.registration(), Since: time.Unix(0, e.joined)})
	}
	return out, len(n.list)
}

// PeerMemberships returns every membership of p, sorted by namespace.
func (m *Memory) PeerMemberships(p peer.ID) []Member {
	m.mu.Lock()
	defer m.unlock()
	m.expireLocked(time.Now())
	if m.peers[p] == 0 {
		return nil
	}
	var out []Member
	for _, ns := range m.namespaces {
		if e := ns.members[p]; e != nil {
			out = append(out, Member{Registration: e.registration(), Since: time.Unix(0, e.joined)})
		}
	}
	slices.SortFunc(out, func(a, b Member) int { return cmp.Compare(a.Namespace, b.Namespace) })
	return out
}
