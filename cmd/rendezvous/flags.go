package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ws-star/rendezvous/config"
)

// cliFlags holds the flags shared by run, init and id. Only flags given on
// the command line override the configuration.
type cliFlags struct {
	fs         *flag.FlagSet
	configPath string
	overrides  config.Overrides
	helpOut    io.Writer
}

type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// newFlags defines the flags; help goes to helpOut, errors are returned for
// the caller to print on one line.
func newFlags(helpOut io.Writer) *cliFlags {
	f := &cliFlags{fs: flag.NewFlagSet("rendezvous", flag.ContinueOnError), helpOut: helpOut}
	fs := f.fs
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.configPath, "config", "", "JSON configuration `file` (env RENDEZVOUS_CONFIG); see docs/config.md")
	fs.Int("port", 9090, "`port` for WebSockets (TCP) and for WebRTC-direct and WebTransport (UDP) (env PORT); 0 picks free ports")
	fs.String("host", "0.0.0.0", "IP `address` to listen on (env HOST); \"::\" for IPv6")
	fs.Bool("no-webrtc-direct", false, "do not listen for WebRTC-direct (drops /webrtc-direct from the listen addresses; env RENDEZVOUS_NO_WEBRTC_DIRECT=true)")
	fs.Bool("no-webtransport", false, "do not listen for WebTransport (drops /quic-v1/webtransport from the listen addresses; env RENDEZVOUS_NO_WEBTRANSPORT=true)")
	fs.Bool("no-pubsub", false, "do not run gossipsub (pubsub-peer-discovery and relayed topics; pubsub.enabled, env RENDEZVOUS_NO_PUBSUB=true)")
	fs.Bool("no-legacy", false, "do not serve the old ws-star clients at /socket.io/ (legacy.enabled, env RENDEZVOUS_NO_LEGACY=true)")
	fs.Bool("disableCryptoChallenge", false, "old clients may join without proving their key (legacy.crypto_challenge=false), as with the old server")
	fs.Bool("disableStrictMultiaddr", false, "old clients may join any address ending in /ipfs/<id> (legacy.strict_multiaddr=false), as with the old server")
	fs.String("identity", "identity.key", "private key `file`, created on first run (env RENDEZVOUS_IDENTITY)")
	fs.Bool("require-identity", false, "fail instead of creating a key when the identity file is missing")
	fs.Var(new(stringList), "announce", "advertise this `multiaddr` instead of the listen addresses; repeatable (env RENDEZVOUS_ANNOUNCE, comma separated)")
	fs.String("cert", "", "TLS certificate PEM `file`; with --key the port serves secure WebSockets (/tls/ws)")
	fs.String("key", "", "TLS private key PEM `file` (goes with --cert)")
	fs.Bool("autotls", false, "get and renew a *.libp2p.direct certificate for secure WebSockets on the WebSocket port (autotls.enabled, env RENDEZVOUS_AUTOTLS=true); the node must be reachable from the internet")
	fs.String("metrics-addr", "", "serve /metrics on this separate `host:port` instead of the node's port (env RENDEZVOUS_METRICS_ADDR)")
	fs.Bool("disable-metrics", false, "turn Prometheus metrics off (env DISABLE_METRICS=true)")
	fs.String("log-level", "info", "log `level`: debug, info, warn or error (env RENDEZVOUS_LOG_LEVEL)")
	fs.String("log-format", "text", "log `format`: text or json (env RENDEZVOUS_LOG_FORMAT)")
	fs.String("nats-url", "", "use this NATS cluster with JetStream for a shared registry: `urls`, comma separated (env RENDEZVOUS_NATS_URL)")
	fs.String("cluster-listen", "", "run NATS inside the node and take the other nodes' cluster connections on this `host:port` (env RENDEZVOUS_CLUSTER_LISTEN)")
	fs.String("cluster-routes", "", "cluster addresses (`host:port,...`) of the other nodes; replaces cluster.embedded.routes (env RENDEZVOUS_CLUSTER_ROUTES)")
	fs.String("cluster-store", "", "`directory` of the embedded JetStream files; default \"cluster\" beside the identity file (env RENDEZVOUS_CLUSTER_STORE)")
	fs.String("admin-addr", "", "serve the admin API on this `host:port` (admin.addr, env RENDEZVOUS_ADMIN_ADDR); see docs/admin.md")
	fs.String("admin-token-file", "", "`file` holding the admin API's bearer token (admin.token_file, env RENDEZVOUS_ADMIN_TOKEN_FILE); required off loopback")
	fs.Int("max-peers", 0, "peers the node is sized for; every limit left at 0 is derived from it (capacity.peers, env RENDEZVOUS_MAX_PEERS); 0 derives it from the open-file limit and memory")
	fs.Usage = func() {}
	return f
}

