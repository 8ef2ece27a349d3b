package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Deny lists peers and subnets the node refuses to talk to (see
// docs/admin.md). The node refuses the union of these lists and of File.
type Deny struct {
	// Peers are peer IDs refused after the security handshake.
	Peers []string `json:"peers"`
	// Subnets are CIDRs refused as the connection is accepted.
	Subnets []string `json:"subnets"`
	// File is a JSON DenyList, reloaded when it changes and rewritten by the
	// admin API; empty means bans made through the API last until a restart.
	File string `json:"file"`
}

// DenyList is the content of deny.file.
type DenyList struct {
	Peers   []string `json:"peers"`
	Subnets []string `json:"subnets"`
}

// MaxDenyFileSize bounds deny.file: 16 MiB is over 200,000 entries.
const MaxDenyFileSize = 16 << 20

// ParsePeerID parses a peer ID as the configuration and the admin API take
// it.
func ParsePeerID(s string) (peer.ID, error) {
	p, err := peer.Decode(s)
	if err != nil {
		return "", errors.New("not a peer ID")
	}
	return p, nil
}

// ParseSubnet parses a CIDR subnet such as 10.0.0.0/8 or fd00::/8. Host bits
// must be clear, so that what an operator wrote is what is matched.
func ParseSubnet(s string) (netip.Prefix, error) {
	pfx, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not a CIDR subnet such as 10.0.0.0/8 or fd00::/8")
	}
	if pfx != pfx.Masked() {
		return netip.Prefix{}, fmt.Errorf("has host bits set; did you mean %s?", pfx.Masked())
	}
	return pfx, nil
}

// ParsePeerIDs parses a list of peer IDs; errors name path[i].
func ParsePeerIDs(path string, ss []string) ([]peer.ID, error) {
	out := make([]peer.ID, 0, len(ss))
	for i, s := range ss {
		p, err := ParsePeerID(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %q: %w", path, i, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// ValidSubnets parses a list of subnets that Validate has accepted (an entry
// it would refuse is left out).
func ValidSubnets(ss []string) []netip.Prefix {
	out, _ := ParseSubnets("", ss)
	return out
}

// ParseSubnets parses a list of CIDR subnets; errors name path[i].
func ParseSubnets(path string, ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for i, s := range ss {
		p, err := ParseSubnet(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %q: %w", path, i, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func (c Config) validateDeny(v *validator) {
	v.peers("deny.peers", c.Deny.Peers)
	v.subnets("deny.subnets", c.Deny.Subnets)
}

func (v *validator) peers(path string, ss []string) {
	for i, s := range ss {
		if _, err := ParsePeerID(s); err != nil {
			v.Add(fmt.Sprintf("%s[%d]", path, i), strconv.Quote(s), err.Error())
		}
	}
}

// LoadDenyFile reads a deny file; a missing file is an empty list. Every
// entry is checked, so a node never runs with half a list.
func LoadDenyFile(path string) (DenyList, error) {
	data, err := readBounded(path, MaxDenyFileSize)
	if errors.Is(err, fs.ErrNotExist) {
		return DenyList{Peers: []string{}, Subnets: []string{}}, nil
	}
	if err != nil {
		return DenyList{}, fmt.Errorf("deny file: %w", err)
	}
	var l DenyList
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		return DenyList{}, fmt.Errorf("deny file %s: %w", path, err)
	}
	if d.More() {
		return DenyList{}, fmt.Errorf("deny file %s: data after the JSON object", path)
	}
	if _, err := ParsePeerIDs("peers", l.Peers); err != nil {
		return DenyList{}, fmt.Errorf("deny file %s: %w", path, err)
	}
	if _, err := ParseSubnets("subnets", l.Subnets); err != nil {
		return DenyList{}, fmt.Errorf("deny file %s: %w", path, err)
	}
	if l.Peers == nil {
		l.Peers = []string{}
	}
	if l.Subnets == nil {
		l.Subnets = []string{}
	}
	return l, nil
}

// WriteDenyFile replaces the deny file atomically: a reader (this node's
// reload, or an operator's tool) sees the old list or the new one, and a
// crash leaves one of them.
func WriteDenyFile(path string, l DenyList) error {
	if l.Peers == nil {
		l.Peers = []string{}
	}
	if l.Subnets == nil {
		l.Subnets = []string{}
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("deny file: encode: %w", err)
	}
	data = append(data, '\n')
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("deny file: %w", err)
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // no-op once renamed
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmpName, path)
	}
	if err != nil {
		return fmt.Errorf("deny file %s: %w", path, err)
	}
	return nil
}
