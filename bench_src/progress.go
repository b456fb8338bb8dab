package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Progress shows how far the lab is: on a terminal, a bar over all
// algorithms' runs with the current algorithm and its counts; elsewhere
// (a log, CI) one line per run; nothing with -quiet.
type Progress interface {
	// Step starts the run of algorithm i of n.
	Step(i, n int, algorithm string, duration time.Duration, requests int, cnt *Counters)
	// Done ends the current run.
	Done()
	// Close removes the bar.
	Close()
}

// NewProgress returns NoProgress when quiet, a bar on w when w is a
// terminal, else one line per run on w.
func NewProgress(w io.Writer, quiet bool) Progress {
	if quiet {
		return NoProgress{}
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &bar{w: w}
	}
	return &lines{w: w}
}

// NoProgress shows nothing.
type NoProgress struct{}

func (NoProgress) Step(int, int, string, time.Duration, int, *Counters) {}
func (NoProgress) Done()                                                {}
func (NoProgress) Close()                                               {}

// permille is the bar's resolution per run.
const permille = 1000

type bar struct {
	w    io.Writer
	pb   *progressbar.ProgressBar
	stop chan struct{}
	wg   sync.WaitGroup
}

func (b *bar) Step(i, n int, algorithm string, duration time.Duration, requests int, cnt *Counters) {
	b.Done()
	if b.pb == nil {
		b.pb = progressbar.NewOptions(n*permille,
			progressbar.OptionSetWriter(b.w),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionShowElapsedTimeOnFinish(),
		)
	}
	b.stop = make(chan struct{})
	start := time.Now()
	b.wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			frac := 0.0
			if duration > 0 {
				frac = time.Since(start).Seconds() / duration.Seconds()
			}
			if requests > 0 {
				frac = max(frac, float64(cnt.Done.Load())/float64(requests))
			}
			b.pb.Describe(fmt.Sprintf("%d/%d %-16s %6d done %4d failed", i+1, n, algorithm, cnt.Done.Load(), cnt.Failed.Load()))
			_ = b.pb.Set(i*permille + int(min(frac, 1)*permille))
			select {
			case <-t.C:
			case <-b.stop:
				return
			}
		}
	})
}

func (b *bar) Done() {
	if b.stop != nil {
		close(b.stop)
		b.wg.Wait()
		b.stop = nil
	}
}

func (b *bar) Close() {
	b.Done()
	if b.pb != nil {
		_ = b.pb.Finish()
		_ = b.pb.Clear()
	}
}

// lines writes a line when a run starts and one when it ends.
type lines struct {
	w     io.Writer
	cnt   *Counters
	start time.Time
	name  string
}

func (l *lines) Step(i, n int, algorithm string, duration time.Duration, requests int, cnt *Counters) {
	l.cnt, l.start, l.name = cnt, time.Now(), algorithm
	fmt.Fprintf(l.w, "bench: [%d/%d] %s ...\n", i+1, n, algorithm)
}

func (l *lines) Done() {
	if l.cnt != nil {
		fmt.Fprintf(l.w, "bench: %s: %d answered, %d failed, in %.1fs\n", l.name, l.cnt.Done.Load(), l.cnt.Failed.Load(),
			time.Since(l.start).Seconds())
		l.cnt = nil
	}
}

func (l *lines) Close() { l.Done() }
