package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Admin configures the operators' HTTP API (see docs/admin.md); off while
// Addr is empty.
type Admin struct {
	// Addr is host:port of the admin listener. An empty host (":9091")
	// listens on 127.0.0.1 only; any other non-loopback host needs TokenFile.
	Addr string `json:"addr"`
	// TokenFile holds the bearer token every request must carry; when empty,
	// requests need none (allowed on a loopback address only).
	TokenFile string `json:"token_file"`
}

// AdminListenAddr is the address the admin listener binds: Addr, with an
// empty host replaced by 127.0.0.1.
func (c Config) AdminListenAddr() string {
	host, port, err := net.SplitHostPort(c.Admin.Addr)
	if err != nil || host != "" {
		return c.Admin.Addr
	}
	return net.JoinHostPort("127.0.0.1", port)
}

func (c Config) validateAdmin(v *validator) {
	a := c.Admin
	if a.Addr == "" {
		return
	}
	if err := checkHostPort(a.Addr, false); err != nil {
		v.Add("admin.addr", strconv.Quote(a.Addr), err.Error())
		return
	}
	if a.TokenFile == "" && !isLoopbackHost(c.AdminListenAddr()) {
		v.Add("admin.addr", strconv.Quote(a.Addr), "a non-loopback admin address needs admin.token_file: the API can ban and disconnect peers")
	}
	for _, other := range []struct{ path, addr string }{{"metrics.addr", c.Metrics.Addr}, {"pprof.addr", c.Pprof.Addr}} {
		if other.addr != "" && other.addr == a.Addr {
			v.Add("admin.addr", strconv.Quote(a.Addr), "must differ from "+other.path)
		}
	}
}

// isLoopbackHost reports whether the host of host:port is a loopback IP or
// "localhost".
func isLoopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
