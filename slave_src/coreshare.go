package slave

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/lbproject/loadbalancer/common/logger"
)

// Each Go runtime sizes itself to every core of the host. Several slaves on
// one host (a demo on a laptop, the lab) then run several computing threads
// per core, and the kernel's time slicing costs them CPU (7% more per
// heavy task for 3 slaves on 2 cores). A CoreShare gives each slave on a host an even share of its
// cores instead: every slave holds a lock on a file of its own in a
// directory of its user's, and counts the locked files every second. The
// kernel drops a lock when its process ends, however it ends, so a killed
// slave is no longer counted at the others' next count. Where there is no
// flock (coreshare_other.go) joining fails, and the slaves of a host do not
// share its cores.

// DefaultCoreShareDir is the directory the slaves of this user share. It is
// per user so that no one else can add files to it.
func DefaultCoreShareDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("loadbalancer-slaves-%d", os.Getuid()))
}

const (
	coreSharePrefix = "slave-"
	coreShareSuffix = ".lock"
	// coreShareInterval is how often a slave counts the others.
	coreShareInterval = time.Second
	// coreShareTempAge is when a temporary file nobody holds is left over
	// from a slave that died while joining.
	coreShareTempAge = time.Minute
)

// CoreShare is one slave's place among the slaves of its host.
type CoreShare struct {
	dir  string
	auto bool
	log  *logger.Logger

	dirLock *os.File // a shared lock on dir: tmp cleaners skip locked directories
	self    *os.File // holds the lock on path
	path    string

	slaves  int    // the count seen last; 0 before the first
	lastErr string // the last problem logged, to log each once
}

// JoinCoreShare registers this process in dir, made if missing. With auto
// false the process keeps its GOMAXPROCS, but still counts for the others.
func JoinCoreShare(dir string, auto bool, log *logger.Logger) (*CoreShare, error) {
	c := &CoreShare{dir: dir, auto: auto, log: log}
	if err := c.register(); err != nil {
		return nil, err
	}
	return c, nil
}

// register makes dir if needed and adds a locked file of this slave's.
func (c *CoreShare) register() error {
	if err := os.Mkdir(c.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	st, err := os.Lstat(c.dir)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", c.dir)
	}
	if err := ownedByThisUser(c.dir, st); err != nil {
		return err
	}
	dirLock, err := os.Open(c.dir)
	if err != nil {
		return err
	}
	if err := lockShared(dirLock); err != nil {
		dirLock.Close()
		return fmt.Errorf("locking %s: %w", c.dir, err)
	}
	self, path, err := c.lockedFile()
	if err != nil {
		dirLock.Close()
		return err
	}
	c.close()
	c.dirLock, c.self, c.path = dirLock, self, path
	return nil
}

// lockedFile makes a file of this slave's in dir and locks it before it
// takes a counted name, so that a counting slave never finds it unlocked
// and takes it for a dead one's.
func (c *CoreShare) lockedFile() (*os.File, string, error) {
	for {
		f, err := os.CreateTemp(c.dir, "."+coreSharePrefix+"*"+coreShareSuffix)
		if err != nil {
			return nil, "", err
		}
		tmp := f.Name()
		if err := lockExclusiveNow(f); err != nil {
			return nil, "", errors.Join(fmt.Errorf("locking %s: %w", tmp, err), f.Close(), os.Remove(tmp))
		}
		// A link, not a rename: a rename would replace a file of the same
		// name, and another slave would no longer be counted.
		path := filepath.Join(c.dir, strings.TrimPrefix(filepath.Base(tmp), "."))
		err = os.Link(tmp, path)
		if rmErr := os.Remove(tmp); err == nil && rmErr != nil {
			err = rmErr
		}
		if err == nil {
			return f, path, nil
		}
		f.Close()
		if !errors.Is(err, fs.ErrExist) {
			return nil, "", err
		}
	}
}

