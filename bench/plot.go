package bench

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Chart is a line chart written as a small standalone SVG: axes with ticks
// and labels, a grid, one polyline per series and a legend. It is enough
// for the sweep's figures without a plotting dependency.
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
	// Markers draws a dot at every point (few points, as one per size).
	Markers bool
	// Steps draws each series as a step function starting at height 0 at
	// its first x, as an empirical distribution is drawn.
	Steps bool
	// YMax, when positive, fixes the top of the y axis (1 for a fraction).
	YMax float64
}

// Series is one curve; points with a NaN coordinate are left out.
type Series struct {
	Name string
	X, Y []float64
}

// The chart's geometry, in SVG user units (pixels).
const (
	chartW                     = 720
	plotLeft, plotRight        = 80, 700
	plotTop, plotBottom        = 44, 360
	legendTop, legendRowHeight = 428, 20
)

// chartColors are distinguishable on white and for common colour blindness
// (Okabe and Ito's palette).
var chartColors = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"}

// WriteSVG writes the chart.
func (c *Chart) WriteSVG(w io.Writer) error {
	bw := bufio.NewWriter(w)
	xlo, xhi, ylo, yhi, measured := c.bounds()
	xt := niceTicks(xlo, xhi, 6)
	yt := niceTicks(ylo, yhi, 5)
	if c.YMax > 0 {
		yt = niceTicks(0, c.YMax, 5)
	}
	x0, x1 := xt[0], xt[len(xt)-1]
	y0, y1 := yt[0], yt[len(yt)-1]
	px := func(x float64) float64 { return plotLeft + (x-x0)/(x1-x0)*(plotRight-plotLeft) }
	py := func(y float64) float64 { return plotBottom - (y-y0)/(y1-y0)*(plotBottom-plotTop) }

	// The legend wraps into rows under the x axis label.
	type item struct {
		x, row int
		name   string
	}
	var legend []item
	lx, row := plotLeft, 0
	for _, s := range c.Series {
		name := s.Name
		if !s.hasPoints() {
			name += ": no samples"
		}
		wd := 34 + 7*len([]rune(name)) // swatch, gap, about 7 units a character at size 12
		if lx+wd > chartW && lx > plotLeft {
			lx, row = plotLeft, row+1
		}
		legend = append(legend, item{lx, row, name})
		lx += wd + 16
	}
	height := legendTop + row*legendRowHeight + 16

	fmt.Fprintf(bw, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
	fmt.Fprintf(bw, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n", chartW, height, chartW, height)
	fmt.Fprintf(bw, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", chartW, height)
	fmt.Fprintf(bw, "<text x=\"%d\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", (plotLeft+plotRight)/2, esc(c.Title))

	// Grid and ticks.
	fmt.Fprintf(bw, "<g stroke=\"#e0e0e0\" stroke-width=\"1\">\n")
	for _, v := range xt {
		fmt.Fprintf(bw, "<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\"/>\n", f1(px(v)), plotTop, f1(px(v)), plotBottom)
	}
	for _, v := range yt {
		fmt.Fprintf(bw, "<line x1=\"%d\" y1=\"%s\" x2=\"%d\" y2=\"%s\"/>\n", plotLeft, f1(py(v)), plotRight, f1(py(v)))
	}
	fmt.Fprintf(bw, "</g>\n")
	fmt.Fprintf(bw, "<g stroke=\"#333\" stroke-width=\"1\">\n")
	fmt.Fprintf(bw, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", plotLeft, plotBottom, plotRight, plotBottom)
	fmt.Fprintf(bw, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n", plotLeft, plotTop, plotLeft, plotBottom)
	for _, v := range xt {
		fmt.Fprintf(bw, "<line x1=\"%s\" y1=\"%d\" x2=\"%s\" y2=\"%d\"/>\n", f1(px(v)), plotBottom, f1(px(v)), plotBottom+5)
	}
	for _, v := range yt {
		fmt.Fprintf(bw, "<line x1=\"%d\" y1=\"%s\" x2=\"%d\" y2=\"%s\"/>\n", plotLeft-5, f1(py(v)), plotLeft, f1(py(v)))
	}
	fmt.Fprintf(bw, "</g>\n")
	xd, yd := tickDecimals(xt), tickDecimals(yt)
	for _, v := range xt {
		fmt.Fprintf(bw, "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", f1(px(v)), plotBottom+19, strconv.FormatFloat(v, 'f', xd, 64))
	}
	for _, v := range yt {
		fmt.Fprintf(bw, "<text x=\"%d\" y=\"%s\" text-anchor=\"end\">%s</text>\n", plotLeft-8, f1(py(v)+4), strconv.FormatFloat(v, 'f', yd, 64))
	}
	fmt.Fprintf(bw, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", (plotLeft+plotRight)/2, plotBottom+40, esc(c.XLabel))
	fmt.Fprintf(bw, "<text x=\"18\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 18 %d)\">%s</text>\n", (plotTop+plotBottom)/2, (plotTop+plotBottom)/2, esc(c.YLabel))
	if !measured {
		fmt.Fprintf(bw, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" fill=\"#888\">not measured</text>\n", (plotLeft+plotRight)/2, (plotTop+plotBottom)/2)
	}

	// Series.
	for i, s := range c.Series {
		color := chartColors[i%len(chartColors)]
		var pts []string
		var dots [][2]float64
		prev := math.NaN()
		for j := range min(len(s.X), len(s.Y)) {
			x, y := s.X[j], s.Y[j]
			if !finite(x) || !finite(y) {
				continue
			}
			if c.Steps {
				if math.IsNaN(prev) {
					prev = 0
				}
				pts = append(pts, f1(px(x))+","+f1(py(prev)))
				prev = y
			}
			pts = append(pts, f1(px(x))+","+f1(py(y)))
			dots = append(dots, [2]float64{px(x), py(y)})
		}
		if len(pts) == 0 {
			continue
		}
		fmt.Fprintf(bw, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"%s\"><title>%s</title></polyline>\n", color, strings.Join(pts, " "), esc(s.Name))
		if c.Markers {
			for _, d := range dots {
				fmt.Fprintf(bw, "<circle cx=\"%s\" cy=\"%s\" r=\"3.5\" fill=\"%s\"/>\n", f1(d[0]), f1(d[1]), color)
			}
		}
	}

	// Legend.
	for i, it := range legend {
		y := legendTop + it.row*legendRowHeight
		color := chartColors[i%len(chartColors)]
		fmt.Fprintf(bw, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>\n", it.x, y-4, it.x+24, y-4, color)
		fmt.Fprintf(bw, "<text x=\"%d\" y=\"%d\">%s</text>\n", it.x+32, y, esc(it.name))
	}
	fmt.Fprintf(bw, "</svg>\n")
	return bw.Flush()
}

func (s Series) hasPoints() bool {
	for j := range min(len(s.X), len(s.Y)) {
		if finite(s.X[j]) && finite(s.Y[j]) {
			return true
		}
	}
	return false
}

// bounds is the range of the finite points. Counts and costs start at 0 so
// that sizes compare by eye; a step chart's x axis fits its data (latencies
// that all sit near one flush interval would be a vertical line otherwise).
func (c *Chart) bounds() (xlo, xhi, ylo, yhi float64, ok bool) {
	xlo, xhi, ylo, yhi = math.Inf(1), math.Inf(-1), 0, math.Inf(-1)
	if !c.Steps {
		xlo = 0
	}
	for _, s := range c.Series {
		for j := range min(len(s.X), len(s.Y)) {
			x, y := s.X[j], s.Y[j]
			if !finite(x) || !finite(y) {
				continue
			}
			ok = true
			xlo, xhi = math.Min(xlo, x), math.Max(xhi, x)
			ylo, yhi = math.Min(ylo, y), math.Max(yhi, y)
		}
	}
	if !ok {
		return 0, 1, 0, 1, false
	}
	return xlo, xhi, ylo, yhi, true
}

// niceTicks are about n round values (1, 2 or 5 times a power of ten apart)
// covering [lo, hi]; the first and last are the axis ends.
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		// One value: an axis around it.
		d := math.Max(math.Abs(hi)*0.1, 1)
		if lo >= 0 && lo-d < 0 {
			lo, hi = 0, hi+d
		} else {
			lo, hi = lo-d, hi+d
		}
	}
	step := niceNum((hi - lo) / float64(max(n-1, 1)))
	start := math.Floor(lo/step) * step
	end := math.Ceil(hi/step) * step
	// Rounded to the step's decimals: 0.6, not 0.6000000000000001.
	scale := math.Pow(10, float64(max(0, int(-math.Floor(math.Log10(step))))))
	var out []float64
	for i := 0; ; i++ {
		v := math.Round((start+float64(i)*step)*scale) / scale
		if v > end+step/2 {
			break
		}
		if v == 0 {
			v = 0 // not -0, which would be labelled "-0"
		}
		out = append(out, v)
	}
	return out
}

// niceNum is a round number near x: 1, 2, 5 or 10 times a power of ten.
func niceNum(x float64) float64 {
	exp := math.Floor(math.Log10(x))
	f := x / math.Pow(10, exp)
	nf := 10.0
	switch {
	case f < 1.5:
		nf = 1
	case f < 3:
		nf = 2
	case f < 7:
		nf = 5
	}
	return nf * math.Pow(10, exp)
}

// tickDecimals is the number of decimals that tells the ticks apart.
func tickDecimals(t []float64) int {
	if len(t) < 2 {
		return 0
	}
	return max(0, int(-math.Floor(math.Log10(t[1]-t[0])+1e-9)))
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
