package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// DecodeError locates a problem in a configuration file.
type DecodeError struct {
	File string
	// Path is the JSON path of the offending key or value, as
	// "relay.max_reservations" or "listen[1]"; empty at the top level.
	Path string
	// Line and Column are 1-based; Column counts bytes.
	Line, Column int
	Msg          string
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Column)
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

var durationType = reflect.TypeFor[Duration]()

// decode fills c from data, keeping what data leaves out.
//
// encoding/json reports unknown keys and errors from UnmarshalJSON methods
// without a position, and matches keys case-insensitively. So the document is
// first walked token by token against the type of c: that pass reports every
// problem with its JSON path and position, and is stricter (exact key names,
// no duplicates, integers in range). Only then does encoding/json assign the
// values.
func decode(data []byte, c *Config) error {
	if err := check(data); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(c); err != nil {
		// Unreachable when the walker is in step with encoding/json; kept so a
		// mismatch is an error rather than a silently half-applied file.
		de := &DecodeError{Msg: err.Error()}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			de.Line, de.Column = lineCol(data, se.Offset)
		case errors.As(err, &te):
			de.Path = te.Field
			de.Line, de.Column = lineCol(data, te.Offset)
		}
		return de
	}
	return nil
}

// check walks data against the Config type, reporting the first problem.
func check(data []byte) error {
	w := &walker{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	w.dec.UseNumber()
	return w.root(reflect.TypeFor[Config]())
}

type walker struct {
	data []byte
	dec  *json.Decoder
}

func (w *walker) fail(path string, offset int64, format string, args ...any) error {
	line, col := lineCol(w.data, offset)
	return &DecodeError{Path: path, Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// next reads one token and returns it with the offset where it starts.
func (w *walker) next(path string) (json.Token, int64, error) {
	start := skipSeparators(w.data, w.dec.InputOffset())
	tok, err := w.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, 0, w.fail(path, se.Offset, "%s", strings.TrimPrefix(se.Error(), "json: "))
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, 0, w.fail(path, int64(len(w.data)), "unexpected end of file")
		default:
			return nil, 0, w.fail(path, start, "%v", err)
		}
	}
	return tok, start, nil
}

func (w *walker) root(t reflect.Type) error {
	tok, off, err := w.next("")
	if err != nil {
		if de := (*DecodeError)(nil); errors.As(err, &de) && de.Msg == "unexpected end of file" {
			de.Msg = "empty file: expected a JSON object"
		}
		return err
	}
	if tok != json.Delim('{') {
		return w.fail("", off, "expected a JSON object, found %s", describe(tok))
	}
	if err := w.object(t, ""); err != nil {
		return err
	}
	// Anything after the object (a second object, a stray brace) is an error:
	// it usually means a bad merge of two files.
	start := skipSeparators(w.data, w.dec.InputOffset())
	if _, err := w.dec.Token(); err != io.EOF {
		return w.fail("", start, "unexpected data after the top-level object")
	}
	return nil
}

// value checks one value of type t whose first token is tok.
func (w *walker) value(t reflect.Type, path string) error {
	tok, off, err := w.next(path)
	if err != nil {
		return err
	}
	if t == durationType {
		s, ok := tok.(string)
		if !ok {
			return w.fail(path, off, "duration must be a string such as \"30s\" or \"2h\", found %s", describe(tok))
		}
		if _, err := time.ParseDuration(s); err != nil {
			return w.fail(path, off, "invalid duration %q (use a unit: \"500ms\", \"30s\", \"2h\")", s)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			return w.fail(path, off, "expected an object, found %s", describe(tok))
		}
		return w.object(t, path)
	case reflect.Slice:
		if tok == nil {
			return nil // null empties a list
		}
		if tok != json.Delim('[') {
			return w.fail(path, off, "expected an array, found %s", describe(tok))
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, _, err := w.next(path) // ']'
		return err
	case reflect.String:
		if _, ok := tok.(string); !ok {
			return w.fail(path, off, "expected a string, found %s", describe(tok))
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			return w.fail(path, off, "expected true or false, found %s", describe(tok))
		}
	case reflect.Int, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return w.fail(path, off, "expected an integer, found %s", describe(tok))
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return w.fail(path, off, "%s is out of range", n)
			}
			return w.fail(path, off, "expected an integer, found %s", n)
		}
	case reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			return w.fail(path, off, "expected a number, found %s", describe(tok))
		}
		if f, err := strconv.ParseFloat(string(n), 64); err != nil || math.IsInf(f, 0) {
			return w.fail(path, off, "%s is out of range", n)
		}
	default:
		return w.fail(path, off, "unsupported field type %s", t)
	}
	return nil
}

// object checks the members of an object whose '{' has been read.
func (w *walker) object(t reflect.Type, path string) error {
	seen := make(map[string]bool)
	for w.dec.More() {
		tok, off, err := w.next(path)
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok { // the decoder reports a non-string key as a syntax error
			return w.fail(path, off, "expected a key, found %s", describe(tok))
		}
		kpath := key
		if path != "" {
			kpath = path + "." + key
		}
		f, ok := fieldByJSONName(t, key)
		if !ok {
			if near := nearKey(t, key); near != "" {
				return w.fail(kpath, off, "unknown key %q (did you mean %q?)", key, near)
			}
			return w.fail(kpath, off, "unknown key %q", key)
		}
		if seen[key] {
			return w.fail(kpath, off, "duplicate key %q", key)
		}
		seen[key] = true
		if err := w.value(f.Type, kpath); err != nil {
			return err
		}
	}
	_, _, err := w.next(path) // '}'
	return err
}

func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for _, f := range jsonFields(t) {
		if jsonName(f) == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonFields lists the members of the JSON object of struct type t: the
// fields of an embedded struct without a tag (a package's Limits) are
// promoted, as encoding/json does.
func jsonFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		out = append(out, f)
	}
	return out
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

// nearKey suggests the key that differs only in case, dashes or underscores.
func nearKey(t reflect.Type, key string) string {
	norm := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	for _, f := range jsonFields(t) {
		if n := jsonName(f); norm(n) == norm(key) {
			return n
		}
	}
	return ""
}

func describe(tok json.Token) string {
	switch v := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(v))
	case string:
		return fmt.Sprintf("string %q", v)
	case json.Number:
		return "number " + string(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return fmt.Sprint(tok)
}

// skipSeparators moves past whitespace and the ',' or ':' that the decoder
// leaves unread before the next token.
func skipSeparators(data []byte, off int64) int64 {
	for off < int64(len(data)) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
