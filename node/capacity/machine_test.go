package capacity

import (
	"os"
	"path/filepath"
	"testing"
)

func TestContainerMemoryLimitIsReadAndNoLimitIsIgnored(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]uint64{
		"2147483648\n":          2 << 30,
		"max\n":                 0,
		"9223372036854771712\n": 0, // cgroup v1 without a limit
		"garbage":               0,
	} {
		path := filepath.Join(dir, "memory.max")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := readMemoryLimit(path); got != want {
			t.Errorf("%q: %d, want %d", content, got, want)
		}
	}
	if got := readMemoryLimit(filepath.Join(dir, "absent")); got != 0 {
		t.Errorf("missing file: %d", got)
	}
}
