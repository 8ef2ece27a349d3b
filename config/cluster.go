package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ws-star/rendezvous/cluster"
)

// Bounds of the cluster section.
const (
	// MaxReplicas is JetStream's largest replica count for a stream.
	MaxReplicas = cluster.MaxReplicas
	// MaxNATSNameLen bounds cluster.bucket and cluster.embedded.name.
	MaxNATSNameLen = cluster.MaxNameLen
	// MinSyncInterval and MaxSyncInterval bound cluster.embedded.sync_interval:
	// below a second sync_always says it better; beyond 10 min the window
	// of writes a power loss can take grows past any use.
	MinSyncInterval = time.Second
	MaxSyncInterval = 10 * time.Minute
)

// Enabled reports whether the node shares its registry through NATS.
func (c Cluster) Enabled() bool { return c.NATSURL != "" || c.Embedded.Listen != "" }

// URLs splits nats_url into its servers.
func (c Cluster) URLs() []string { return SplitList(c.NATSURL) }

// RedactedURL is nats_url with the user and password of every server
// replaced by ***, for logs and errors.
func (c Cluster) RedactedURL() string { return redactURL(c.NATSURL) }

// ServerCount is the number of NATS servers: in embedded mode this node plus
// its routes; in external mode the URLs given, which is only a hint since a
// client learns the rest of the cluster from the servers.
func (c Cluster) ServerCount() int {
	if c.Embedded.Listen != "" {
		return 1 + len(c.Embedded.Routes)
	}
	return len(c.URLs())
}

// EffectiveReplicas is the bucket's replica count: replicas when set, else 3
// with three or more servers (one may fail without losing the registry),
// else 1.
func (c Cluster) EffectiveReplicas() int {
	switch {
	case c.Replicas > 0:
		return c.Replicas
	case c.ServerCount() >= 3:
		return 3
	}
	return 1
}

// ClusterStoreDir is where the embedded NATS server keeps JetStream's files:
// cluster.embedded.store_dir, or "cluster" beside the identity key, which is
// already the node's one persistent directory.
func (c Config) ClusterStoreDir() string {
	if d := c.Cluster.Embedded.StoreDir; d != "" {
		return d
	}
	return filepath.Join(filepath.Dir(c.Identity.KeyFile), "cluster")
}