func (f *cliFlags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			printUsage(f.helpOut, f)
			return err
		}
		return usageErr("%v", err)
	}
	if f.fs.NArg() > 0 {
		return usageErr("unexpected argument %q", f.fs.Arg(0))
	}
	var err error
	f.fs.Visit(func(fl *flag.Flag) {
		if err != nil {
			return
		}
		v := fl.Value.String()
		o := &f.overrides
		switch fl.Name {
		case "port":
			p, perr := strconv.Atoi(v)
			if perr != nil {
				err = usageErr("--port: %q is not a number", v)
				return
			}
			o.Port = &p
		case "host":
			o.Host = &v
		case "no-webrtc-direct":
			b := v == "true"
			o.NoWebRTCDirect = &b
		case "no-webtransport":
			b := v == "true"
			o.NoWebTransport = &b
		case "no-pubsub":
			b := v == "true"
			o.NoPubsub = &b
		case "no-legacy":
			b := v == "true"
			o.NoLegacy = &b
		case "disableCryptoChallenge":
			b := v == "true"
			o.DisableCryptoChallenge = &b
		case "disableStrictMultiaddr":
			b := v == "true"
			o.DisableStrictMultiaddr = &b
		case "identity":
			o.KeyFile = &v
		case "require-identity":
			b := v == "true"
			o.RequireIdentity = &b
		case "announce":
			o.Announce = []string(*fl.Value.(*stringList))
		case "cert":
			o.CertFile = &v
		case "key":
			o.KeyFilePEM = &v
		case "autotls":
			b := v == "true"
			o.AutoTLS = &b
		case "metrics-addr":
			o.MetricsAddr = &v
		case "disable-metrics":
			b := v == "true"
			o.DisableMetrics = &b
		case "log-level":
			o.LogLevel = &v
		case "log-format":
			o.LogFormat = &v
		case "nats-url":
			o.NATSURL = &v
		case "cluster-listen":
			o.ClusterListen = &v
		case "cluster-routes":
			o.ClusterRoutes = config.SplitList(v)
		case "cluster-store":
			o.ClusterStore = &v
		case "admin-addr":
			o.AdminAddr = &v
		case "admin-token-file":
			o.AdminTokenFile = &v
		case "max-peers":
			n, perr := strconv.Atoi(v)
			if perr != nil {
				err = usageErr("--max-peers: %q is not a number", v)
				return
			}
			o.MaxPeers = &n
		}
	})
	return err
}

func printUsage(w io.Writer, f *cliFlags) {
	fmt.Fprint(w, `Usage:
  rendezvous [flags]          run the node
  rendezvous init [flags]     write a complete default config (--config, default rendezvous.json) and a key
  rendezvous id [flags]       print the peer ID and addresses without starting
  rendezvous health           probe /healthz of a local node (for container health checks)
  rendezvous admin <command>  query or act on a running node through its admin API (admin -h)
  rendezvous version          print the version

The node listens on /ip4/<host>/tcp/<port>/ws (/tls/ws with --cert and --key) and, on the
same UDP port number, /webrtc-direct and /quic-v1/webtransport; it prints its /p2p/ multiaddrs
(with their /certhash parts) on stdout, one a line (with --autotls, its /tls/sni/...libp2p.direct/ws
ones follow once the certificate is there), and serves /, /addrs.json, /healthz and /metrics over
HTTP on the WebSocket port. Precedence: defaults < config file < environment < flags.

Flags (both --port=9090 and --port 9090 work):
`)
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
}
