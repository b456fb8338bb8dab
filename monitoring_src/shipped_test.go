package monitor

import (
	"bytes"
	"os"
	"testing"
)

// deploy/grafana/dashboard.json is what ShippedDashboard generates; after
// a change to the panels, regenerate it with
//
//	UPDATE_SHIPPED=1 go test -run TestShippedDashboard ./monitoring_src
func TestShippedDashboard(t *testing.T) {
	const path = "../deploy/grafana/dashboard.json"
	want, err := ShippedDashboard()
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_SHIPPED") != "" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from what the code generates; run UPDATE_SHIPPED=1 go test -run TestShippedDashboard ./monitoring_src", path)
	}
}
