//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package slave

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// The file locks and ownership checks behind CoreShare, where the system
// has flock(2).

// ownedByThisUser fails when dir (st is its Lstat) belongs to another user,
// who could then add or remove this user's slaves' files.
func ownedByThisUser(dir string, st fs.FileInfo) error {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && int(sys.Uid) != os.Getuid() {
		return fmt.Errorf("%s belongs to user %d, not to this one", dir, sys.Uid)
	}
	return nil
}

// lockShared takes a shared lock on f, waiting for it.
func lockShared(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_SH)
}

// lockExclusiveNow takes an exclusive lock on f, or fails at once.
func lockExclusiveNow(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// lockSharedNow takes a shared lock on f without waiting; held reports that
// another process holds it exclusively.
func lockSharedNow(f *os.File) (held bool, err error) {
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	return errors.Is(err, syscall.EWOULDBLOCK), err
}

// openNoFollow opens path for reading, not following a link, and not
// waiting on a FIFO.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
