package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ws-star/rendezvous/internal/promtext"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// Sample is a process's cumulative CPU time and current memory.
type Sample struct {
	At  time.Time
	CPU time.Duration
	// RSS is the resident set size in bytes.
	RSS uint64
	// Goroutines is -1 when unknown.
	Goroutines int
}

// Sampler reads a process's figures.
type Sampler interface {
	Sample() (Sample, error)
}

// ProcSampler reads /proc/<pid>; with a MetricsURL it also scrapes
// go_goroutines from the node's Prometheus endpoint.
type ProcSampler struct {
	PID        int
	MetricsURL string
}

// Sample implements Sampler.
func (p ProcSampler) Sample() (Sample, error) {
	s := Sample{At: time.Now(), Goroutines: -1}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, errors.New("bench: malformed /proc stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, errors.New("bench: short /proc stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return s, err
	}
	s.CPU = time.Duration(ut+st) * time.Second / clockTicks
	if s.RSS, err = rssOf(fmt.Sprintf("/proc/%d/status", p.PID)); err != nil {
		return s, err
	}
	if p.MetricsURL != "" {
		if g, err := scrapeGauge(p.MetricsURL, "go_goroutines"); err == nil {
			s.Goroutines = int(g)
		}
	}
	return s, nil
}

// SelfSampler reads this process: used for the generator, and for an
// in-process node (whose figures then include the generator's).
type SelfSampler struct{}

// Sample implements Sampler.
func (SelfSampler) Sample() (Sample, error) {
	s := Sample{At: time.Now(), Goroutines: runtime.NumGoroutine()}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, err
	}
	s.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	var err error
	s.RSS, err = rssOf("/proc/self/status")
	return s, err
}

func rssOf(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("bench: no VmRSS in " + path)
}

// CPUPercent is the CPU used between two samples as a percentage of one core.
func CPUPercent(a, b Sample) float64 {
	wall := b.At.Sub(a.At)
	if wall <= 0 {
		return 0
	}
	return 100 * float64(b.CPU-a.CPU) / float64(wall)
}

var scrapeClient = &http.Client{Timeout: 5 * time.Second}

// scrapeGauge returns the sum of all samples of metric name (over labels).
func scrapeGauge(url, name string) (float64, error) {
	return scrapeSeries(url, promtext.Series{Name: name})
}

// scrapeSeries returns the sum of the samples of s.
func scrapeSeries(url string, s promtext.Series) (float64, error) {
	fams, err := scrapeMetrics(url)
	if err != nil {
		return 0, err
	}
	v, ok := fams.SumOf(s)
	if !ok {
		return 0, fmt.Errorf("bench: no %s samples", s)
	}
	return v, nil
}

// scrapeMetrics fetches and parses a node's /metrics.
func scrapeMetrics(url string) (promtext.Families, error) {
	if url == "" {
		return nil, errors.New("bench: no metrics URL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return promtext.Fetch(ctx, scrapeClient, url)
}

// httpGet fetches url and discards the body.
func httpGet(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := scrapeClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, promtext.MaxBytes))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bench: %s: %s", url, resp.Status)
	}
	return nil
}
