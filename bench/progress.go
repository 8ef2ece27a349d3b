package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Progress reports the phases of a long scenario (ramp, probes, idle
// window) as they run: phase, count against target, rate and ETA. On a
// terminal it keeps one line up to date; elsewhere (a pipe, a file) it
// writes a line every few seconds, so that logs stay readable. A nil
// *Progress reports nothing, so scenarios can be run without one.
type Progress struct {
	out   *progressOut
	label string
}

// progressOut is the writer shared by a Progress and its With children.
type progressOut struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	every time.Duration // between updates
	shown int           // length of the line now on the terminal
}

const (
	progressTTYEvery  = 500 * time.Millisecond
	progressPipeEvery = 5 * time.Second
)

// NewProgress reports to w, each line starting with label.
func NewProgress(w io.Writer, label string) *Progress {
	tty := isTerminal(w)
	every := progressPipeEvery
	if tty {
		every = progressTTYEvery
	}
	return newProgress(w, label, tty, every)
}

func newProgress(w io.Writer, label string, tty bool, every time.Duration) *Progress {
	return &Progress{out: &progressOut{w: w, tty: tty, every: every}, label: label}
}

// With is p with label appended to its lines' prefix.
func (p *Progress) With(label string) *Progress {
	if p == nil {
		return nil
	}
	if p.label != "" {
		label = p.label + ": " + label
	}
	return &Progress{out: p.out, label: label}
}

// Logf writes one line that stays (a phase starting, an event).
func (p *Progress) Logf(format string, args ...any) {
	if p == nil {
		return
	}
	p.out.line(p.prefix()+fmt.Sprintf(format, args...), true)
}

func (p *Progress) prefix() string {
	if p.label == "" {
		return ""
	}
	return p.label + ": "
}

// Count follows a phase of total items (peers, probes) counted with Add
// and Fail.
func (p *Progress) Count(phase string, total int, unit string) *Task {
	return p.start(phase, int64(total), 0, unit)
}

// Window follows a phase of fixed length d; unit names what Add counts in
// it ("" when nothing is counted).
func (p *Progress) Window(phase string, d time.Duration, unit string) *Task {
	return p.start(phase, 0, d, unit)
}

// Sleep waits d, or until ctx ends, as a Window without a count.
func (p *Progress) Sleep(ctx context.Context, phase string, d time.Duration) error {
	t := p.Window(phase, d, "")
	defer t.Done()
	return sleep(ctx, d)
}

func (p *Progress) start(phase string, total int64, window time.Duration, unit string) *Task {
	if p == nil {
		return nil
	}
	t := &Task{
		p: p, phase: phase, total: total, window: window, unit: unit,
		begun: time.Now(), stop: make(chan struct{}), exited: make(chan struct{}),
	}
	go t.loop()
	return t
}

// Task is one phase being reported. A nil *Task ignores every call.
type Task struct {
	p            *Progress
	phase, unit  string
	total        int64
	window       time.Duration
	begun        time.Time
	done, failed atomic.Int64
	once         sync.Once
	stop, exited chan struct{}
}

// Add counts n more items done.
func (t *Task) Add(n int) {
	if t != nil {
		t.done.Add(int64(n))
	}
}

// Fail counts one item that failed: it is no longer to come.
func (t *Task) Fail() {
	if t != nil {
		t.failed.Add(1)
	}
}

// Done ends the phase with a final line; later calls do nothing.
func (t *Task) Done() {
	if t == nil {
		return
	}
	t.once.Do(func() {
		close(t.stop)
		<-t.exited
		t.p.out.line(t.text(time.Now(), true), true)
	})
}

func (t *Task) loop() {
	defer close(t.exited)
	tick := time.NewTicker(t.p.out.every)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case now := <-tick.C:
			t.p.out.line(t.text(now, false), false)
		}
	}
}

// text is the phase's line: "ramp 4200/10000 peers, 3 failed, 280/s, ETA 21s",
// "idle window 12s/30s, ETA 18s", or at the end "ramp done: ... in 36s"
// ("stopped" when it ended early).
func (t *Task) text(now time.Time, final bool) string {
	el := now.Sub(t.begun)
	done, failed := t.done.Load(), t.failed.Load()
	var b strings.Builder
	b.WriteString(t.p.prefix())
	b.WriteString(t.phase)
	if final {
		// Ended before its count or its time, as when the run is stopped.
		if (t.window > 0 && el < t.window) || (t.window <= 0 && done+failed < t.total) {
			b.WriteString(" stopped:")
		} else {
			b.WriteString(" done:")
		}
	}
	var left float64 // fraction of the phase still to go, for the ETA
	switch {
	case t.window > 0 && final:
		fmt.Fprintf(&b, " %s", roundDur(el))
	case t.window > 0:
		shown := min(el, t.window)
		fmt.Fprintf(&b, " %s/%s", roundDur(shown), roundDur(t.window))
		left = 1 - float64(shown)/float64(t.window)
	default:
		fmt.Fprintf(&b, " %d/%d %s", done, t.total, t.unit)
		if final {
			fmt.Fprintf(&b, " in %s", roundDur(el))
		} else if t.total > 0 {
			left = 1 - float64(min(done+failed, t.total))/float64(t.total)
		}
	}
	if t.window > 0 && t.unit != "" {
		fmt.Fprintf(&b, ", %d %s", done, t.unit)
	}
	if failed > 0 {
		fmt.Fprintf(&b, ", %d failed", failed)
	}
	if t.unit != "" && el > 0 {
		fmt.Fprintf(&b, ", %s/s", formatRate(float64(done)/el.Seconds()))
	}
	switch {
	case left <= 0:
	case t.window > 0:
		fmt.Fprintf(&b, ", ETA %s", roundDur(time.Duration(left*float64(t.window))))
	case done+failed > 0:
		// From the mean rate so far: a ramp slows down as the node fills,
		// so the ETA errs on the short side.
		fmt.Fprintf(&b, ", ETA %s", roundDur(time.Duration(float64(el)*left/(1-left))))
	}
	return b.String()
}

func formatRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}

// roundDur keeps two or three significant digits of d.
func roundDur(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(10 * time.Millisecond)
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// line writes s. On a terminal an update replaces the line shown, and a
// line that stays is followed by a newline; elsewhere every line stays.
func (o *progressOut) line(s string, stays bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.tty {
		fmt.Fprintln(o.w, s)
		return
	}
	// An update wider than the terminal would wrap, and \r would then
	// rewrite only its last row.
	if w := termWidth(o.w); !stays && w > 1 && len(s) >= w {
		s = s[:w-1]
	}
	pad := ""
	if n := o.shown - len(s); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	if stays {
		fmt.Fprintf(o.w, "\r%s%s\n", s, pad)
		o.shown = 0
		return
	}
	fmt.Fprintf(o.w, "\r%s%s", s, pad)
	o.shown = len(s)
}

// isTerminal reports whether w is a character device: a terminal (or
// /dev/null, where rewriting a line costs nothing either).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// termWidth is the terminal's width in columns, 0 when unknown.
func termWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	var ws struct{ rows, cols, x, y uint16 }
	var errno syscall.Errno
	// Control, not Fd: Fd would put the descriptor in blocking mode.
	if sc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws)))
	}) != nil || errno != 0 {
		return 0
	}
	return int(ws.cols)
}