func (c Cluster) validate(v *validator) {
	external, embedded := c.NATSURL != "", c.Embedded.Listen != ""
	if external && embedded {
		v.Add("cluster.nats_url", strconv.Quote(redactURL(c.NATSURL)),
			"set either cluster.nats_url (external NATS) or cluster.embedded.listen (embedded), not both")
	}
	if external {
		urls := c.URLs()
		if len(urls) == 0 {
			v.Add("cluster.nats_url", strconv.Quote(c.NATSURL), "lists no URL")
		}
		for _, u := range urls {
			if err := checkNATSURL(u); err != nil {
				// The value may hold a password: never echo it.
				shown := redactURL(u)
				if !strings.Contains(u, "@") && strings.Contains(c.NATSURL, "@") {
					// A comma in a password splits one URL in two; this
					// item may be the head of one, user and password included.
					shown = "***"
					if scheme, _, ok := strings.Cut(u, "://"); ok {
						shown = scheme + "://***"
					}
				}
				v.Add("cluster.nats_url", strconv.Quote(shown), err.Error())
			}
		}
	}
	for _, f := range []struct{ path, file string }{
		{"cluster.nats_creds", c.NATSCreds},
		{"cluster.nats_tls_ca", c.NATSTLSCA},
	} {
		switch {
		case f.file == "":
		case !external:
			v.Add(f.path, strconv.Quote(f.file), "needs cluster.nats_url (used with an external NATS cluster only)")
		default:
			if err := checkFile(f.file); err != nil {
				v.Add(f.path, strconv.Quote(f.file), err.Error())
			}
		}
	}

	e := c.Embedded
	needs := "needs cluster.embedded.listen"
	if embedded {
		if err := checkClusterAddr(e.Listen, false); err != nil {
			v.Add("cluster.embedded.listen", strconv.Quote(e.Listen), err.Error())
		}
	}
	if !embedded && len(e.Routes) > 0 {
		list, _ := json.Marshal(e.Routes)
		v.Add("cluster.embedded.routes", string(list), needs)
		e.Routes = nil // one problem is enough
	}
	seen := map[string]bool{}
	for i, r := range e.Routes {
		path := fmt.Sprintf("cluster.embedded.routes[%d]", i)
		switch err := checkClusterAddr(r, true); {
		case err != nil:
			v.Add(path, strconv.Quote(r), err.Error())
		case r == e.Listen:
			v.Add(path, strconv.Quote(r), "must not be cluster.embedded.listen: list the other nodes only")
		case seen[r]:
			// It would count twice towards the servers that size replicas.
			v.Add(path, strconv.Quote(r), "listed twice")
		}
		seen[r] = true
	}
	if !embedded && e.StoreDir != "" {
		v.Add("cluster.embedded.store_dir", strconv.Quote(e.StoreDir), needs)
	}
	if e.ClientListen != "" {
		switch err := checkHostPort(e.ClientListen, false); {
		case !embedded:
			v.Add("cluster.embedded.client_listen", strconv.Quote(e.ClientListen), needs)
		case err != nil:
			v.Add("cluster.embedded.client_listen", strconv.Quote(e.ClientListen), err.Error())
		case e.ClientListen == e.Listen:
			v.Add("cluster.embedded.client_listen", strconv.Quote(e.ClientListen), "must differ from cluster.embedded.listen")
		}
	}
	if !embedded && e.Name != "" && e.Name != Default().Cluster.Embedded.Name {
		v.Add("cluster.embedded.name", strconv.Quote(e.Name), needs)
	} else {
		v.natsName("cluster.embedded.name", e.Name)
	}

	def := Default().Cluster.Embedded
	switch si := e.SyncInterval.D(); {
	case !embedded && si != def.SyncInterval.D():
		v.Add("cluster.embedded.sync_interval", strconv.Quote(e.SyncInterval.String()), needs)
	case si < MinSyncInterval || si > MaxSyncInterval:
		v.Add("cluster.embedded.sync_interval", strconv.Quote(e.SyncInterval.String()),
			fmt.Sprintf("must be from %s to %s", Duration(MinSyncInterval), Duration(MaxSyncInterval)))
	}
	if !embedded && e.SyncAlways {
		v.Add("cluster.embedded.sync_always", "true", needs)
	}

	v.Merge("cluster.", c.Limits.Validate())
	if n := c.ServerCount(); embedded && c.Replicas > n && c.Replicas <= MaxReplicas {
		// In the order of the keys: before any lease_ttl problem.
		at := slices.IndexFunc(v.Problems, func(p Problem) bool { return p.Path == "cluster.lease_ttl" })
		if at < 0 {
			at = len(v.Problems)
		}
		v.Problems = slices.Insert(v.Problems, at, Problem{Path: "cluster.replicas", Value: itoa(c.Replicas),
			Reason: fmt.Sprintf("more replicas than servers (%d): this node and cluster.embedded.routes", n)})
	}
}

// checkNATSURL accepts what nats.go dials: nats, tls, ws or wss with a host
// and a port. Its errors never quote the URL, which may hold a password.
func checkNATSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL such as nats://host:4222")
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return errors.New("scheme must be nats://, tls://, ws:// or wss://")
	}
	if u.Hostname() == "" {
		return errors.New("must name a host, as nats://host:4222")
	}
	if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
		return errors.New("must give a port from 1 to 65535, as nats://host:4222")
	}
	return nil
}

// checkClusterAddr accepts host:port with a port from 1 to 65535: the other
// nodes must know the port, so 0 (any free port) is refused. With dialed, the
// host must be given too.
func checkClusterAddr(addr string, dialed bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("must be host:port")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return errors.New("port must be a number from 1 to 65535 (not 0: the other nodes must know it)")
	}
	if dialed && host == "" {
		return errors.New("must name a host: the node dials it")
	}
	return nil
}

// checkFile reports a file that cannot be opened, before the node connects.
func checkFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("file not found")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("permission denied")
	case err != nil:
		return errors.New("cannot read the file")
	case fi.IsDir():
		return errors.New("is a directory, not a file")
	}
	return nil
}

// natsName accepts a NATS cluster name.
func (v *validator) natsName(path, s string) {
	if reason := cluster.NameProblem(s); reason != "" {
		v.Add(path, strconv.Quote(s), reason)
	}
}

// redactURL replaces the user information of URLs (user:password@ or
// token@) with ***@. It works on the text, from each @ back to the "://"
// before it, so that a URL that does not parse, or a password with a comma
// in a list, loses it too.
func redactURL(s string) string {
	var b strings.Builder
	for {
		at := strings.IndexByte(s, '@')
		if at < 0 {
			b.WriteString(s)
			break
		}
		start := 0
		if i := strings.LastIndex(s[:at], "://"); i >= 0 {
			start = i + 3
		}
		b.WriteString(s[:start])
		if !strings.HasSuffix(b.String(), "***@") { // a password with an @
			b.WriteString("***@")
		}
		s = s[at+1:]
	}
	return b.String()
}
