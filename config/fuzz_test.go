package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary files to the decoder. It must never panic; what
// the strict walk accepts encoding/json must accept too (or a file would be
// half applied); a refusal must carry a position inside the file; and an
// accepted file must survive a write and read back unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"relay": {"max_circuits": 4, "acl": {"allow_peers": ["x"]}}, "rendezvous": {"min_ttl": "1m"}}`))
	f.Add([]byte(`{"listen": ["/ip4/0.0.0.0/tcp/1/ws", null], "announce": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Default()
		err := decode(data, &c)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is a %T, not a *DecodeError", err, err)
			}
			lines := bytes.Count(data, []byte{'\n'}) + 1
			if de.Line < 1 || de.Line > lines || de.Column < 1 {
				t.Fatalf("position %d:%d outside a %d-line file: %v", de.Line, de.Column, lines, err)
			}
			return
		}
		_ = c.Validate() // must not panic on anything that decodes
		_ = c.UsesTLS()

		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		back := Default()
		if err := decode(out, &back); err != nil {
			t.Fatalf("re-reading the encoded config: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(normalizeLists(back), normalizeLists(c)) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", back, c)
		}
	})
}

// normalizeLists treats nil and empty lists alike: JSON null and [] both mean
// an empty list.
func normalizeLists(c Config) Config { return c.withEmptyLists() }

// FuzzListenOverride checks that every host and port Apply accepts yields a
// listen address that parses and passes validation.
func FuzzListenOverride(f *testing.F) {
	f.Add("127.0.0.1", 0, false)
	f.Add("::", 443, true)
	f.Add("localhost", 9090, false)
	f.Add("rdv.example.com", 80, false)
	f.Fuzz(func(t *testing.T, host string, port int, tls bool) {
		c := Default()
		o := Overrides{Host: &host, Port: &port}
		if tls {
			o.CertFile, o.KeyFilePEM = ptr("c.pem"), ptr("k.pem")
		}
		if err := c.Apply(o); err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("host %q port %d gave listen %v: %v", host, port, c.Listen, err)
		}
		if c.UsesTLS() != tls {
			t.Fatalf("UsesTLS() = %v for %v", c.UsesTLS(), c.Listen)
		}
	})
}

// FuzzFromEnv checks that the environment parser never panics and that a
// port it accepts is in range.
func FuzzFromEnv(f *testing.F) {
	f.Add("9090", "true", "/ip4/1.2.3.4/tcp/1/ws,/dns4/x/tcp/443/wss")
	f.Add("-1", "0", "")
	f.Add("99999", "junk", ",,")
	f.Fuzz(func(t *testing.T, port, disable, announce string) {
		o, err := FromEnv(env(map[string]string{
			EnvPort: port, EnvDisableMetrics: disable, EnvAnnounce: announce,
		}))
		if err != nil {
			return
		}
		if o.Port != nil && (*o.Port < 0 || *o.Port > 65535) {
			t.Fatalf("accepted port %d", *o.Port)
		}
		for _, a := range o.Announce {
			if a == "" {
				t.Fatal("empty announce item")
			}
		}
	})
}
