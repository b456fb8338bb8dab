//go:build !unix

package main

import "os/exec"

// killGroupOnCancel: without process groups, only go test itself is killed
// when the context ends (exec's default).
func killGroupOnCancel(*exec.Cmd) {}
