package bench

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
)

func TestKeysFileIsReusedAndExtended(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	first, err := Keys(path, 3)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Keys(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range first {
		if !first[i].Equals(again[i]) {
			t.Fatalf("key %d changed between runs", i)
		}
	}
	third, err := Keys(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	if !again[4].Equals(third[4]) {
		t.Fatal("keys generated to extend the file were not stored")
	}
}

func TestKeysFileWithGarbageIsRefusedWithItsLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte("not base64!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Keys(path, 2)
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("err = %v, want one naming line 1", err)
	}
}

func TestProcSamplerReadsCPUAndRSSOfAProcess(t *testing.T) {
	s, err := ProcSampler{PID: os.Getpid()}.Sample()
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS == 0 || s.Goroutines != -1 {
		t.Errorf("sample = %+v, want an RSS and unknown goroutines", s)
	}
	if _, err := (ProcSampler{PID: -1}).Sample(); err == nil {
		t.Error("a process that does not exist was sampled")
	}
}

func FuzzReadKeys(f *testing.F) {
	k, _ := Keys("", 1)
	b, _ := crypto.MarshalPrivateKey(k[0])
	f.Add([]byte("not base64!\n"))
	f.Add([]byte(base64.StdEncoding.EncodeToString(b) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "keys")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		keys, err := readKeys(path, 4)
		if err == nil && len(keys) > 4 {
			t.Fatalf("read %d keys, asked for at most 4", len(keys))
		}
	})
}
