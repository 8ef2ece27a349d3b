package node

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ws-star/rendezvous/internal/promtext"
)

// This file pulls the series selectors out of the PromQL expressions of the
// Grafana dashboard (deploy/grafana/rendezvous.json), so that
// TestEveryDashboardQueryNamesSeriesTheNodeExposes can hold them against a
// node's /metrics. It is a tokenizer, not a parser: it knows PromQL's
// functions, aggregations and keywords, skips label lists (by, without, on,
// ignoring, group_left, group_right), ranges and subqueries, numbers,
// durations and strings, and reads every other identifier as a metric name,
// with the label matchers in braces after it. Prometheus's own parser would
// do the same at the price of a large dependency.

// selector is one vector selector of an expression.
type selector struct {
	metric   string
	matchers []matcher
}

type matcher struct {
	label, op, value string
}

// promqlFuncs are PromQL's functions and aggregation operators: an
// identifier followed by "(" must be one of them.
var promqlFuncs = setOf(
	// aggregations
	"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
	"bottomk", "topk", "quantile", "limitk", "limit_ratio",
	// functions
	"abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
	"day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor",
	"histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev",
	"histogram_stdvar", "histogram_sum", "holt_winters", "double_exponential_smoothing", "hour", "idelta",
	"increase", "irate", "label_join", "label_replace", "ln", "log2", "log10", "minute", "month",
	"predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort", "sort_desc", "sort_by_label",
	"sort_by_label_desc", "sqrt", "time", "timestamp", "vector", "year",
	"avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
	"quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time", "present_over_time",
	"mad_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "sin", "sinh",
	"tan", "tanh", "deg", "rad", "pi",
)

// promqlLabelLists are keywords followed by a parenthesised list of label
// names (group_left and group_right may also stand alone).
var promqlLabelLists = setOf("by", "without", "on", "ignoring", "group_left", "group_right")

// promqlKeywords are the other bare words an expression may hold.
var promqlKeywords = setOf("and", "or", "unless", "bool", "offset", "inf", "nan", "start", "end")

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

type tokKind int

const (
	tokIdent tokKind = iota
	tokNumber
	tokString
	tokPunct
)

type token struct {
	kind tokKind
	text string // a string token's text is its unquoted value
}

// grafanaVar matches Grafana's variables ($name, ${name}, ${name:fmt},
// [[name]]); they are replaced before tokenizing.
var grafanaVar = regexp.MustCompile(`\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[^\]]*\]\]`)

// promqlTokens splits expr into tokens. Grafana variables become the
// identifier "__var" (inside a string they stay text).
func promqlTokens(expr string) ([]token, error) {
	var out []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#': // comment to the end of the line
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			var b strings.Builder
			for ; j < len(expr) && expr[j] != c; j++ {
				if expr[j] == '\\' && c != '`' && j+1 < len(expr) {
					j++
				}
				b.WriteByte(expr[j])
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			out = append(out, token{tokString, b.String()})
			i = j + 1
		case c == '$' || (c == '[' && strings.HasPrefix(expr[i:], "[[")):
			loc := grafanaVar.FindStringIndex(expr[i:])
			if loc == nil || loc[0] != 0 {
				return nil, fmt.Errorf("stray %q at %d", c, i)
			}
			out = append(out, token{tokIdent, "__var"})
			i += loc[1]
		case isIdentStart(c):
			j := i
			for j < len(expr) && (isIdentStart(expr[j]) || isDigit(expr[j]) || expr[j] == ':') {
				j++
			}
			out = append(out, token{tokIdent, expr[i:j]})
			i = j
		case isDigit(c) || (c == '.' && i+1 < len(expr) && isDigit(expr[i+1])):
			// Numbers (1, 0.99, 1e3, 0x1f) and durations (5m, 1h30m, 500ms).
			j := i
			for j < len(expr) && (isDigit(expr[j]) || isIdentStart(expr[j]) || expr[j] == '.' ||
				((expr[j] == '+' || expr[j] == '-') && (expr[j-1] == 'e' || expr[j-1] == 'E'))) {
				j++
			}
			out = append(out, token{tokNumber, expr[i:j]})
			i = j
		default:
			if i+1 < len(expr) {
				if two := expr[i : i+2]; slices.Contains([]string{"!=", "=~", "!~", "==", ">=", "<="}, two) {
					out = append(out, token{tokPunct, two})
					i += 2
					continue
				}
			}
			if !strings.ContainsRune("{}()[],=+-*/%^<>@:", rune(c)) {
				return nil, fmt.Errorf("unexpected %q at %d", c, i)
			}
			out = append(out, token{tokPunct, string(c)})
			i++
		}
	}
	return out, nil
}

func isIdentStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool      { return c >= '0' && c <= '9' }

