package bench

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCheckTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in          string
		allowRemote bool
		want        string // "" for an error
	}{
		{"http://127.0.0.1:4242", false, "http://127.0.0.1:4242"},
		{"http://127.0.0.1:4242/", false, "http://127.0.0.1:4242"},
		{"http://127.1.2.3:80", false, "http://127.1.2.3:80"},
		{"http://localhost:4242", false, "http://localhost:4242"},
		{"http://[::1]:4242", false, "http://[::1]:4242"},
		{"http://10.0.0.5:4242", false, ""},
		{"http://example.com:4242", false, ""},
		{"http://0.0.0.0:4242", false, ""},
		{"http://10.0.0.5:4242", true, "http://10.0.0.5:4242"},
		{"ftp://127.0.0.1:21", false, ""},
		{"127.0.0.1:4242", false, ""},
		{"http://127.0.0.1:4242/fibonacci?n=3", false, ""},
		{"http://", false, ""},
	} {
		got, err := CheckTarget(tc.in, tc.allowRemote)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("CheckTarget(%q, %v) = %q, want an error", tc.in, tc.allowRemote, got)
		case tc.want != "" && (err != nil || got != tc.want):
			t.Errorf("CheckTarget(%q, %v) = %q, %v; want %q", tc.in, tc.allowRemote, got, err, tc.want)
		}
	}
	if _, err := CheckTarget("http://192.168.1.9:4242", false); err == nil || !strings.Contains(err.Error(), "-allow-remote") {
		t.Errorf("the refusal does not name -allow-remote: %v", err)
	}
}

func TestLoopbackOnlyDialer(t *testing.T) {
	t.Parallel()
	for addr, ok := range map[string]bool{
		"127.0.0.1:80": true, "127.9.9.9:1": true, "[::1]:80": true, "[::ffff:127.0.0.1]:80": true,
		"10.0.0.1:80": false, "[2001:db8::1]:80": false, "0.0.0.0:80": false, "bogus": false,
	} {
		if err := loopbackOnly("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("loopbackOnly(%s) = %v", addr, err)
		}
	}
}

func TestCheckExtraArgs(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-poll-interval", "250ms"}, {"--drain-timeout=1s"}, nil, {"least_load"}} {
		if err := CheckExtraArgs("master", args); err != nil {
			t.Errorf("%q: %v", args, err)
		}
	}
	for _, args := range [][]string{{"-iface", "eth0"}, {"--http=:80"}, {"-discovery", ":3000"}, {"-master=10.0.0.1"},
		{"-x", "1", "-metrics-addr", "0.0.0.0:1"}, {"-sd-dir", "/tmp"}, {"-log-level=debug"}} {
		if err := CheckExtraArgs("slave", args); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

func TestParseAlgorithms(t *testing.T) {
	t.Parallel()
	got, err := ParseAlgorithms(" round_robin,least_load,round_robin ")
	if err != nil || len(got) != 2 || got[0] != "round_robin" || got[1] != "least_load" {
		t.Fatalf("ParseAlgorithms = %q, %v", got, err)
	}
	for _, bad := range []string{"", ",", "nope", "round_robin,nope"} {
		if _, err := ParseAlgorithms(bad); err == nil {
			t.Errorf("ParseAlgorithms(%q) accepted", bad)
		}
	}
	if len(NewOptions().Algorithms) < 4 {
		t.Errorf("default algorithms %q: want every one the master knows", NewOptions().Algorithms)
	}
}

func TestMasterAlgorithms(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fake := filepath.Join(dir, "master")
	script := "#!/bin/sh\nprintf 'usage: master [flags] [algorithm]\\n\\nalgorithms: a_one, b_two (default b_two)\\n\\nflags:\\n' >&2\nexit 0\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := MasterAlgorithms(context.Background(), fake); !reflect.DeepEqual(got, []string{"a_one", "b_two"}) {
		t.Fatalf("MasterAlgorithms = %q", got)
	}
	if got := MasterAlgorithms(context.Background(), filepath.Join(dir, "missing")); got != nil {
		t.Fatalf("MasterAlgorithms of a missing binary = %q", got)
	}
}
