//go:build !linux

package adversarial

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
