package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ws-star/rendezvous/cluster"
)

func TestClusterIsOffByDefault(t *testing.T) {
	c := Default()
	if c.Cluster.Enabled() {
		t.Fatal("the default configuration enables the cluster")
	}
	c.Cluster.NATSURL = "nats://n1:4222"
	if !c.Cluster.Enabled() {
		t.Error("nats_url does not enable the cluster")
	}
	c = Default()
	c.Cluster.Embedded.Listen = ":6222"
	if !c.Cluster.Enabled() {
		t.Error("embedded.listen does not enable the cluster")
	}
}

func TestClusterURLsSplitTheList(t *testing.T) {
	c := Cluster{NATSURL: " nats://n1:4222, ,tls://n2:4222 ,"}
	if got, want := c.URLs(), []string{"nats://n1:4222", "tls://n2:4222"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("URLs() = %q, want %q", got, want)
	}
	if got := (Cluster{}).URLs(); len(got) != 0 {
		t.Fatalf("URLs() of an empty nats_url = %q", got)
	}
}

func TestEffectiveReplicasFollowsTheServerCount(t *testing.T) {
	for _, tt := range []struct {
		name     string
		c        Cluster
		servers  int
		replicas int
	}{
		{"embedded alone", Cluster{Embedded: Embedded{Listen: ":6222"}}, 1, 1},
		{"embedded pair", Cluster{Embedded: Embedded{Listen: ":6222", Routes: []string{"b:6222"}}}, 2, 1},
		{"embedded three", Cluster{Embedded: Embedded{Listen: ":6222", Routes: []string{"b:6222", "c:6222"}}}, 3, 3},
		{"embedded five", Cluster{Embedded: Embedded{Listen: ":6222", Routes: []string{"b:1", "c:1", "d:1", "e:1"}}}, 5, 3},
		{"embedded explicit", Cluster{Limits: cluster.Limits{Replicas: 2}, Embedded: Embedded{Listen: ":6222", Routes: []string{"b:1", "c:1"}}}, 3, 2},
		{"external one url", Cluster{NATSURL: "nats://n1:4222"}, 1, 1},
		{"external three urls", Cluster{NATSURL: "nats://n1:4222,nats://n2:4222,nats://n3:4222"}, 3, 3},
		{"external explicit", Cluster{NATSURL: "nats://n1:4222", Limits: cluster.Limits{Replicas: 5}}, 1, 5},
		{"off", Cluster{}, 0, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.ServerCount(); got != tt.servers {
				t.Errorf("ServerCount() = %d, want %d", got, tt.servers)
			}
			if got := tt.c.EffectiveReplicas(); got != tt.replicas {
				t.Errorf("EffectiveReplicas() = %d, want %d", got, tt.replicas)
			}
		})
	}
}

func TestClusterStoreDirDefaultsBesideTheIdentityKey(t *testing.T) {
	for _, tt := range []struct{ keyFile, storeDir, want string }{
		{"identity.key", "", "cluster"},
		{"/var/lib/rendezvous/identity.key", "", "/var/lib/rendezvous/cluster"},
		{"data/id.key", "", filepath.Join("data", "cluster")},
		{"/var/lib/rendezvous/identity.key", "/srv/nats", "/srv/nats"},
	} {
		c := Default()
		c.Identity.KeyFile, c.Cluster.Embedded.StoreDir = tt.keyFile, tt.storeDir
		if got := c.ClusterStoreDir(); got != tt.want {
			t.Errorf("key %q, store_dir %q: ClusterStoreDir() = %q, want %q", tt.keyFile, tt.storeDir, got, tt.want)
		}
	}
}

