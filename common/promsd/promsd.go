// Package promsd is the target-group format shared by Prometheus' file_sd
// (the target files slaves write for their host's Prometheus) and http_sd
// (the master's /sd/targets), so both label slaves the same way.
package promsd

import (
	"net/netip"
	"strconv"
)

// TargetGroup is one entry of the file_sd and http_sd JSON lists.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// SlaveGroup is the target group of one slave's metrics endpoint: labels
// slave_id (the slave's ID) and host (its IP).
func SlaveGroup(id uint16, metrics netip.AddrPort) TargetGroup {
	return TargetGroup{
		Targets: []string{metrics.String()},
		Labels:  map[string]string{"slave_id": strconv.Itoa(int(id)), "host": metrics.Addr().String()},
	}
}
