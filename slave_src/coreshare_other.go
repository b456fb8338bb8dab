//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package slave

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Without flock(2) (Windows, among others) a slave cannot tell a live
// slave's file from a dead one's, so JoinCoreShare fails with
// errNoFileLocks and the slaves of a host each keep all its cores.

var errNoFileLocks = fmt.Errorf("no flock on this system: %w", errors.ErrUnsupported)

func ownedByThisUser(string, fs.FileInfo) error  { return errNoFileLocks }
func lockShared(*os.File) error                  { return errNoFileLocks }
func lockExclusiveNow(*os.File) error            { return errNoFileLocks }
func lockSharedNow(*os.File) (bool, error)       { return false, errNoFileLocks }
func openNoFollow(path string) (*os.File, error) { return nil, errNoFileLocks }
