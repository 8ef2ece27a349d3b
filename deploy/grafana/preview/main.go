// Command preview renders the panels of the Grafana dashboard
// (deploy/grafana/rendezvous.json) as one HTML page, without Grafana: it runs
// each panel's own PromQL against a Prometheus server's query_range API, with
// the dashboard's variables set, and draws the series with the bench tool's
// charts. A headless browser turns the page into the image in docs/img (see
// docs/dashboard.md). It is a preview of what the queries show, not
// Grafana's rendering.
//
//	go run ./deploy/grafana/preview --prometheus http://127.0.0.1:9095 \
//	    --start 2026-01-01T10:00:00Z --end 2026-01-01T10:05:00Z --out preview.html
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ws-star/rendezvous/bench"
)

type panel struct {
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		W int `json:"w"`
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
}

type series struct {
	labels map[string]string
	t, v   []float64
}

func main() {
	dash := flag.String("dashboard", "deploy/grafana/rendezvous.json", "dashboard JSON")
	prom := flag.String("prometheus", "http://127.0.0.1:9090", "Prometheus base URL")
	startS := flag.String("start", "", "start of the range (RFC 3339)")
	endS := flag.String("end", "", "end of the range (RFC 3339)")
	step := flag.Duration("step", 5*time.Second, "query resolution")
	rateInterval := flag.String("rate-interval", "1m", "value of $__rate_interval (Grafana: at least 4 scrape intervals)")
	instance := flag.String("instance", ".*", "value of $instance (a regular expression)")
	caption := flag.String("caption", "", "line printed under the title")
	out := flag.String("out", "preview.html", "HTML file to write")
	flag.Parse()
	if err := run(*dash, *prom, *startS, *endS, *step, *rateInterval, *instance, *caption, *out); err != nil {
		fmt.Fprintln(os.Stderr, "preview:", err)
		os.Exit(1)
	}
}