// promqlSelectors returns the vector selectors of expr, in order. A
// selector named only by a __name__ matcher gets that name.
func promqlSelectors(expr string) ([]selector, error) {
	toks, err := promqlTokens(expr)
	if err != nil {
		return nil, err
	}
	var out []selector
	is := func(i int, text string) bool {
		return i < len(toks) && toks[i].kind == tokPunct && toks[i].text == text
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == tokPunct && t.text == "[":
			// A range or subquery: durations, ":" and variables up to "]".
			for i < len(toks) && !is(i, "]") {
				i++
			}
			if i == len(toks) {
				return nil, fmt.Errorf("unclosed [ in %q", expr)
			}
		case t.kind == tokPunct && t.text == "{":
			// A selector without a name before its braces.
			s, next, err := matchersAt(toks, i, selector{})
			if err != nil {
				return nil, fmt.Errorf("%w in %q", err, expr)
			}
			if s.metric == "" {
				return nil, fmt.Errorf("selector without a metric name in %q", expr)
			}
			out = append(out, s)
			i = next - 1
		case t.kind != tokIdent:
		case promqlLabelLists[t.text]:
			if is(i+1, "(") {
				for i < len(toks) && !is(i, ")") {
					i++
				}
			}
		case promqlKeywords[t.text]:
		case promqlFuncs[t.text] && i+1 < len(toks) && (toks[i+1].text == "by" || toks[i+1].text == "without"):
			// An aggregation with its grouping first: sum by (x) (...).
		case is(i+1, "("):
			if !promqlFuncs[t.text] {
				return nil, fmt.Errorf("unknown function %q in %q", t.text, expr)
			}
		case t.text == "__var":
			return nil, fmt.Errorf("variable in place of a metric in %q", expr)
		default:
			s := selector{metric: t.text}
			if is(i+1, "{") {
				var next int
				if s, next, err = matchersAt(toks, i+1, s); err != nil {
					return nil, fmt.Errorf("%w in %q", err, expr)
				}
				i = next - 1
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// matchersAt reads the label matchers in braces from toks[i] (the "{") into
// s and returns the index after the "}".
func matchersAt(toks []token, i int, s selector) (selector, int, error) {
	i++
	for {
		if i < len(toks) && toks[i].kind == tokPunct && toks[i].text == "}" {
			return s, i + 1, nil
		}
		if i+2 >= len(toks) || toks[i].kind != tokIdent || toks[i+1].kind != tokPunct || toks[i+2].kind != tokString {
			return s, 0, fmt.Errorf("malformed label matcher")
		}
		m := matcher{label: toks[i].text, op: toks[i+1].text, value: toks[i+2].text}
		if !slices.Contains([]string{"=", "!=", "=~", "!~"}, m.op) {
			return s, 0, fmt.Errorf("bad matcher operator %q", m.op)
		}
		if m.label == "__name__" && m.op == "=" {
			s.metric = m.value
		} else {
			s.matchers = append(s.matchers, m)
		}
		i += 3
		if i < len(toks) && toks[i].kind == tokPunct && toks[i].text == "," {
			i++
		}
	}
}

// exposition is what a node's /metrics shows: per sample name, the label
// values seen for each label name.
type exposition map[string]map[string]map[string]bool

// targetLabels are added by Prometheus when it scrapes, not by the node.
var targetLabels = setOf("instance", "job")

// checkSelector reports what in s the exposition does not have: the metric
// name, a label name of a matcher, or the value of an equality matcher.
// Regular expression and negative matchers are checked by label name only.
func checkSelector(s selector, exp exposition) error {
	labels, ok := exp[s.metric]
	if !ok {
		return fmt.Errorf("metric %s is not exposed", s.metric)
	}
	for _, m := range s.matchers {
		if targetLabels[m.label] {
			continue
		}
		values, ok := labels[m.label]
		if !ok {
			return fmt.Errorf("metric %s has no label %s", s.metric, m.label)
		}
		if m.op == "=" && !values[m.value] {
			return fmt.Errorf("metric %s has no series with %s=%q (seen: %v)", s.metric, m.label, m.value, keys(values))
		}
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// parseExposition reads the Prometheus text format: sample names (a
// histogram's are its _bucket, _sum and _count) with their labels.
func parseExposition(text string) (exposition, error) {
	fams, err := promtext.Parse(strings.NewReader(text))
	if err != nil {
		return nil, err
	}
	samples, err := fams.Samples()
	if err != nil {
		return nil, err
	}
	exp := exposition{}
	for _, s := range samples {
		if exp[s.Name] == nil {
			exp[s.Name] = map[string]map[string]bool{}
		}
		for label, value := range s.Labels {
			if exp[s.Name][label] == nil {
				exp[s.Name][label] = map[string]bool{}
			}
			exp[s.Name][label][value] = true
		}
	}
	return exp, nil
}

func TestPromQLSelectorsSkipFunctionsLabelListsRangesAndNumbers(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string // metric{label op value,...}
	}{
		{`rendezvous_peers{instance=~"$instance"}`, []string{`rendezvous_peers{instance=~$instance}`}},
		{`sum by (status) (rate(rendezvous_wsstar_joins_total{instance=~"${instance:regex}", status!="OK"}[$__rate_interval]))`,
			[]string{`rendezvous_wsstar_joins_total{instance=~${instance:regex},status!=OK}`}},
		{`histogram_quantile(0.99, sum without (instance) (rate(rendezvous_wsstar_change_delay_seconds_bucket[5m])))`,
			[]string{`rendezvous_wsstar_change_delay_seconds_bucket`}},
		{`sum(rate(a_sum[1h30m])) / ignoring(le) group_left sum(rate(a_count[5m:30s] offset 1m)) > bool 1e-3`,
			[]string{`a_sum`, `a_count`}},
		{`max by(instance)(x) * on (instance) group_right (version) rendezvous_build_info{version='v1'}`,
			[]string{`x`, `rendezvous_build_info{version=v1}`}},
		{`{__name__="libp2p_relaysvc_status", job="rdv"} or vector(0)`, []string{`libp2p_relaysvc_status{job=rdv}`}},
		{`label_replace(up, "host", "$1", "instance", "(.*):.*") unless absent(nan_metric)`, []string{`up`, `nan_metric`}},
		{`topk(5, sum by (limit) (increase(rendezvous_limit_refusals_total[1d]))) and ignoring (limit) 0.5 < 2`,
			[]string{`rendezvous_limit_refusals_total`}},
		{"rate(b[5m]) # a comment naming not_a_metric\n + c", []string{`b`, `c`}},
	} {
		sels, err := promqlSelectors(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		var got []string
		for _, s := range sels {
			str := s.metric
			if len(s.matchers) > 0 {
				var ms []string
				for _, m := range s.matchers {
					ms = append(ms, m.label+m.op+m.value)
				}
				str += "{" + strings.Join(ms, ",") + "}"
			}
			got = append(got, str)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got %q\nwant %q", c.expr, got, c.want)
		}
	}
}

func TestPromQLSelectorsRejectUnknownFunctionsAndMalformedExpressions(t *testing.T) {
	for _, expr := range []string{
		`rat(rendezvous_peers[5m])`,          // misspelled function
		`sum(rendezvous_peers{instance=$x})`, // unquoted value
		`rendezvous_peers{instance="a}`,      // unterminated string
		`$metric`,                            // a variable as the metric
		`rate(x[5m)`,                         // unclosed range
	} {
		if _, err := promqlSelectors(expr); err == nil {
			t.Errorf("%s: accepted", expr)
		}
	}
}

// The check fails on a misspelled metric, a histogram named without its
// suffix, a label the metric does not have and a label value never seen.
func TestSelectorCheckFailsOnMisspelledNamesLabelsAndValues(t *testing.T) {
	exp, err := parseExposition(strings.Join([]string{
		`# HELP rendezvous_peers Peers.`,
		`# TYPE rendezvous_peers gauge`,
		`rendezvous_peers 3`,
		`rendezvous_wsstar_closes_total{reason="OVERFLOW"} 0`,
		`rendezvous_wsstar_change_delay_seconds_bucket{le="0.1"} 4`,
		`rendezvous_wsstar_change_delay_seconds_bucket{le="+Inf"} 5`,
		`rendezvous_wsstar_change_delay_seconds_sum 0.4`,
		`rendezvous_wsstar_change_delay_seconds_count 5`,
		`libp2p_relaysvc_connections_total{type="opened"} 2`,
	}, "\n") + "\n")
	if err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]string{
		`rendezvous_peers{instance=~"$instance"}`:                                          "",
		`sum(rate(rendezvous_wsstar_closes_total{reason="OVERFLOW"}[$__rate_interval]))`:   "",
		`histogram_quantile(0.9, rate(rendezvous_wsstar_change_delay_seconds_bucket[5m]))`: "",
		`rate(rendezvous_wsstar_change_delay_seconds_sum[5m])`:                             "",
		`rendezvous_peer{instance=~"$instance"}`:                                           "metric rendezvous_peer is not exposed",
		`histogram_quantile(0.9, rate(rendezvous_wsstar_change_delay_seconds[5m]))`:        "metric rendezvous_wsstar_change_delay_seconds is not exposed",
		`rate(rendezvous_wsstar_closes_total{kind="OVERFLOW"}[5m])`:                        "metric rendezvous_wsstar_closes_total has no label kind",
		`rate(rendezvous_wsstar_closes_total{reason="overflow"}[5m])`:                      `metric rendezvous_wsstar_closes_total has no series with reason="overflow"`,
		`rate(libp2p_relaysvc_connections_total{type=~"open.*"}[5m])`:                      "",
	} {
		sels, err := promqlSelectors(expr)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		var got error
		for _, s := range sels {
			if got = checkSelector(s, exp); got != nil {
				break
			}
		}
		switch {
		case want == "" && got != nil:
			t.Errorf("%s: %v", expr, got)
		case want != "" && (got == nil || !strings.HasPrefix(got.Error(), want)):
			t.Errorf("%s: got %v, want %q", expr, got, want)
		}
	}
}
