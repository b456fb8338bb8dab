package slave

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/lbproject/loadbalancer/common/promsd"
)

// Prometheus on the slave's host finds the slave through file-based service
// discovery: each slave writes one target file into a shared directory when
// its metrics server is up and removes it on exit. Prometheus watches the
// directory, so slaves come and go with no restart or reload.

const targetPrefix = "slave-"

// writeTargetFile publishes metrics as a scrape target, atomically (temp
// file, then rename), and returns the file's path.
func writeTargetFile(dir string, id uint16, metrics netip.AddrPort) (string, error) {
	b, err := json.Marshal([]promsd.TargetGroup{promsd.SlaveGroup(id, metrics)})
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".slave-*.tmp") // not *.json: Prometheus never reads it half-written
	if err != nil {
		return "", fmt.Errorf("writing target file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing target file: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing target file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing target file: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s%s-%d.json", targetPrefix, metrics.Addr(), id))
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("writing target file: %w", err)
	}
	return path, nil
}

// removeStaleTargetFiles deletes the target files of slaves that died
// without cleaning up: those whose every target refuses connections. It
// returns the paths it removed.
func removeStaleTargetFiles(dir string, timeout time.Duration) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, targetPrefix+"*.json"))
	if err != nil {
		return nil, err
	}
	var removed []string
	var errs []error
	for _, path := range paths {
		if !stale(path, timeout) {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// stale reports whether no target in the file at path answers. A file that
// cannot be parsed is stale too: no slave writes such a file.
func stale(path string, timeout time.Duration) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false // gone already, or unreadable: leave it to its owner
	}
	var groups []promsd.TargetGroup
	if err := json.Unmarshal(b, &groups); err != nil {
		return true
	}
	for _, g := range groups {
		for _, target := range g.Targets {
			c, err := net.DialTimeout("tcp", target, timeout)
			if err == nil {
				c.Close()
				return false
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return false // slow or unreachable, not proven dead
			}
		}
	}
	return true
}
