package e2e

import (
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make demo with its UDP discovery port taken stops at once and says why,
// rather than waiting for slaves that cannot join.
func TestDemoShowsTakenUDPPort(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		skipOrFail(t, "make is not installed: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	taken, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := strings.TrimPrefix(taken.LocalAddr().String(), "127.0.0.1:")
	cmd := exec.Command("make", "-s", "demo")
	cmd.Dir = root
	cmd.Env = append(cleanEnv(), "DEMO_HTTP="+promFreeAddr(t), "DEMO_DISCOVERY_PORT="+port)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("make demo succeeded with UDP %s taken:\n%s", port, out)
	}
	for _, want := range []string{"the master did not start", "address already in use", "UDP port " + port} {
		if !strings.Contains(string(out), want) {
			t.Errorf("make demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "slaves did not join") {
		t.Errorf("make demo waited for the slaves:\n%s", out)
	}
}
