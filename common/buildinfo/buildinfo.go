// Package buildinfo describes the running binary from the build information
// the Go toolchain stamps into it: the module version and the VCS revision
// it was built from, so a binary on a host can be matched to a commit.
//
// The toolchain stamps the revision only when it finds a .git directory
// (not a git worktree's .git file) and -buildvcs is not false, so the
// Makefile also passes what git says through the linker (-X), and that
// wins when set.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by the Makefile with -ldflags -X; empty in a plain go build.
var (
	version  string // git describe --tags --always --dirty
	revision string // git rev-parse HEAD
	modified string // "true" when the work tree had uncommitted changes
)

// Version is one line naming the program, its module version, the VCS
// revision (with ", modified" when the tree had uncommitted changes), the Go
// version and the platform, e.g.
//
//	master v0.0.0-20261201211108-3e696c5a1b2c (revision 3e696c5a1b2c..., modified) go1.26.8 linux/amd64
func Version(program string) string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return fmt.Sprintf("%s (no build information) %s %s/%s", program, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	return describe(program, stamped(info))
}

// stamped returns info with the Makefile's values, where it set them, in
// place of the toolchain's.
func stamped(info *debug.BuildInfo) *debug.BuildInfo {
	out := *info
	if version != "" {
		out.Main.Version = version
	}
	if revision == "" {
		return &out
	}
	out.Settings = nil
	for _, s := range info.Settings {
		if s.Key != "vcs.revision" && s.Key != "vcs.modified" {
			out.Settings = append(out.Settings, s)
		}
	}
	out.Settings = append(out.Settings,
		debug.BuildSetting{Key: "vcs.revision", Value: revision},
		debug.BuildSetting{Key: "vcs.modified", Value: modified})
	return &out
}

// describe formats info; apart from Version so tests can feed it.
func describe(program string, info *debug.BuildInfo) string {
	version := info.Main.Version
	if version == "" {
		version = "(devel)" // go run, or a build outside module mode
	}
	var revision, modified, goos, goarch string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", program, version)
	switch {
	case revision == "":
		b.WriteString(" (no VCS revision)")
	case modified == "true":
		fmt.Fprintf(&b, " (revision %s, modified)", revision)
	default:
		fmt.Fprintf(&b, " (revision %s)", revision)
	}
	if goos == "" {
		goos, goarch = runtime.GOOS, runtime.GOARCH
	}
	fmt.Fprintf(&b, " %s %s/%s", info.GoVersion, goos, goarch)
	return b.String()
}
