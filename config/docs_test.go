package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestDocsDescribeEverySettingWithItsDefault keeps docs/config.md in step with
// the code: each JSON path must have a table row whose default column shows
// the value Default() has.
func TestDocsDescribeEverySettingWithItsDefault(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for line := range strings.SplitSeq(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		path := strings.Trim(strings.TrimSpace(cells[1]), "`")
		rows[path] = cells
	}
	for _, leaf := range leaves(reflect.ValueOf(Default()), "") {
		cells, ok := rows[leaf.path]
		if !ok {
			t.Errorf("docs/config.md has no row for %s", leaf.path)
			continue
		}
		want := "`" + leaf.json + "`"
		if got := strings.TrimSpace(cells[3]); got != want {
			t.Errorf("docs/config.md: %s default is %s, code says %s", leaf.path, got, want)
		}
	}
}

type leaf struct{ path, json string }

// leaves lists every setting of a config value with its JSON encoding.
func leaves(v reflect.Value, prefix string) []leaf {
	if v.Kind() == reflect.Struct && v.Type() != durationType {
		var out []leaf
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Anonymous && f.Tag.Get("json") == "" {
				// A package's Limits: its fields are the section's.
				out = append(out, leaves(v.Field(i), prefix)...)
				continue
			}
			name := jsonName(f)
			if prefix != "" {
				name = prefix + "." + name
			}
			out = append(out, leaves(v.Field(i), name)...)
		}
		return out
	}
	b, err := json.Marshal(v.Interface())
	if err != nil {
		panic(err)
	}
	s := strings.ReplaceAll(string(b), ",", ", ")
	return []leaf{{prefix, s}}
}

func TestDocsExamplesLoadAndValidate(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```json\n")[1:]
	if len(blocks) == 0 {
		t.Fatal("no JSON examples found")
	}
	for i, b := range blocks {
		example, _, _ := strings.Cut(b, "```")
		c, err := Load(writeTemp(t, example))
		if err != nil {
			t.Fatalf("example %d: %v", i+1, err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("example %d: %v", i+1, err)
		}
	}
}
