package slave

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
)

func TestSharedCores(t *testing.T) {
	for _, tc := range []struct{ cores, slaves, want int }{
		{cores: 2, slaves: 1, want: 2},
		{cores: 2, slaves: 2, want: 1},
		{cores: 2, slaves: 3, want: 1},
		{cores: 8, slaves: 2, want: 4},
		{cores: 8, slaves: 3, want: 3}, // rounded up: no core left idle
		{cores: 1, slaves: 5, want: 1},
		{cores: 16, slaves: 16, want: 1},
		{cores: 4, slaves: 0, want: 4},
	} {
		if got := sharedCores(tc.cores, tc.slaves); got != tc.want {
			t.Errorf("sharedCores(%d, %d) = %d, want %d", tc.cores, tc.slaves, got, tc.want)
		}
	}
}

func joinShare(t *testing.T, dir string, auto bool) *CoreShare {
	t.Helper()
	c, err := JoinCoreShare(dir, auto, logger.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.self.Close() })
	return c
}

func wantSlaves(t *testing.T, c *CoreShare, want int) {
	t.Helper()
	got, err := c.Slaves()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Slaves() = %d, want %d", got, want)
	}
}

func TestCoreShareCountsTheSlavesOfTheHost(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	a := joinShare(t, dir, false)
	wantSlaves(t, a, 1)
	b := joinShare(t, dir, false)
	c := joinShare(t, dir, false)
	for _, s := range []*CoreShare{a, b, c} {
		wantSlaves(t, s, 3)
	}
	b.leave()
	if _, err := os.Stat(b.path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the file of a slave that left is still there: %v", err)
	}
	wantSlaves(t, a, 2)

	// A file nobody holds is a slave that died without leaving.
	dead := filepath.Join(dir, coreSharePrefix+"dead"+coreShareSuffix)
	if err := os.WriteFile(dead, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Files not named like a slave's are none of the share's business.
	other := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wantSlaves(t, c, 2)
	if _, err := os.Stat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a dead slave's file was kept: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Fatalf("another file was touched: %v", err)
	}
}

func TestCoreShareDirIsSharedByAllUsers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	joinShare(t, dir, false)
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode() & (fs.ModePerm | fs.ModeSticky); got != 0o777|fs.ModeSticky {
		t.Fatalf("directory mode %v, want drwxrwxrwt", got)
	}
}

func TestCoreShareSetsGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)

	dir := filepath.Join(t.TempDir(), "share")
	c := joinShare(t, dir, true)
	c.cores = 9 // as if on a 9-core host, whatever this one has
	others := []*CoreShare{joinShare(t, dir, false), joinShare(t, dir, false)}
	c.adjust()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Fatalf("3 slaves on 9 cores: GOMAXPROCS %d, want 3", got)
	}
	runtime.GOMAXPROCS(def + 5)
	for _, o := range others {
		o.leave()
	}
	c.adjust()
	if got := runtime.GOMAXPROCS(0); got != def {
		t.Fatalf("alone again: GOMAXPROCS %d, want the runtime's default %d", got, def)
	}
}

func TestCoreShareRunLeavesWhenStopped(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	c := joinShare(t, dir, false)
	other := joinShare(t, dir, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	wantSlaves(t, other, 2)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	wantSlaves(t, other, 1)
}

// A slave killed with SIGKILL never leaves; the kernel drops its lock, and
// the others stop counting it at their next count.
func TestCoreShareForgetsAKilledSlave(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	c := joinShare(t, dir, false)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), coreShareHelperEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "joined\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	wantSlaves(t, c, 2)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	wantSlaves(t, c, 1)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("the killed slave's file is still there: %v", entries)
	}
}

// The killed slave is this test binary, re-executed: TestMain sees
// coreShareHelperEnv and joins the share in the directory it names.
const coreShareHelperEnv = "LB_CORESHARE_HELPER_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(coreShareHelperEnv); dir != "" {
		if _, err := JoinCoreShare(dir, false, logger.Discard()); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("joined")
		select {}
	}
	os.Exit(m.Run())
}
