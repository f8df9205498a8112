package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// runQueueSeconds is how long the processes' threads have waited, runnable,
// on a run queue of the kernel for a CPU (the second field of each
// /proc/<pid>/task/<tid>/schedstat), summed: the other half of the tail
// (--tail). A goroutine's wait for a CPU (tail.go) only covers the time
// the Go scheduler sees; a whole process descheduled by the kernel, its
// network poller with it, shows here. Threads that exited, processes that
// are gone and kernels without schedstat count 0.
func runQueueSeconds(pids []int) float64 {
	var ns int64
	for _, pid := range pids {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		if err != nil {
			continue
		}
		for _, t := range tasks {
			if w, ok := schedstatWait(t); ok {
				ns += w
			}
		}
	}
	return float64(ns) / 1e9
}

// schedstatWait reads the run-queue wait (ns) from one schedstat file:
// "<run ns> <wait ns> <timeslices>".
func schedstatWait(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	w, err := strconv.ParseInt(f[1], 10, 64)
	return w, err == nil
}
