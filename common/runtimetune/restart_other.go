//go:build !unix

package runtimetune

// Restart does nothing where processes cannot re-execute themselves.
func Restart() error { return nil }
