package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rendezvous.json")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadErr(t *testing.T, content string) (*DecodeError, string) {
	t.Helper()
	path := writeTemp(t, content)
	_, err := Load(path)
	if err == nil {
		t.Fatalf("Load accepted %q", content)
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	if de.File != path || !strings.HasPrefix(err.Error(), path+":") {
		t.Errorf("error %q does not name the file %s", err, path)
	}
	return de, path
}

func TestLoadKeepsDefaultsForMissingKeys(t *testing.T) {
	c, err := Load(writeTemp(t, `{
  "relay": {"max_circuits": 4},
  "rendezvous": {"max_ttl": "24h"},
  "listen": ["/ip4/127.0.0.1/tcp/0/ws"]
}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Relay.MaxCircuits = 4
	want.Rendezvous.MaxTTL = Duration(24 * time.Hour)
	want.Listen = []string{"/ip4/127.0.0.1/tcp/0/ws"}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got  %+v\nwant %+v", c, want)
	}
}

func TestLoadRefusesUnknownKeyWithPathAndLine(t *testing.T) {
	de, _ := loadErr(t, `{
  "relay": {
    "enabled": true,
    "max_reservation": 10
  }
}`)
	if de.Path != "relay.max_reservation" || de.Line != 4 || de.Column != 5 {
		t.Fatalf("got %s:%d:%d, want relay.max_reservation at 4:5 (%v)", de.Path, de.Line, de.Column, de)
	}
	if !strings.Contains(de.Msg, `unknown key "max_reservation"`) {
		t.Errorf("msg = %q", de.Msg)
	}
}

func TestLoadRefusesKeysInTheWrongCase(t *testing.T) {
	// encoding/json alone would accept "Listen" for "listen".
	de, _ := loadErr(t, `{"Listen": []}`)
	if de.Path != "Listen" || !strings.Contains(de.Msg, `did you mean "listen"`) {
		t.Fatalf("got %v", de)
	}
	de, _ = loadErr(t, `{"wsstar": {"max-peers": 3}}`)
	if de.Path != "wsstar.max-peers" || !strings.Contains(de.Msg, `did you mean "max_peers"`) {
		t.Fatalf("got %v", de)
	}
}

func TestLoadRefusesDuplicateKeys(t *testing.T) {
	de, _ := loadErr(t, "{\"log\": {\"level\": \"info\",\n \"level\": \"debug\"}}")
	if de.Path != "log.level" || de.Line != 2 || de.Column != 2 || !strings.Contains(de.Msg, "duplicate") {
		t.Fatalf("got %v", de)
	}
}

func TestLoadRefusesBareNumberDuration(t *testing.T) {
	de, _ := loadErr(t, `{"rendezvous": {"min_ttl": 60}}`)
	if de.Path != "rendezvous.min_ttl" || de.Line != 1 || de.Column != 28 {
		t.Fatalf("got %s at %d:%d (%v)", de.Path, de.Line, de.Column, de)
	}
	if !strings.Contains(de.Msg, "duration must be a string") {
		t.Errorf("msg = %q", de.Msg)
	}
}

func TestLoadRefusesDurationWithoutUnit(t *testing.T) {
	de, _ := loadErr(t, `{"shutdown_timeout": "10"}`)
	if de.Path != "shutdown_timeout" || !strings.Contains(de.Msg, `invalid duration "10"`) {
		t.Fatalf("got %v", de)
	}
}

func TestLoadReportsTypeErrorsWithPath(t *testing.T) {
	tests := []struct {
		json, path, msg string
		line, col       int
	}{
		{`{"relay": {"max_circuits": "16"}}`, "relay.max_circuits", `expected an integer, found string "16"`, 1, 28},
		{`{"relay": {"max_circuits": 1.5}}`, "relay.max_circuits", "expected an integer, found 1.5", 1, 28},
		{`{"relay": {"limit_data": 1e30}}`, "relay.limit_data", "expected an integer", 1, 26},
		{`{"relay": {"max_circuits": 99999999999999999999}}`, "relay.max_circuits", "out of range", 1, 28},
		{`{"relay": {"enabled": "yes"}}`, "relay.enabled", "expected true or false", 1, 23},
		{`{"relay": true}`, "relay", "expected an object, found true", 1, 11},
		{`{"listen": "/ip4/0.0.0.0/tcp/1/ws"}`, "listen", "expected an array", 1, 12},
		{"{\"listen\": [\n  \"/ip4/0.0.0.0/tcp/1/ws\",\n  7\n]}", "listen[1]", "expected a string, found number 7", 3, 3},
		{`{"resources": {"conn_rate_per_ip": "fast"}}`, "resources.conn_rate_per_ip", "expected a number", 1, 36},
		{`{"resources": {"conn_rate_per_ip": 1e999}}`, "resources.conn_rate_per_ip", "out of range", 1, 36},
		{`{"log": {"level": null}}`, "log.level", "expected a string, found null", 1, 19},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			de, _ := loadErr(t, tt.json)
			if de.Path != tt.path || de.Line != tt.line || de.Column != tt.col || !strings.Contains(de.Msg, tt.msg) {
				t.Fatalf("got %s at %d:%d: %q; want %s at %d:%d containing %q",
					de.Path, de.Line, de.Column, de.Msg, tt.path, tt.line, tt.col, tt.msg)
			}
		})
	}
}

func TestLoadReportsSyntaxErrorsWithPosition(t *testing.T) {
	de, _ := loadErr(t, "{\n  \"log\": {\"level\": \"info\",}\n}")
	if de.Path != "log" || de.Line != 2 {
		t.Fatalf("got %v", de)
	}
	de, _ = loadErr(t, "{\"relay\": {\"enabled\": true}")
	if !strings.Contains(de.Msg, "unexpected end of file") {
		t.Fatalf("got %v", de)
	}
}

func TestLoadRefusesTrailingData(t *testing.T) {
	for _, tt := range []struct {
		content   string
		line, col int
	}{{"{}\n{}", 2, 1}, {"{} }", 1, 4}, {"{}x", 1, 3}} {
		de, _ := loadErr(t, tt.content)
		if de.Path != "" || de.Line != tt.line || de.Column != tt.col {
			t.Errorf("%q: got %v, want %d:%d", tt.content, de, tt.line, tt.col)
		}
	}
	// Trailing whitespace is fine.
	if _, err := Load(writeTemp(t, "{}\n\n  \t")); err != nil {
		t.Fatal(err)
	}
}

func TestLoadRefusesNonObjectAndEmptyFiles(t *testing.T) {
	de, _ := loadErr(t, "")
	if !strings.Contains(de.Msg, "empty file") {
		t.Errorf("empty: %v", de)
	}
	de, _ = loadErr(t, `["/ip4/0.0.0.0/tcp/1/ws"]`)
	if !strings.Contains(de.Msg, "expected a JSON object") {
		t.Errorf("array: %v", de)
	}
}

func TestLoadNullEmptiesAList(t *testing.T) {
	c, err := Load(writeTemp(t, `{"announce": null}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Announce) != 0 {
		t.Fatalf("announce = %v", c.Announce)
	}
}

func TestLoadRefusesOversizedFile(t *testing.T) {
	big := `{"listen": ["` + strings.Repeat("a", MaxFileSize) + `"]}`
	_, err := Load(writeTemp(t, big))
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadNamesMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.json")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
}

func TestWrittenDefaultConfigLoadsBackEqual(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rendezvous.json")
	if err := Default().WriteFile(path); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Fatalf("round trip changed the config:\ngot  %+v\nwant %+v", c, Default())
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "\n  \"announce\": [],\n") {
		t.Errorf("empty lists are not written as []:\n%s", data)
	}
	// No temporary file is left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

func TestWrittenCustomConfigLoadsBackEqual(t *testing.T) {
	c := Default()
	c.Listen = []string{"/ip4/127.0.0.1/tcp/443/tls/ws"}
	c.TLS = TLS{CertFile: "/etc/rdv/cert.pem", KeyFile: "/etc/rdv/key.pem"}
	c.Announce = []string{"/dns4/rdv.example.com/tcp/443/wss"}
	c.Relay.LimitDuration = Duration(90 * time.Second)
	c.Resources.ConnRatePerIP = 0.25
	c.Resources.TrustedSubnets = []string{"10.0.0.0/8"}
	c.Log.Format = "json"
	path := filepath.Join(t.TempDir(), "c.json")
	if err := c.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("got  %+v\nwant %+v", got, c)
	}
}

