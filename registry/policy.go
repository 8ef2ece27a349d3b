package registry

import (
	"errors"
	"strings"
)

// Errors of the namespace policy; protocols map them to their status codes.
var (
	// ErrNamespaceNotAllowed: the namespace matches none of the allowed prefixes.
	ErrNamespaceNotAllowed = errors.New("registry: namespace not allowed")
	// ErrNamespaceFull: the namespace has its maximum of members.
	ErrNamespaceFull = errors.New("registry: namespace full")
)

// Policy says which namespaces may be used and how large each may grow. The
// zero Policy allows every namespace with no member cap of its own.
type Policy struct {
	// AllowPrefixes, when not empty, are the only namespace prefixes
	// accepted ("" among them allows everything).
	AllowPrefixes []string
	// MaxMembers caps the members of one namespace; 0 means no cap of its own
	// (Limits.MaxRegistrations still bounds it).
	MaxMembers int
	// Overrides replace MaxMembers and the view size for namespaces starting
	// with their prefix; the longest matching prefix wins.
	Overrides []Override
}

// Override is the policy of the namespaces starting with Prefix. A zero
// field keeps the general value.
type Override struct {
	Prefix     string
	MaxMembers int
	// MaxViewSize caps the live view size a /ws-star/1.0.0 Join may ask for.
	MaxViewSize int
}

// Check is the one namespace check of every protocol: ErrInvalidNamespace
// for a namespace no node serves (see ValidNamespace), ErrNamespaceNotAllowed
// for one this policy does not allow, nil otherwise. Register applies it;
// protocols call it for requests that do not register, such as a watch.
func (p Policy) Check(ns string) error {
	switch {
	case !ValidNamespace(ns):
		return ErrInvalidNamespace
	case !p.Allowed(ns):
		return ErrNamespaceNotAllowed
	}
	return nil
}

// Allowed reports whether ns may be joined or registered.
func (p Policy) Allowed(ns string) bool {
	if len(p.AllowPrefixes) == 0 {
		return true
	}
	for _, pre := range p.AllowPrefixes {
		if strings.HasPrefix(ns, pre) {
			return true
		}
	}
	return false
}

// MaxMembersOf is the member cap of ns, 0 for none.
func (p Policy) MaxMembersOf(ns string) int {
	if o, ok := p.override(ns); ok && o.MaxMembers > 0 {
		return o.MaxMembers
	}
	return p.MaxMembers
}

// MaxViewSizeOf is the largest view of ns, def unless an override sets one.
func (p Policy) MaxViewSizeOf(ns string, def int) int {
	if o, ok := p.override(ns); ok && o.MaxViewSize > 0 {
		return o.MaxViewSize
	}
	return def
}

func (p Policy) override(ns string) (Override, bool) {
	best, found := Override{}, false
	for _, o := range p.Overrides {
		if strings.HasPrefix(ns, o.Prefix) && (!found || len(o.Prefix) > len(best.Prefix)) {
			best, found = o, true
		}
	}
	return best, found
}
