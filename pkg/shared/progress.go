package shared

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// NewProgress returns a byte bar with rate and ETA for a terminal, or a plain line every
// interval for logs and pipes.
func NewProgress(w io.Writer, label string, terminal bool, interval time.Duration) Progress {
	if terminal {
		return &barProgress{w: w, label: label}
	}
	return &lineProgress{w: w, label: label, interval: interval}
}

type barProgress struct {
	w     io.Writer
	label string
	bar   *progressbar.ProgressBar
}

// Start begins the bar; a total of 0 means unknown: a spinner with the bytes so far.
func (b *barProgress) Start(total Stats) {
	max := total.Bytes
	if max <= 0 {
		max = -1
	}
	b.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(b.w),
		progressbar.OptionSetDescription("    "+b.label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
		progressbar.OptionClearOnFinish(),
	)
}

func (b *barProgress) Add(n int64) { _ = b.bar.Add64(n) }
func (b *barProgress) Finish()     { _ = b.bar.Finish() }

type lineProgress struct {
	w        io.Writer
	label    string
	interval time.Duration
	total    int64
	done     atomic.Int64
	stop     chan struct{}
	wg       sync.WaitGroup
}

func (l *lineProgress) Start(total Stats) {
	l.total = total.Bytes
	l.stop = make(chan struct{})
	if l.interval <= 0 {
		l.interval = 3 * time.Second
	}
	start := time.Now()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(l.interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
				done := l.done.Load()
				rate := float64(done) / time.Since(start).Seconds()
				if l.total <= 0 { // unknown total
					fmt.Fprintf(l.w, "    %s %s so far (%s/s)\n", l.label, FormatSize(done), FormatSize(int64(rate)))
					continue
				}
				pct := 100 * float64(done) / float64(l.total)
				fmt.Fprintf(l.w, "    %s %s of %s (%.0f%%, %s/s)\n", l.label, FormatSize(done), FormatSize(l.total), pct, FormatSize(int64(rate)))
			}
		}
	}()
}

func (l *lineProgress) Add(n int64) { l.done.Add(n) }

func (l *lineProgress) Finish() {
	if l.stop != nil {
		close(l.stop)
		l.wg.Wait()
	}
}
