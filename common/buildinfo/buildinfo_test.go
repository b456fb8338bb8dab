package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	setting := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	for _, tc := range []struct {
		name     string
		version  string
		settings []debug.BuildSetting
		want     string
	}{
		{"tagged", "v1.2.0", setting("vcs.revision", "abc123", "vcs.modified", "false", "GOOS", "linux", "GOARCH", "arm64"),
			"slave v1.2.0 (revision abc123) go1.26.8 linux/arm64"},
		{"modified tree", "v0.0.0-20261201211108-3e696c5a1b2c+dirty", setting("vcs.revision", "3e696c5", "vcs.modified", "true", "GOOS", "windows", "GOARCH", "amd64"),
			"slave v0.0.0-20261201211108-3e696c5a1b2c+dirty (revision 3e696c5, modified) go1.26.8 windows/amd64"},
		{"no vcs", "", setting("GOOS", "linux", "GOARCH", "arm"),
			"slave (devel) (no VCS revision) go1.26.8 linux/arm"},
		{"no platform settings", "v1.0.0", nil,
			"slave v1.0.0 (no VCS revision) go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: tc.version}, Settings: tc.settings}
			if got := describe("slave", info); got != tc.want {
				t.Errorf("describe = %q, want %q", got, tc.want)
			}
		})
	}
}

// A test binary has build information too: Version names the program and
// the Go that built it.
func TestVersionOfThisBinary(t *testing.T) {
	got := Version("master")
	if !strings.HasPrefix(got, "master ") || !strings.Contains(got, runtime.Version()) {
		t.Errorf("Version = %q, want the program name and %s", got, runtime.Version())
	}
}

// The Makefile's -X values replace the toolchain's revision and version.
func TestStampedWins(t *testing.T) {
	old := [3]string{version, revision, modified}
	t.Cleanup(func() { version, revision, modified = old[0], old[1], old[2] })
	version, revision, modified = "v1.4.0-3-gabc1234-dirty", "abc1234fff", "true"
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0000"}, {Key: "vcs.modified", Value: "false"}, {Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"},
	}}
	want := "bench v1.4.0-3-gabc1234-dirty (revision abc1234fff, modified) go1.26.8 linux/amd64"
	if got := describe("bench", stamped(info)); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if info.Settings[0].Value != "0000" {
		t.Error("stamped changed the build information it was given")
	}
}