func run(dashFile, prom, startS, endS string, step time.Duration, rateInterval, instance, caption, out string) error {
	start, err := time.Parse(time.RFC3339, startS)
	if err != nil {
		return fmt.Errorf("--start: %w", err)
	}
	end, err := time.Parse(time.RFC3339, endS)
	if err != nil {
		return fmt.Errorf("--end: %w", err)
	}
	b, err := os.ReadFile(dashFile)
	if err != nil {
		return err
	}
	var d struct {
		Title  string  `json:"title"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	vars := strings.NewReplacer("$__rate_interval", rateInterval, "${instance}", instance, "$instance", instance)
	q := func(expr string) ([]series, error) {
		return queryRange(prom, vars.Replace(expr), start, end, step)
	}

	var page pageLayout
	page.begin(d.Title, caption)
	for _, p := range d.Panels {
		switch p.Type {
		case "row":
			page.row(p.Title)
		case "stat":
			var last float64 = math.NaN()
			if len(p.Targets) > 0 {
				ss, err := q(p.Targets[0].Expr)
				if err != nil {
					return fmt.Errorf("panel %q: %w", p.Title, err)
				}
				for _, s := range ss {
					if n := len(s.v); n > 0 {
						if math.IsNaN(last) {
							last = 0
						}
						last += s.v[n-1]
					}
				}
			}
			page.stat(p.Title, formatValue(last, p.FieldConfig.Defaults.Unit))
		case "timeseries":
			scale, yLabel := unitScale(p.FieldConfig.Defaults.Unit)
			c := bench.Chart{Title: p.Title, XLabel: "seconds into the run", YLabel: yLabel}
			for _, tg := range p.Targets {
				ss, err := q(tg.Expr)
				if err != nil {
					return fmt.Errorf("panel %q: %w", p.Title, err)
				}
				for _, s := range ss {
					cs := bench.Series{Name: legend(tg.LegendFormat, s.labels)}
					for i := range s.t {
						cs.X = append(cs.X, s.t[i]-float64(start.Unix()))
						cs.Y = append(cs.Y, s.v[i]*scale)
					}
					c.Series = append(c.Series, cs)
				}
			}
			if len(c.Series) == 0 {
				page.empty(p.Title)
				continue
			}
			var svg bytes.Buffer
			if err := c.WriteSVG(&svg); err != nil {
				return err
			}
			page.chart(svg.String())
		}
	}
	return os.WriteFile(out, page.end(), 0o644)
}

// queryRange runs one query_range and returns its series.
func queryRange(prom, expr string, start, end time.Time, step time.Duration) ([]series, error) {
	v := url.Values{
		"query": {expr},
		"start": {strconv.FormatInt(start.Unix(), 10)},
		"end":   {strconv.FormatInt(end.Unix(), 10)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, prom+"/api/v1/query_range?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", expr, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("%s: %s", expr, r.Error)
	}
	var out []series
	for _, res := range r.Data.Result {
		s := series{labels: res.Metric}
		for _, tv := range res.Values {
			ts, ok1 := tv[0].(float64)
			vs, ok2 := tv[1].(string)
			if !ok1 || !ok2 {
				return nil, errors.New("unexpected sample")
			}
			f, err := strconv.ParseFloat(vs, 64)
			if err != nil {
				return nil, err
			}
			s.t = append(s.t, ts)
			s.v = append(s.v, f)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i].labels) < fmt.Sprint(out[j].labels) })
	return out, nil
}

var legendVar = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// legend fills a Grafana legend format with the series' labels.
func legend(format string, labels map[string]string) string {
	if format == "" {
		return fmt.Sprint(labels)
	}
	return legendVar.ReplaceAllStringFunc(format, func(m string) string {
		return labels[legendVar.FindStringSubmatch(m)[1]]
	})
}

// unitScale maps a Grafana unit to a factor and an axis label.
func unitScale(unit string) (float64, string) {
	switch unit {
	case "s":
		return 1000, "ms"
	case "bytes":
		return 1.0 / (1 << 20), "MiB"
	case "Bps":
		return 1.0 / (1 << 20), "MiB/s"
	case "percentunit":
		return 100, "% of limit"
	case "ops", "reqps":
		return 1, "per second"
	}
	return 1, ""
}

func formatValue(v float64, unit string) string {
	if math.IsNaN(v) {
		return "no data"
	}
	scale, label := unitScale(unit)
	return strings.TrimSpace(strconv.FormatFloat(v*scale, 'f', 0, 64) + " " + label)
}

// pageLayout places the panels at fixed sizes, so the page's height is known
// for the screenshot: stats six to a line, charts three.
type pageLayout struct {
	buf    bytes.Buffer
	y, col int // top of the current line, panels placed in it
	lineH  int
	kind   string
}

const (
	gap      = 12
	chartW   = 600
	pageW    = 3*chartW + 4*gap
	statW    = (pageW - 7*gap) / 6
	statH    = 100
	rowH     = 40
	emptyH   = 60
	headerH  = 80
	svgNativ = 720
)

var svgHeight = regexp.MustCompile(`<svg [^>]*height="(\d+)"`)

func (l *pageLayout) begin(title, caption string) {
	fmt.Fprintf(&l.buf, `<!doctype html><html><head><meta charset="utf-8"><style>
body{margin:0;background:#f4f5f5;font-family:sans-serif;width:%dpx;position:relative}
.p{position:absolute;background:#fff;border:1px solid #d8d9da;box-sizing:border-box;overflow:hidden}
.p svg{width:100%%;height:auto;display:block}
.s .t{font-size:13px;color:#444;padding:8px 10px 0}.s .v{font-size:34px;font-weight:bold;color:#1a7f37;padding:6px 10px}
.e{font-size:13px;color:#666;padding:8px 10px}.r{position:absolute;font-size:18px;font-weight:bold;color:#222}
h1{position:absolute;margin:0;font-size:24px}.c{position:absolute;font-size:14px;color:#444}
</style></head><body>
<h1 style="left:%dpx;top:14px">%s</h1><div class="c" style="left:%dpx;top:50px">%s</div>
`, pageW, gap, html.EscapeString(title), gap, html.EscapeString(caption))
	l.y = headerH
}

func (l *pageLayout) newLine() {
	if l.col > 0 {
		l.y += l.lineH + gap
	}
	l.col, l.lineH, l.kind = 0, 0, ""
}

func (l *pageLayout) place(kind string, perLine, w, h int) (x, y int) {
	if l.kind != kind || l.col == perLine {
		l.newLine()
	}
	l.kind = kind
	x = gap + l.col*(w+gap)
	l.col++
	l.lineH = max(l.lineH, h)
	return x, l.y
}

func (l *pageLayout) row(title string) {
	l.newLine()
	fmt.Fprintf(&l.buf, `<div class="r" style="left:%dpx;top:%dpx">%s</div>`+"\n", gap, l.y+10, html.EscapeString(title))
	l.y += rowH
}

func (l *pageLayout) stat(title, value string) {
	x, y := l.place("stat", 6, statW, statH)
	fmt.Fprintf(&l.buf, `<div class="p s" style="left:%dpx;top:%dpx;width:%dpx;height:%dpx"><div class="t">%s</div><div class="v">%s</div></div>`+"\n",
		x, y, statW, statH, html.EscapeString(title), html.EscapeString(value))
}

func (l *pageLayout) chart(svg string) {
	native := 500
	if m := svgHeight.FindStringSubmatch(svg); m != nil {
		native, _ = strconv.Atoi(m[1])
	}
	h := (native*chartW + svgNativ - 1) / svgNativ
	x, y := l.place("chart", 3, chartW, h)
	svg = strings.TrimPrefix(svg, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&l.buf, `<div class="p" style="left:%dpx;top:%dpx;width:%dpx;height:%dpx">%s</div>`+"\n", x, y, chartW, h, svg)
}

func (l *pageLayout) empty(title string) {
	x, y := l.place("chart", 3, chartW, emptyH)
	fmt.Fprintf(&l.buf, `<div class="p e" style="left:%dpx;top:%dpx;width:%dpx;height:%dpx"><b>%s</b><br>no data over the run</div>`+"\n",
		x, y, chartW, emptyH, html.EscapeString(title))
}

func (l *pageLayout) end() []byte {
	l.newLine()
	fmt.Fprintf(&l.buf, `<div style="height:%dpx"></div></body></html>`+"\n", l.y+gap)
	fmt.Fprintf(os.Stderr, "page %dx%d\n", pageW, l.y+gap)
	return l.buf.Bytes()
}
