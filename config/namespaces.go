package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ws-star/rendezvous/protocols/wsstar"
	"github.com/ws-star/rendezvous/registry"
)

func (n Namespaces) validate(v *validator) {
	for i, p := range n.AllowPrefixes {
		if len(p) > registry.MaxNamespaceLen || !utf8.ValidString(p) {
			v.Add(fmt.Sprintf("namespaces.allow_prefixes[%d]", i), strconv.Quote(p), "must be at most "+itoa(registry.MaxNamespaceLen)+" bytes of UTF-8")
		}
	}
	v.IntRange("namespaces.max_members", n.MaxMembers, 0, math.MaxInt32)
	seen := make(map[string]bool, len(n.Overrides))
	for i, o := range n.Overrides {
		path := fmt.Sprintf("namespaces.overrides[%d]", i)
		switch {
		case !registry.ValidNamespace(o.Prefix):
			v.Add(path+".prefix", strconv.Quote(o.Prefix), "must be 1 to "+itoa(registry.MaxNamespaceLen)+" bytes of UTF-8")
		case seen[o.Prefix]:
			v.Add(path+".prefix", strconv.Quote(o.Prefix), "appears in an earlier override")
		case !n.allowed(o.Prefix):
			v.Add(path+".prefix", strconv.Quote(o.Prefix), "no namespace with this prefix is allowed by namespaces.allow_prefixes")
		}
		seen[o.Prefix] = true
		v.IntRange(path+".max_members", o.MaxMembers, 0, math.MaxInt32)
		v.IntRange(path+".max_view_size", o.MaxViewSize, 0, wsstar.MaxViewSize)
	}
}

// allowed reports whether some namespace starting with prefix is allowed.
func (n Namespaces) allowed(prefix string) bool {
	if len(n.AllowPrefixes) == 0 {
		return true
	}
	for _, a := range n.AllowPrefixes {
		if strings.HasPrefix(prefix, a) || strings.HasPrefix(a, prefix) {
			return true
		}
	}
	return false
}

// Policy is the namespace policy of every discovery protocol.
func (n Namespaces) Policy() registry.Policy {
	p := registry.Policy{AllowPrefixes: n.AllowPrefixes, MaxMembers: n.MaxMembers}
	for _, o := range n.Overrides {
		p.Overrides = append(p.Overrides, registry.Override{Prefix: o.Prefix, MaxMembers: o.MaxMembers, MaxViewSize: o.MaxViewSize})
	}
	return p
}
