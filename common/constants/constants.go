// Package constants holds the values every node must agree on. Tunable
// timeouts and limits live in each daemon's Options, not here.
package constants

const (
	// DiscoveryPort is the UDP port the master listens on for join requests.
	DiscoveryPort = 3000
	// HTTPPort is the master's default HTTP port.
	HTTPPort = 4242
)
