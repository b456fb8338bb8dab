//go:build !linux

package slave

// yieldToOthers is a no-op where a thread's priority cannot be set alone.
func yieldToOthers() {}