// Run keeps the runtime's GOMAXPROCS at this slave's share of the cores,
// when auto, until ctx ends; then it leaves the host's count.
func (c *CoreShare) Run(ctx context.Context) {
	defer c.leave()
	if !c.auto {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(coreShareInterval)
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
	slaves, err := c.count()
	if err != nil {
		if msg := err.Error(); msg != c.lastErr {
			c.lastErr = msg
			c.log.Warning("counting the slaves on this host", "err", err)
		}
		return
	}
	c.lastErr = ""
	if slaves == c.slaves {
		return
	}
	c.slaves = slaves
	// The runtime's default follows a container's CPU limit.
	runtime.SetDefaultGOMAXPROCS()
	if slaves > 1 {
		runtime.GOMAXPROCS(sharedCores(runtime.GOMAXPROCS(0), slaves))
	}
	c.log.Info("cores shared", "slaves_on_host", slaves, "procs", runtime.GOMAXPROCS(0))
}

// count counts the slaves on this host, registering this one again if its
// file is gone (a tmp cleaner), and removes what dead slaves left.
func (c *CoreShare) count() (int, error) {
	if !c.registered() {
		if err := c.register(); err != nil {
			return 0, fmt.Errorf("registering again in %s: %w", c.dir, err)
		}
		c.log.Info("registered again among the slaves on this host", "dir", c.dir)
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", c.dir, err)
	}
	self := filepath.Base(c.path)
	slaves := 0
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, coreShareSuffix) {
			continue
		}
		temp := strings.HasPrefix(name, "."+coreSharePrefix)
		if !temp && !strings.HasPrefix(name, coreSharePrefix) {
			continue
		}
		if name == self {
			slaves++
			continue
		}
		path := filepath.Join(c.dir, name)
		held, age := c.probe(path)
		switch {
		case held:
			if !temp {
				slaves++
			}
		case !temp || age > coreShareTempAge:
			// A counted file nobody holds is a dead slave's; a temporary
			// one, of a slave that died while joining.
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				c.log.Debug("leaving a dead slave's file", "file", name, "err", err)
			}
		}
	}
	return slaves, nil
}

// registered reports whether this slave's file is still in place.
func (c *CoreShare) registered() bool {
	onDisk, err := os.Stat(c.path)
	if err != nil {
		return false
	}
	held, err := c.self.Stat()
	return err == nil && os.SameFile(onDisk, held)
}

// probe reports whether a slave holds the file at path, and its age. A
// shared lock is enough to tell (slaves hold theirs exclusively) and never
// makes another slave probing at the same moment see the file held.
func (c *CoreShare) probe(path string) (held bool, age time.Duration) {
	f, err := openNoFollow(path)
	if err != nil {
		return false, 0 // gone meanwhile
	}
	defer f.Close()
	if held, err := lockSharedNow(f); err != nil || held {
		return held, 0
	}
	st, err := f.Stat()
	if err != nil {
		return false, 0
	}
	return false, time.Since(st.ModTime())
}

// leave removes this slave's file and drops its locks.
func (c *CoreShare) leave() {
	if c.registered() {
		if err := os.Remove(c.path); err != nil {
			c.log.Warning("leaving the count of slaves on this host", "err", err)
		}
	}
	c.close()
}

func (c *CoreShare) close() {
	if c.self != nil {
		c.self.Close()
	}
	if c.dirLock != nil {
		c.dirLock.Close()
	}
}

// sharedCores is the share of cores for one of slaves slaves on a host:
// rounded up, so no core idles for the sake of an even split.
func sharedCores(cores, slaves int) int {
	slaves = max(slaves, 1)
	return max(1, (cores+slaves-1)/slaves)
}

// shareCores applies Options.Procs and, unless GOMAXPROCS is fixed, keeps
// it at this slave's share of the host's cores, counting this slave for the
// others until ctx ends: after the slave has drained its tasks, not when it
// is told to stop.
func (s *Slave) shareCores(ctx context.Context) {
	log := s.opts.Log
	if s.opts.Procs > 0 {
		runtime.GOMAXPROCS(s.opts.Procs)
	}
	env, err := strconv.Atoi(os.Getenv("GOMAXPROCS"))
	auto := s.opts.Procs == 0 && (err != nil || env < 1) // the runtime ignores such a $GOMAXPROCS too
	share, err := JoinCoreShare(DefaultCoreShareDir(), auto, log)
	if err != nil {
		log.Warning("not counted among the slaves on this host, which may oversubscribe its cores", "err", err)
		return
	}
	share.Run(ctx)
}
