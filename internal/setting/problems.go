// Package setting holds what every configurable package shares: the
// Duration type of the configuration file and Problems, the list of invalid
// settings that a Limits.Validate method and the configuration's validation
// both report.
//
// A package's settings live in one Limits struct, whose fields carry the JSON
// keys of the package's section of the configuration file. Its Validate
// method reports every invalid field with its key as the path; the
// configuration embeds the struct and merges those problems under the
// section's name (Problems.Merge), so each bound is written once.
package setting

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Problem is one invalid setting.
type Problem struct {
	// Path is the JSON path, as "relay.max_reservations" or "listen[0]".
	Path string
	// Value is the offending value as written in JSON.
	Value string
	// Reason says what is wrong or what is allowed.
	Reason string
}

func (p Problem) String() string { return p.Path + ": " + p.Value + ": " + p.Reason }

// Problems collects invalid settings. Its methods check one value each and
// add a Problem when it is out of bounds; Err returns them as one error.
type Problems []Problem

// Error lists every problem, separated by "; ".
func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "; ")
}

// Err returns nil when there is no problem, else the problems as an error
// (of type Problems).
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// Has reports whether a problem with path was already added.
func (ps Problems) Has(path string) bool {
	for _, p := range ps {
		if p.Path == path {
			return true
		}
	}
	return false
}

// Add records a problem.
func (ps *Problems) Add(path, value, reason string) {
	*ps = append(*ps, Problem{Path: path, Value: value, Reason: reason})
}

// Merge adds the problems of err, an error returned by a Validate method,
// with prefix before each path ("wsstar." + "max_peers"). A path that had a
// problem before the merge keeps only that one, so that a check of the
// caller's own (as Derived) has the word on its setting. An error that is
// not a list of problems is added whole, under prefix.
func (ps *Problems) Merge(prefix string, err error) {
	if err == nil {
		return
	}
	var list Problems
	if !errors.As(err, &list) {
		ps.Add(strings.TrimSuffix(prefix, "."), "", err.Error())
		return
	}
	before := *ps
	for _, p := range list {
		p.Path = prefix + p.Path
		if !before.Has(p.Path) {
			*ps = append(*ps, p)
		}
	}
}

// NonEmpty requires a string with more than white space.
func (ps *Problems) NonEmpty(path, s string) {
	if strings.TrimSpace(s) == "" {
		ps.Add(path, strconv.Quote(s), "must not be empty")
	}
}

// IntRange requires lo <= n <= hi.
func (ps *Problems) IntRange(path string, n, lo, hi int) {
	switch {
	case n < lo:
		ps.Add(path, itoa(n), "must be at least "+itoa(lo))
	case n > hi:
		ps.Add(path, itoa(n), "must be at most "+itoa(hi))
	}
}

// Derived checks a limit whose 0 means "derived from capacity.peers".
func (ps *Problems) Derived(path string, n int) {
	switch {
	case n < 0:
		ps.Add(path, itoa(n), "must be 0 (derived from capacity.peers) or at least 1")
	case n > math.MaxInt32:
		ps.Add(path, itoa(n), "must be at most "+itoa(math.MaxInt32))
	}
}

// IntAtLeast requires n >= lo; note, when set, explains the bound.
func (ps *Problems) IntAtLeast(path string, n, lo int, note string) {
	if n < lo {
		ps.Add(path, itoa(n), withNote("must be at least "+itoa(lo), note))
	}
}

// Int64AtLeast is IntAtLeast for an int64.
func (ps *Problems) Int64AtLeast(path string, n, lo int64, note string) {
	if n < lo {
		ps.Add(path, strconv.FormatInt(n, 10), withNote("must be at least "+strconv.FormatInt(lo, 10), note))
	}
}

// DurRange requires lo <= d <= hi; note, when set, explains the bounds.
func (ps *Problems) DurRange(path string, d Duration, lo, hi time.Duration, note string) {
	switch {
	case d.D() < lo:
		ps.Add(path, QuoteDuration(d), withNote("must be at least "+FormatDuration(lo), note))
	case d.D() > hi:
		ps.Add(path, QuoteDuration(d), withNote("must be at most "+FormatDuration(hi), note))
	}
}

// Rate requires a positive, finite number of events per second.
func (ps *Problems) Rate(path string, r float64) {
	if !(r > 0) || math.IsInf(r, 0) {
		ps.Add(path, strconv.FormatFloat(r, 'g', -1, 64), "must be greater than 0 (events per second)")
	}
}

func withNote(reason, note string) string {
	if note == "" {
		return reason
	}
	return reason + " (" + note + ")"
}

func itoa(n int) string { return strconv.Itoa(n) }
