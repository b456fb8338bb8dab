package slave

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
)

// syncBuffer is a log destination the test reads while the slave writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// A relative -sd-dir is resolved once at start and logged; a missing one is
// reported at info level, where an operator sees it.
func TestTargetDirResolvedAndMissingReported(t *testing.T) {
	t.Chdir(t.TempDir())
	var out syncBuffer
	log, err := logger.New("slave", &out, "info")
	if err != nil {
		t.Fatal(err)
	}
	o := NewOptions()
	o.Iface, o.Master, o.Log = "lo", "127.0.0.1:9", log
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	want := filepath.Join(wd, DefaultTargetDir)
	if s.opts.TargetDir != want {
		t.Errorf("TargetDir = %q, want %q", s.opts.TargetDir, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "no Prometheus target directory") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	logged := out.String()
	for _, line := range []string{`msg="slave running"`, `msg="no Prometheus target directory`} {
		i := strings.Index(logged, line)
		if i < 0 {
			t.Fatalf("no %s line in:\n%s", line, logged)
		}
		l := logged[strings.LastIndex(logged[:i], "\n")+1:]
		l = l[:strings.Index(l, "\n")]
		if !strings.HasPrefix(l, "level=INFO") || !strings.Contains(l, `"`+want+`"`) {
			t.Errorf("want an INFO line naming %s, got %s", want, l)
		}
	}
	if n := strings.Count(logged, "no Prometheus target directory"); n != 1 {
		t.Errorf("missing directory reported %d times, want once", n)
	}
}
