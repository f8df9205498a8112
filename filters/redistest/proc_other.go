//go:build unix && !linux

package redistest

import "syscall"

// sysProcAttr has no parent-death signal outside Linux: a crashed test run
// may leave its redis-server running there.
func sysProcAttr() *syscall.SysProcAttr { return nil }