func TestClusterCredentialFilesMustExist(t *testing.T) {
	dir := t.TempDir()
	creds, ca := filepath.Join(dir, "node.creds"), filepath.Join(dir, "ca.pem")
	for _, f := range []string{creds, ca} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c := Default()
	c.Cluster.NATSURL, c.Cluster.NATSCreds, c.Cluster.NATSTLSCA = "tls://n1:4222", creds, ca
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}

	c.Cluster.NATSCreds, c.Cluster.NATSTLSCA = filepath.Join(dir, "gone.creds"), dir
	var got []string
	for _, p := range problems(t, c.Validate()) {
		got = append(got, p.String())
	}
	want := []string{
		`cluster.nats_creds: "` + filepath.Join(dir, "gone.creds") + `": file not found`,
		`cluster.nats_tls_ca: "` + dir + `": is a directory, not a file`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestClusterProblemsAreAllReportedAtOnce(t *testing.T) {
	c := Default()
	c.Cluster.NATSURL = "nats://n1:4222,http://n2:4222"
	c.Cluster.NATSCreds = "testdata/no-such.creds"
	c.Cluster.Embedded.Listen = ":0"
	c.Cluster.Embedded.Routes = []string{"b:6222", "b:6222"}
	c.Cluster.Embedded.Name = "a b"
	c.Cluster.Bucket = ""
	c.Cluster.Replicas = 4 // three servers
	c.Cluster.LeaseTTL = Duration(1500 * time.Millisecond)

	var got []string
	for _, p := range problems(t, c.Validate()) {
		got = append(got, p.Path)
	}
	want := []string{
		"cluster.nats_url", // both modes
		"cluster.nats_url", // http://
		"cluster.nats_creds",
		"cluster.embedded.listen",
		"cluster.embedded.routes[1]",
		"cluster.embedded.name",
		"cluster.bucket",
		"cluster.replicas",
		"cluster.lease_ttl",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paths = %v\nwant    %v", got, want)
	}
}

// TestClusterErrorsNeverShowAPassword feeds URLs whose user information is
// secret to Validate: the error text must carry none of it, in any mode.
func TestClusterErrorsNeverShowAPassword(t *testing.T) {
	secrets := []string{"alice", "s3cret", "t0ken", "bob", "pw1", "pw2", "rol"}
	for _, tt := range []struct {
		name, url string
		embedded  bool
		shown     string // a value that must appear instead
	}{
		{"valid url in both modes", "nats://alice:s3cret@n1:4222", true, `"nats://***@n1:4222"`},
		{"bad port", "nats://alice:s3cret@n1:99999", false, `"nats://***@n1:99999"`},
		{"does not parse", "nats://alice:s3cret@n1:42 22", false, `"nats://***@n1:42 22"`},
		{"token", "tls://t0ken@n1", false, `"tls://***@n1"`},
		{"no scheme", "alice:s3cret@n1:4222", false, `"***@n1:4222"`},
		{"at in the password", "nats://ca@rol:s3cret@n1", false, `"nats://***@n1"`},
		{"comma in the password", "nats://bob:pw1,pw2@n1:4222", false, `"nats://***"`},
		{"comma in the password, both modes", "nats://bob:pw1,pw2@n1:4222", true, `"nats://***@n1:4222"`},
		{"second url", "nats://n1:4222,wss://bob:s3cret@n2", false, `"wss://***@n2"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Cluster.NATSURL = tt.url
			if tt.embedded {
				c.Cluster.Embedded.Listen = ":6222"
			}
			err := c.Validate()
			if err == nil {
				t.Fatal("no problem reported")
			}
			msg := err.Error()
			for _, s := range secrets {
				if strings.Contains(msg, s) {
					t.Errorf("error shows %q: %s", s, msg)
				}
			}
			if !strings.Contains(msg, tt.shown) {
				t.Errorf("error does not show %s: %s", tt.shown, msg)
			}
		})
	}
}

func TestRedactedURLHidesEveryUserInfo(t *testing.T) {
	c := Cluster{NATSURL: "nats://alice:s3cret@n1:4222,tls://t0ken@n2:4222,nats://n3:4222"}
	if got, want := c.RedactedURL(), "nats://***@n1:4222,tls://***@n2:4222,nats://n3:4222"; got != want {
		t.Fatalf("RedactedURL() = %q, want %q", got, want)
	}
}

func TestWrittenClusterConfigLoadsBackEqual(t *testing.T) {
	c := Default()
	embedded(&c, "10.0.0.2:6222", "10.0.0.3:6222")
	c.Cluster.Embedded.StoreDir = "/var/lib/rendezvous/nats"
	c.Cluster.Embedded.ClientListen = "127.0.0.1:4222"
	c.Cluster.Embedded.Name = "eu"
	c.Cluster.Bucket = "rdv"
	c.Cluster.Replicas = 3
	c.Cluster.LeaseTTL = Duration(5 * time.Second)
	path := filepath.Join(t.TempDir(), "c.json")
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("got  %+v\nwant %+v", got.Cluster, c.Cluster)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
}
