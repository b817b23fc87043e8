package cmdutil

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lxkit/lxkit/cmd/lxkit/command/iostreams"
	"github.com/lxkit/lxkit/host"
)

// Progress is a one-line progress display on stderr: a spinner, a label,
// the bytes moved so far (when counting) and the elapsed time. It shows
// only when stderr is a terminal and --quiet is not set; otherwise every
// method is a cheap no-op, so commands use it unconditionally.
type Progress struct {
	w       io.Writer
	enabled bool
	bytes   bool // show byte counts
	start   time.Time
	n       atomic.Int64

	mu    sync.Mutex
	label string
	total int64

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// StartProgress starts a progress line. bytes says whether the line shows
// how many bytes moved.
func StartProgress(ios *iostreams.IOStreams, g *Globals, label string, bytes bool) *Progress {
	p := &Progress{w: ios.ErrOut, label: label, bytes: bytes, start: time.Now(),
		enabled: ios.IsStderrTTY() && !g.Quiet}
	if !p.enabled {
		return p
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.loop()
	return p
}

func (p *Progress) loop() {
	defer close(p.done)
	t := time.NewTicker(150 * time.Millisecond)
	defer t.Stop()
	for frame := 0; ; frame++ {
		p.render(frame)
		select {
		case <-p.stop:
			fmt.Fprint(p.w, "\r\x1b[K")
			return
		case <-t.C:
		}
	}
}

var spinner = []string{"|", "/", "-", `\`}

func (p *Progress) render(frame int) {
	p.mu.Lock()
	label, total := p.label, p.total
	p.mu.Unlock()
	line := spinner[frame%len(spinner)] + " " + label
	if p.bytes {
		line += "  " + HumanBytes(p.n.Load())
		if total > 0 {
			line += " / " + HumanBytes(total)
		}
	}
	line += "  " + time.Since(p.start).Truncate(time.Second).String()
	fmt.Fprint(p.w, "\r\x1b[K"+line)
}

// SetLabel changes what the line says is happening.
func (p *Progress) SetLabel(label string) {
	p.mu.Lock()
	p.label = label
	p.mu.Unlock()
}

// SetTotal sets the number of bytes expected, shown after the count.
func (p *Progress) SetTotal(n int64) {
	p.mu.Lock()
	p.total = n
	p.mu.Unlock()
}

// Add counts n more bytes.
func (p *Progress) Add(n int64) { p.n.Add(n) }

// Stop removes the line. It is safe to call more than once.
func (p *Progress) Stop() {
	if !p.enabled {
		return
	}
	p.stopOnce.Do(func() {
		close(p.stop)
		<-p.done
	})
}

// HumanBytes formats a byte count with binary units: "512 B", "1.5 KiB".
func HumanBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n), ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v /= 1024
		unit = u
		if v < 1024 {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// Daemon returns a host.Progress callback that shows the daemon's own
// words after label ("Copying web: rootfs: 45% (12.3MB/s)").
func (p *Progress) Daemon(label string) func(host.Progress) {
	return func(r host.Progress) {
		if r.Text != "" {
			p.SetLabel(label + ": " + r.Text)
		}
	}
}
