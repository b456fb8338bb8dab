package slave

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
)

// Each Go runtime sizes itself to every core of the host. Several slaves on
// one host (a demo on a laptop, the lab) then run several computing threads
// per core, and the kernel's time slicing costs them a tenth of their
// throughput. A CoreShare gives each slave on a host an even share of its
// cores instead: every slave holds a lock on a file of its own in a
// directory common to the host, and counts the locked files from time to
// time. The kernel releases a lock when its process ends, however it ends,
// so a killed slave stops counting at once.

// DefaultCoreShareDir is the directory the slaves of a host share.
func DefaultCoreShareDir() string {
	return filepath.Join(os.TempDir(), "loadbalancer-slaves")
}

const (
	coreSharePrefix = "slave-"
	coreShareSuffix = ".lock"
	// CoreShareInterval is how often a slave counts the others.
	CoreShareInterval = time.Second
)

// CoreShare is one slave's place among the slaves of its host.
type CoreShare struct {
	dir   string
	path  string
	self  *os.File // holds the lock
	cores int      // the runtime's own GOMAXPROCS, before any sharing
	auto  bool
	log   *logger.Logger

	slaves int // the count seen last; 0 before the first
}

// JoinCoreShare registers this process in dir, made if missing. With auto
// false the process keeps its GOMAXPROCS, but still counts for the others.
func JoinCoreShare(dir string, auto bool, log *logger.Logger) (*CoreShare, error) {
	if err := os.Mkdir(dir, 0o777); err == nil {
		// Slaves of any user share the host: anyone may add a file, only
		// its owner may remove it, as in /tmp.
		if err := os.Chmod(dir, 0o777|fs.ModeSticky); err != nil {
			return nil, fmt.Errorf("sharing the cores: %w", err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("sharing the cores: %w", err)
	}
	// The file is locked before it takes its counted name, so a counting
	// slave never finds it unlocked and takes it for a dead one's.
	f, err := os.CreateTemp(dir, "."+coreSharePrefix+"*"+coreShareSuffix)
	if err != nil {
		return nil, fmt.Errorf("sharing the cores: %w", err)
	}
	fail := func(err error) (*CoreShare, error) {
		return nil, errors.Join(fmt.Errorf("sharing the cores: %w", err), f.Close(), os.Remove(f.Name()))
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fail(err)
	}
	path := filepath.Join(dir, strings.TrimPrefix(filepath.Base(f.Name()), "."))
	if err := os.Rename(f.Name(), path); err != nil {
		return fail(err)
	}
	return &CoreShare{dir: dir, path: path, self: f, cores: runtime.GOMAXPROCS(0), auto: auto, log: log}, nil
}

// Run keeps the runtime's GOMAXPROCS at this slave's share of the cores,
// when auto, until ctx ends; then it leaves the host's count.
func (c *CoreShare) Run(ctx context.Context) {
	defer c.leave()
	if !c.auto {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(CoreShareInterval)
	defer tick.Stop()
	for {
		c.adjust()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// adjust sets GOMAXPROCS to the share of the cores when the number of
// slaves on the host changed.
func (c *CoreShare) adjust() {
	slaves, err := c.Slaves()
	if err != nil {
		c.log.Warning("counting the slaves on this host", "err", err)
		return
	}
	if slaves == c.slaves {
		return
	}
	c.slaves = slaves
	if slaves == 1 {
		// Alone: the runtime's default, which follows a container's CPU
		// limit.
		runtime.SetDefaultGOMAXPROCS()
	} else {
		runtime.GOMAXPROCS(sharedCores(c.cores, slaves))
	}
	c.log.Info("cores shared", "slaves_on_host", slaves, "procs", runtime.GOMAXPROCS(0))
}

// Slaves counts the slaves registered on this host, this one included, and
// removes the files of those that ended without leaving.
func (c *CoreShare) Slaves() (int, error) {
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", c.dir, err)
	}
	self := filepath.Base(c.path)
	slaves := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, coreSharePrefix) || !strings.HasSuffix(name, coreShareSuffix) {
			continue
		}
		if name == self || c.alive(filepath.Join(c.dir, name)) {
			slaves++
		}
	}
	return slaves, nil
}

// alive reports whether a slave holds the file at path; a file nobody
// holds is removed.
func (c *CoreShare) alive(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false // removed meanwhile: its slave left
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Debug("leaving a dead slave's file", "path", path, "err", err)
	}
	return false
}

// leave removes this slave's file; closing it releases the lock.
func (c *CoreShare) leave() {
	if err := os.Remove(c.path); err != nil {
		c.log.Warning("leaving the host's slave count", "err", err)
	}
	c.self.Close()
}

// sharedCores is the share of cores for one of slaves slaves on a host:
// rounded up, so no core idles for the sake of an even split.
func sharedCores(cores, slaves int) int {
	slaves = max(slaves, 1)
	return max(1, (cores+slaves-1)/slaves)
}
