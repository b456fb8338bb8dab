//go:build !unix

package usertask

import "os/exec"

// ownGroup: without process groups, only the program itself is killed when
// the context ends (exec's default); its children may outlive it.
func ownGroup(*exec.Cmd) {}

func killGroup(*exec.Cmd) {}
