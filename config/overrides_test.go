package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func ptr[T any](v T) *T { return &v }

func TestFromEnvReadsEveryVariable(t *testing.T) {
	o, err := FromEnv(env(map[string]string{
		"PORT":                        "8080",
		"HOST":                        "127.0.0.1",
		"DISABLE_METRICS":             "true",
		"RENDEZVOUS_IDENTITY":         "/data/id.key",
		"RENDEZVOUS_ANNOUNCE":         " /dns4/a.example.com/tcp/443/wss , ,/ip4/192.0.2.1/tcp/9090/ws",
		"RENDEZVOUS_LOG_LEVEL":        "debug",
		"RENDEZVOUS_LOG_FORMAT":       "json",
		"RENDEZVOUS_METRICS_ADDR":     "127.0.0.1:9100",
		"RENDEZVOUS_NATS_URL":         "nats://n1:4222,nats://n2:4222",
		"RENDEZVOUS_CLUSTER_LISTEN":   ":6222",
		"RENDEZVOUS_CLUSTER_ROUTES":   "10.0.0.2:6222, ,10.0.0.3:6222 ",
		"RENDEZVOUS_CLUSTER_STORE":    "/data/nats",
		"RENDEZVOUS_ADMIN_ADDR":       "127.0.0.1:9091",
		"RENDEZVOUS_ADMIN_TOKEN_FILE": "/run/secrets/admin",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := Overrides{
		Host:           ptr("127.0.0.1"),
		Port:           ptr(8080),
		KeyFile:        ptr("/data/id.key"),
		Announce:       []string{"/dns4/a.example.com/tcp/443/wss", "/ip4/192.0.2.1/tcp/9090/ws"},
		MetricsAddr:    ptr("127.0.0.1:9100"),
		DisableMetrics: ptr(true),
		LogLevel:       ptr("debug"),
		LogFormat:      ptr("json"),
		NATSURL:        ptr("nats://n1:4222,nats://n2:4222"),
		ClusterListen:  ptr(":6222"),
		ClusterRoutes:  []string{"10.0.0.2:6222", "10.0.0.3:6222"},
		ClusterStore:   ptr("/data/nats"),
		AdminAddr:      ptr("127.0.0.1:9091"),
		AdminTokenFile: ptr("/run/secrets/admin"),
	}
	if !reflect.DeepEqual(o, want) {
		t.Fatalf("got  %+v\nwant %+v", o, want)
	}
}

func TestFromEnvWithNothingSetChangesNothing(t *testing.T) {
	o, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o, Overrides{}) {
		t.Fatalf("got %+v", o)
	}
	c := Default()
	if err := c.Apply(o); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatal("empty overrides changed the config")
	}
}

func TestDisableMetricsMeansWhatItSays(t *testing.T) {
	for _, tt := range []struct {
		value   string
		enabled bool
	}{
		{"true", false}, {"TRUE", false}, {"1", false}, {"yes", false}, {"on", false},
		// The legacy server disabled metrics for these too.
		{"0", true}, {"false", true}, {"False", true}, {"no", true}, {"off", true},
		{"", true},
	} {
		o, err := FromEnv(env(map[string]string{"DISABLE_METRICS": tt.value}))
		if err != nil {
			t.Fatalf("%q: %v", tt.value, err)
		}
		c := Default()
		if err := c.Apply(o); err != nil {
			t.Fatal(err)
		}
		if c.Metrics.Enabled != tt.enabled {
			t.Errorf("DISABLE_METRICS=%q: metrics.enabled = %v, want %v", tt.value, c.Metrics.Enabled, tt.enabled)
		}
	}
}

func TestFromEnvRefusesJunkNamingTheVariable(t *testing.T) {
	for _, tt := range []struct{ name, value string }{
		{"DISABLE_METRICS", "disabled"},
		{"DISABLE_METRICS", "2"},
		{"PORT", "http"},
		{"PORT", "65536"},
		{"PORT", "-1"},
	} {
		_, err := FromEnv(env(map[string]string{tt.name: tt.value}))
		if err == nil || !strings.Contains(err.Error(), tt.name+"=") {
			t.Errorf("%s=%q: err = %v, want one naming %s", tt.name, tt.value, err, tt.name)
		}
	}
}

func TestPrecedenceIsFileThenEnvThenFlags(t *testing.T) {
	c, err := Load(writeTemp(t, `{
  "identity": {"key_file": "from-file.key"},
  "log": {"level": "warn", "format": "json"},
  "metrics": {"addr": "127.0.0.1:9000"},
  "announce": ["/dns4/file.example.com/tcp/443/wss"]
}`))
	if err != nil {
		t.Fatal(err)
	}
	envO, err := FromEnv(env(map[string]string{
		"RENDEZVOUS_IDENTITY":     "from-env.key",
		"RENDEZVOUS_LOG_LEVEL":    "error",
		"RENDEZVOUS_METRICS_ADDR": "127.0.0.1:9100",
		"PORT":                    "7000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	flags := Overrides{LogLevel: ptr("debug"), Port: ptr(7001), RequireIdentity: ptr(true)}
	if err := c.Apply(envO.Merge(flags)); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ what, got, want string }{
		{"identity.key_file (env beats file)", c.Identity.KeyFile, "from-env.key"},
		{"log.level (flag beats env beats file)", c.Log.Level, "debug"},
		{"log.format (file beats default)", c.Log.Format, "json"},
		{"metrics.addr (env beats file)", c.Metrics.Addr, "127.0.0.1:9100"},
		{"announce (file, nothing overrides)", strings.Join(c.Announce, ","), "/dns4/file.example.com/tcp/443/wss"},
		{"listen (flag port beats env port)", strings.Join(c.Listen, ","), "/ip4/0.0.0.0/tcp/7001/ws,/ip4/0.0.0.0/udp/7001/webrtc-direct,/ip4/0.0.0.0/udp/7001/quic-v1/webtransport"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.what, ch.got, ch.want)
		}
	}
	if !c.Identity.RequireExisting {
		t.Error("identity.require_existing from the flag was not applied")
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestMergeLaterWinsFieldByField(t *testing.T) {
	a := Overrides{
		Host: ptr("127.0.0.1"), Port: ptr(1), KeyFile: ptr("a"), Announce: []string{"/ip4/1.2.3.4/tcp/1/ws"},
		CertFile: ptr("a.crt"), KeyFilePEM: ptr("a.pem"), MetricsAddr: ptr(":1"), DisableMetrics: ptr(true),
		LogLevel: ptr("info"), LogFormat: ptr("text"), RequireIdentity: ptr(false),
		NATSURL: ptr("nats://a:4222"), ClusterListen: ptr(":1"), ClusterRoutes: []string{"a:1"}, ClusterStore: ptr("a"), MaxPeers: ptr(100),
		NoWebRTCDirect: ptr(false), NoWebTransport: ptr(true), NoPubsub: ptr(true), AutoTLS: ptr(false), AdminAddr: ptr(":1"), AdminTokenFile: ptr("a"),
		NoLegacy: ptr(true), DisableCryptoChallenge: ptr(false), DisableStrictMultiaddr: ptr(true),
	}
	b := Overrides{
		Host: ptr("::1"), Port: ptr(2), KeyFile: ptr("b"), Announce: []string{},
		CertFile: ptr("b.crt"), KeyFilePEM: ptr("b.pem"), MetricsAddr: ptr(":2"), DisableMetrics: ptr(false),
		LogLevel: ptr("debug"), LogFormat: ptr("json"), RequireIdentity: ptr(true),
		NATSURL: ptr(""), ClusterListen: ptr(":2"), ClusterRoutes: []string{}, ClusterStore: ptr("b"), MaxPeers: ptr(200),
		NoWebRTCDirect: ptr(true), NoWebTransport: ptr(false), NoPubsub: ptr(false), AutoTLS: ptr(true), AdminAddr: ptr(":2"), AdminTokenFile: ptr("b"),
		NoLegacy: ptr(false), DisableCryptoChallenge: ptr(true), DisableStrictMultiaddr: ptr(false),
	}
	if got := a.Merge(b); !reflect.DeepEqual(got, b) {
		t.Errorf("a.Merge(b) = %+v, want b", got)
	}
	if got := a.Merge(Overrides{}); !reflect.DeepEqual(got, a) {
		t.Errorf("a.Merge(empty) = %+v, want a", got)
	}
	if got := (Overrides{}).Merge(a); !reflect.DeepEqual(got, a) {
		t.Errorf("empty.Merge(a) = %+v, want a", got)
	}
	// Every field takes part: a field added to Overrides but forgotten in
	// Merge makes this fail.
	rb := reflect.ValueOf(b)
	for i := range rb.NumField() {
		if rb.Field(i).IsNil() {
			t.Errorf("test value b leaves %s unset", rb.Type().Field(i).Name)
		}
	}
}

func TestApplyAnnounceReplacesAndEmptyClears(t *testing.T) {
	c := Default()
	c.Announce = []string{"/dns4/old.example.com/tcp/443/wss"}
	if err := c.Apply(Overrides{Announce: []string{"/dns4/new.example.com/tcp/443/wss"}}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Announce, ",") != "/dns4/new.example.com/tcp/443/wss" {
		t.Fatalf("announce = %v", c.Announce)
	}
	if err := c.Apply(Overrides{Announce: []string{}}); err != nil {
		t.Fatal(err)
	}
	if len(c.Announce) != 0 {
		t.Fatalf("announce = %v", c.Announce)
	}
}

func TestClusterOverridesReplaceOnlyWhatIsGiven(t *testing.T) {
	c, err := Load(writeTemp(t, `{"cluster": {"embedded": {
  "listen": "10.0.0.1:6222",
  "routes": ["10.0.0.2:6222"],
  "store_dir": "/file/nats",
  "name": "eu"
}}}`))
	if err != nil {
		t.Fatal(err)
	}
	envO, err := FromEnv(env(map[string]string{
		"RENDEZVOUS_CLUSTER_ROUTES": "10.0.0.3:6222,10.0.0.4:6222",
		"RENDEZVOUS_CLUSTER_STORE":  "/env/nats",
	}))
	if err != nil {
		t.Fatal(err)
	}
	flags := Overrides{ClusterListen: ptr("10.0.0.9:7222"), ClusterStore: ptr("/flag/nats")}
	if err := c.Apply(envO.Merge(flags)); err != nil {
		t.Fatal(err)
	}
	e := c.Cluster.Embedded
	checks := []struct{ what, got, want string }{
		{"embedded.listen (flag beats file)", e.Listen, "10.0.0.9:7222"},
		{"embedded.routes (env replaces the file's list)", strings.Join(e.Routes, ","), "10.0.0.3:6222,10.0.0.4:6222"},
		{"embedded.store_dir (flag beats env beats file)", e.StoreDir, "/flag/nats"},
		{"embedded.name (file, nothing overrides)", e.Name, "eu"},
		{"nats_url (default, nothing overrides)", c.Cluster.NATSURL, ""},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %q, want %q", ch.what, ch.got, ch.want)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	// An empty list (--cluster-routes "") clears the routes; an empty
	// string (--nats-url "") clears nats_url.
	c.Cluster.NATSURL = "nats://n1:4222"
	if err := c.Apply(Overrides{ClusterRoutes: []string{}, NATSURL: ptr("")}); err != nil {
		t.Fatal(err)
	}
	if len(c.Cluster.Embedded.Routes) != 0 || c.Cluster.NATSURL != "" {
		t.Fatalf("routes = %v, nats_url = %q", c.Cluster.Embedded.Routes, c.Cluster.NATSURL)
	}
}

func TestHostAndPortBuildTheListenAddress(t *testing.T) {
	for _, tt := range []struct {
		name       string
		host       *string
		port       *int
		cert, key  string
		fileListen []string
		want       string
	}{
		{name: "port only", port: ptr(8080), want: "/ip4/0.0.0.0/tcp/8080/ws"},
		{name: "host only", host: ptr("127.0.0.1"), want: "/ip4/127.0.0.1/tcp/9090/ws"},
		{name: "port zero for tests", host: ptr("127.0.0.1"), port: ptr(0), want: "/ip4/127.0.0.1/tcp/0/ws"},
		{name: "localhost", host: ptr("localhost"), port: ptr(1), want: "/ip4/127.0.0.1/tcp/1/ws"},
		{name: "ipv6 any", host: ptr("::"), port: ptr(9090), want: "/ip6/::/tcp/9090/ws"},
		{name: "ipv6 bracketed", host: ptr("[::1]"), port: ptr(9090), want: "/ip6/::1/tcp/9090/ws"},
		{name: "ipv4-mapped ipv6", host: ptr("::ffff:10.0.0.1"), port: ptr(9090), want: "/ip4/10.0.0.1/tcp/9090/ws"},
		{name: "tls cert and key", port: ptr(443), cert: "c.pem", key: "k.pem", want: "/ip4/0.0.0.0/tcp/443/tls/ws"},
		{name: "cert without key stays plain", port: ptr(443), cert: "c.pem", want: "/ip4/0.0.0.0/tcp/443/ws"},
		{name: "replaces every file address", port: ptr(5),
			fileListen: []string{"/ip4/0.0.0.0/tcp/1/ws", "/ip6/::/tcp/2/ws"}, want: "/ip4/0.0.0.0/tcp/5/ws"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			if tt.fileListen != nil {
				c.Listen = tt.fileListen
			}
			o := Overrides{Host: tt.host, Port: tt.port}
			if tt.cert != "" {
				o.CertFile = &tt.cert
			}
			if tt.key != "" {
				o.KeyFilePEM = &tt.key
			}
			if err := c.Apply(o); err != nil {
				t.Fatal(err)
			}
			if len(c.Listen) != 3 || c.Listen[0] != tt.want {
				t.Fatalf("listen = %v, want %s first", c.Listen, tt.want)
			}
			// The UDP listeners take the same host and port number.
			udp := strings.Replace(strings.TrimSuffix(strings.TrimSuffix(tt.want, "/tls/ws"), "/ws"), "/tcp/", "/udp/", 1)
			if c.Listen[1] != udp+"/webrtc-direct" || c.Listen[2] != udp+"/quic-v1/webtransport" {
				t.Fatalf("listen = %v, want %s/webrtc-direct and %s/quic-v1/webtransport after it", c.Listen, udp, udp)
			}
			if _, err := c.ListenAddrs(); err != nil {
				t.Fatal(err)
			}
			if c.UsesTLS() != strings.HasSuffix(tt.want, "/tls/ws") {
				t.Errorf("UsesTLS() = %v for %s", c.UsesTLS(), tt.want)
			}
		})
	}
}

func TestTLSFromFileMakesPortFlagListenOnTLS(t *testing.T) {
	c, err := Load(writeTemp(t, `{"tls": {"cert_file": "c.pem", "key_file": "k.pem"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(Overrides{Port: ptr(8443)}); err != nil {
		t.Fatal(err)
	}
	if got := c.Listen[0]; got != "/ip4/0.0.0.0/tcp/8443/tls/ws" {
		t.Fatalf("listen = %s", got)
	}
}

func TestNoWebRTCDirectAndNoWebTransportDropTheirListenersWhateverTheSource(t *testing.T) {
	for _, tt := range []struct {
		name       string
		fileListen []string
		o          Overrides
		want       []string
	}{
		{"defaults, no webrtc-direct", nil, Overrides{NoWebRTCDirect: ptr(true)},
			[]string{"/ip4/0.0.0.0/tcp/9090/ws", "/ip4/0.0.0.0/udp/9090/quic-v1/webtransport"}},
		{"port, no webtransport", nil, Overrides{Port: ptr(7), NoWebTransport: ptr(true)},
			[]string{"/ip4/0.0.0.0/tcp/7/ws", "/ip4/0.0.0.0/udp/7/webrtc-direct"}},
		{"both off leaves websockets", nil, Overrides{Host: ptr("::1"), NoWebRTCDirect: ptr(true), NoWebTransport: ptr(true)},
			[]string{"/ip6/::1/tcp/9090/ws"}},
		{"false keeps them", nil, Overrides{NoWebRTCDirect: ptr(false), NoWebTransport: ptr(false)}, Default().Listen},
		{"file list filtered too", []string{"/ip4/1.2.3.4/tcp/1/ws", "/ip4/1.2.3.4/udp/2/webrtc-direct", "/ip6/::/udp/2/webrtc-direct"},
			Overrides{NoWebRTCDirect: ptr(true)}, []string{"/ip4/1.2.3.4/tcp/1/ws"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			if tt.fileListen != nil {
				c.Listen = tt.fileListen
			}
			if err := c.Apply(tt.o); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Listen, tt.want) {
				t.Fatalf("listen = %v, want %v", c.Listen, tt.want)
			}
			if c.HasWebRTCDirect() != slices.ContainsFunc(tt.want, func(s string) bool { return strings.HasSuffix(s, "/webrtc-direct") }) {
				t.Errorf("HasWebRTCDirect() = %v for %v", c.HasWebRTCDirect(), c.Listen)
			}
			if c.HasWebTransport() != slices.ContainsFunc(tt.want, func(s string) bool { return strings.HasSuffix(s, "/webtransport") }) {
				t.Errorf("HasWebTransport() = %v for %v", c.HasWebTransport(), c.Listen)
			}
		})
	}
}

func TestNoWebRTCDirectAndNoWebTransportFromTheEnvironment(t *testing.T) {
	o, err := FromEnv(env(map[string]string{"RENDEZVOUS_NO_WEBRTC_DIRECT": "yes", "RENDEZVOUS_NO_WEBTRANSPORT": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	if o.NoWebRTCDirect == nil || !*o.NoWebRTCDirect || o.NoWebTransport == nil || *o.NoWebTransport {
		t.Fatalf("NoWebRTCDirect = %v, NoWebTransport = %v", o.NoWebRTCDirect, o.NoWebTransport)
	}
	if _, err := FromEnv(env(map[string]string{"RENDEZVOUS_NO_WEBTRANSPORT": "maybe"})); err == nil || !strings.Contains(err.Error(), "RENDEZVOUS_NO_WEBTRANSPORT") {
		t.Fatalf("bad boolean: %v", err)
	}
}

func TestNoPubsubFromTheEnvironmentTurnsPubsubOff(t *testing.T) {
	o, err := FromEnv(env(map[string]string{"RENDEZVOUS_NO_PUBSUB": "true"}))
	if err != nil {
		t.Fatal(err)
	}
	c := Default()
	if err := c.Apply(o); err != nil {
		t.Fatal(err)
	}
	if c.Pubsub.Enabled {
		t.Error("pubsub.enabled still true")
	}
	if err := c.Apply(Overrides{NoPubsub: ptr(false)}); err != nil || !c.Pubsub.Enabled {
		t.Errorf("NoPubsub false: enabled %v, err %v", c.Pubsub.Enabled, err)
	}
}

func TestApplyRefusesBadHostOrPortAndChangesNothing(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    Overrides
		want string
	}{
		{"dns name", Overrides{Host: ptr("rdv.example.com"), LogLevel: ptr("debug")}, `host "rdv.example.com"`},
		{"empty host", Overrides{Host: ptr("")}, `host ""`},
		{"ipv6 zone", Overrides{Host: ptr("fe80::1%eth0")}, "host"},
		{"port too big", Overrides{Port: ptr(65536), LogLevel: ptr("debug")}, "port 65536"},
		{"negative port", Overrides{Port: ptr(-1)}, "port -1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			err := c.Apply(tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !reflect.DeepEqual(c, Default()) {
				t.Error("a failed Apply changed the config")
			}
		})
	}
}
