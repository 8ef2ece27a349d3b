package config

import (
	"path/filepath"
	"testing"
)

// BenchmarkLoadAndValidate reads and checks a complete default file, the
// work done once at startup.
func BenchmarkLoadAndValidate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "c.json")
	if err := Default().WriteFile(path); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := Load(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}
