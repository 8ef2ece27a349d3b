package bench

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// svgShapes parses an SVG document and returns its root element's name and
// the points of every polyline, by its <title>.
func svgShapes(t *testing.T, b []byte) (root string, lines map[string][][2]float64) {
	t.Helper()
	lines = make(map[string][][2]float64)
	dec := xml.NewDecoder(bytes.NewReader(b))
	var points string
	inLine, inTitle := false, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
				if e.Name.Space != "http://www.w3.org/2000/svg" {
					t.Errorf("root namespace %q", e.Name.Space)
				}
			}
			switch e.Name.Local {
			case "polyline":
				inLine = true
				for _, a := range e.Attr {
					if a.Name.Local == "points" {
						points = a.Value
					}
				}
			case "title":
				inTitle = inLine
			}
		case xml.CharData:
			if inTitle {
				var pts [][2]float64
				for _, p := range strings.Fields(points) {
					x, y, ok := strings.Cut(p, ",")
					fx, err1 := strconv.ParseFloat(x, 64)
					fy, err2 := strconv.ParseFloat(y, 64)
					if !ok || err1 != nil || err2 != nil || math.IsNaN(fx) || math.IsNaN(fy) {
						t.Fatalf("bad point %q", p)
					}
					pts = append(pts, [2]float64{fx, fy})
				}
				lines[string(e)] = pts
			}
		case xml.EndElement:
			switch e.Name.Local {
			case "polyline":
				inLine = false
			case "title":
				inTitle = false
			}
		}
	}
	return root, lines
}

func TestSweepPlotsAreWellFormedSVGWithOnePolylinePerSeries(t *testing.T) {
	sr := &SweepReport{Scenario: "sweep", Node: "process"}
	for i, n := range []int{1000, 5000, 10000} {
		sr.Rows = append(sr.Rows, SweepRow{Peers: n, Connected: n, RSSPerPeerKiB: Num(90 - i), CPUPer1000: Num(0.4 + 0.1*float64(i))})
		sr.Runs = append(sr.Runs, &Report{Samples: map[string][]float64{"join-to-visible": {101.2, 101.9, 102.4 + float64(i), 104}}})
	}
	dir := filepath.Join(t.TempDir(), "charts")
	if err := sr.WritePlots(dir); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]string{
		PlotRSS:  {"(RSS − RSS before the ramp) / peers"},
		PlotCPU:  {"idle CPU / (N / 1,000)"},
		PlotJoin: {"N = 1000 (4 probes)", "N = 5000 (4 probes)", "N = 10000 (4 probes)"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		root, lines := svgShapes(t, b)
		if root != "svg" {
			t.Errorf("%s: root element %q", file, root)
		}
		if len(lines) != len(want) {
			t.Errorf("%s: %d polylines, want %d", file, len(lines), len(want))
		}
		for _, name := range want {
			pts, ok := lines[name]
			if !ok {
				t.Errorf("%s: no polyline for %q (have %v)", file, name, lines)
				continue
			}
			if file == PlotJoin {
				// A step per sample, from height 0 to the top of the axis.
				if len(pts) != 8 || pts[0][1] <= pts[len(pts)-1][1] {
					t.Errorf("%s %q: points %v", file, name, pts)
				}
			} else if len(pts) != 3 {
				t.Errorf("%s %q: %d points, want one per size", file, name, len(pts))
			}
			for _, p := range pts {
				if p[0] < plotLeft || p[0] > plotRight || p[1] < plotTop || p[1] > plotBottom {
					t.Errorf("%s %q: point %v outside the plot area", file, name, p)
				}
			}
		}
		if !bytes.Contains(b, []byte("N = 5000 (4 probes)")) && file == PlotJoin {
			t.Errorf("%s: no legend", file)
		}
	}
}

func TestChartLeavesOutUnmeasuredSeriesAndPoints(t *testing.T) {
	c := &Chart{Title: "a <b> & c", Series: []Series{
		{Name: "measured", X: []float64{1, 2, 3}, Y: []float64{1, math.NaN(), 3}},
		{Name: "nothing", X: []float64{1}, Y: []float64{math.NaN()}},
	}}
	var buf bytes.Buffer
	if err := c.WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	_, lines := svgShapes(t, buf.Bytes())
	if len(lines) != 1 || len(lines["measured"]) != 2 {
		t.Errorf("polylines %v, want one of two points", lines)
	}
	if !strings.Contains(buf.String(), "nothing: no samples") {
		t.Errorf("legend does not say the series has no samples")
	}
}

func TestNiceTicksAreRoundAndCoverTheRange(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 19500, "0 5000 10000 15000 20000"},
		{101.2, 104, "101 101.5 102 102.5 103 103.5 104"},
		{0, 1, "0 0.2 0.4 0.6 0.8 1"},
		{7, 7, "6 6.5 7 7.5 8"}, // one value: an axis around it
	} {
		var got []string
		for _, v := range niceTicks(c.lo, c.hi, 6) {
			got = append(got, strconv.FormatFloat(v, 'f', -1, 64))
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("niceTicks(%v, %v) = %s, want %s", c.lo, c.hi, s, c.want)
		}
	}
}
