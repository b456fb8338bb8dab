//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

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
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

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
	t.Cleanup(c.close)
	return c
}

func wantSlaves(t *testing.T, c *CoreShare, want int) {
	t.Helper()
	got, err := c.count()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("count() = %d, want %d", got, want)
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

	// A file nobody holds is a slave that died without leaving, even while
	// another slave counting holds it for a moment.
	dead := filepath.Join(dir, coreSharePrefix+"dead"+coreShareSuffix)
	if err := os.WriteFile(dead, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	probing, err := os.Open(dead)
	if err != nil {
		t.Fatal(err)
	}
	defer probing.Close()
	if err := syscall.Flock(int(probing.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
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

func TestCoreShareDirIsPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	joinShare(t, dir, false)
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode() & (fs.ModePerm | fs.ModeSticky); got != 0o700 {
		t.Fatalf("directory mode %v, want drwx------", got)
	}
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := JoinCoreShare(notDir, false, logger.Discard()); err == nil {
		t.Fatal("joined in a file that is not a directory")
	}
}

// A file being joined is locked before it takes a counted name; until then
// it has a temporary name, which is neither counted nor removed while
// young, and removed once old and unheld (its slave died joining).
func TestCoreShareTemporaryFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	c := joinShare(t, dir, false)
	young := filepath.Join(dir, "."+coreSharePrefix+"young"+coreShareSuffix)
	old := filepath.Join(dir, "."+coreSharePrefix+"old"+coreShareSuffix)
	for _, p := range []string{young, old} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * coreShareTempAge)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	wantSlaves(t, c, 1)
	if _, err := os.Stat(young); err != nil {
		t.Fatalf("a file being joined was removed: %v", err)
	}
	if _, err := os.Stat(old); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("an old temporary file nobody holds was kept: %v", err)
	}
}

// Whatever else is in the directory, counting neither blocks nor counts it.
func TestCoreShareIgnoresOtherFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	c := joinShare(t, dir, false)
	fifo := filepath.Join(dir, coreSharePrefix+"fifo"+coreShareSuffix)
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	other := joinShare(t, t.TempDir(), false)
	if err := os.Symlink(other.path, filepath.Join(dir, coreSharePrefix+"link"+coreShareSuffix)); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		wantSlaves(t, c, 1)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("counting blocked on a FIFO")
	}
}

// A tmp cleaner may remove the directory of a long-running slave; it
// registers again at its next count.
func TestCoreShareRegistersAgain(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	a := joinShare(t, dir, false)
	b := joinShare(t, dir, false)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	wantSlaves(t, a, 1)
	wantSlaves(t, b, 2)
	wantSlaves(t, a, 2)
}

func TestCoreShareSetsGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)

	// On a 1-core machine sharing cannot go lower; CI has 2 or more.
	dir := filepath.Join(t.TempDir(), "share")
	c := joinShare(t, dir, true)
	others := []*CoreShare{joinShare(t, dir, false), joinShare(t, dir, false)}
	c.adjust()
	if got, want := runtime.GOMAXPROCS(0), sharedCores(def, 3); got != want {
		t.Fatalf("3 slaves on %d cores: GOMAXPROCS %d, want %d", def, got, want)
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

// helperShare keeps the helper's share reachable: a lost *os.File would be
// closed by its finalizer, and its lock dropped.
var helperShare *CoreShare

func TestMain(m *testing.M) {
	if dir := os.Getenv(coreShareHelperEnv); dir != "" {
		var err error
		if helperShare, err = JoinCoreShare(dir, false, logger.Discard()); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("joined")
		time.Sleep(time.Hour) // until killed
		os.Exit(1)
	}
	goleak.VerifyTestMain(m) // sessions, links and executors start goroutines: none may be left
}

// Two slaves on the host already share: each gets half the cores.
func TestCoreShareTwoSlavesShare(t *testing.T) {
	prev := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(prev) })
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	if def < 2 {
		t.Skip("one core: nothing to share") // CI machines have 2 or more
	}
	dir := filepath.Join(t.TempDir(), "share")
	c := joinShare(t, dir, true)
	joinShare(t, dir, false)
	c.adjust()
	if got, want := runtime.GOMAXPROCS(0), sharedCores(def, 2); got != want {
		t.Fatalf("2 slaves on %d cores: GOMAXPROCS %d, want %d", def, got, want)
	}
}

// A temporary file held by a slave that is joining is not counted yet, and
// not removed.
func TestCoreShareHeldTemporaryFileIsNotCounted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	c := joinShare(t, dir, false)
	joining := filepath.Join(dir, "."+coreSharePrefix+"joining"+coreShareSuffix)
	f, err := os.Create(joining)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	wantSlaves(t, c, 1)
	if _, err := os.Stat(joining); err != nil {
		t.Fatalf("a held temporary file was removed: %v", err)
	}
}

// A file of another's in this slave's place (its own removed, the name
// taken again) is not this slave's registration: it registers anew.
func TestCoreShareNoticesItsFileReplaced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "share")
	c := joinShare(t, dir, false)
	old := c.path
	if err := os.Remove(old); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if c.registered() {
		t.Fatal("a new file under its name taken for this slave's registration")
	}
	wantSlaves(t, c, 1) // registered again; the unheld stranger is removed
	if c.path == old {
		t.Fatal("registered again under the stranger's name")
	}
}