func TestWriteFileRefusesToOverwrite(t *testing.T) {
	path := writeTemp(t, "keep me")
	err := Default().WriteFile(path)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("err = %v, want fs.ErrExist", err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != "keep me" {
		t.Fatalf("file was changed to %q", data)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

func TestWriteFileReportsMissingDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "c.json")
	if err := Default().WriteFile(path); err == nil {
		t.Fatal("WriteFile succeeded in a missing directory")
	}
}

func TestDurationsAreWrittenWithoutZeroUnits(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                            "0s",
		100 * time.Millisecond:       "100ms",
		time.Minute:                  "1m",
		90 * time.Second:             "1m30s",
		time.Hour:                    "1h",
		2*time.Hour + 30*time.Minute: "2h30m",
		72 * time.Hour:               "72h",
		time.Hour + time.Second:      "1h0m1s",
		-time.Minute:                 "-1m",
	} {
		b, err := Duration(d).MarshalJSON()
		if err != nil || string(b) != `"`+want+`"` {
			t.Errorf("%v: got %s, %v; want %q", d, b, err, want)
		}
		var back Duration
		if err := back.UnmarshalJSON(b); err != nil || back.D() != d {
			t.Errorf("%v: read back as %v, %v", d, back.D(), err)
		}
	}
}
