package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat (100
// on every Linux architecture Go supports).
const clockTicks = 100

// Field positions in /proc/<pid>/stat after the command name's ")":
// state is field 3, ppid 4, utime 14, stime 15.
const (
	statPPID  = 4 - 3
	statUTime = 14 - 3
	statSTime = 15 - 3
)

// procStat is what /proc/<pid>/stat says about one process.
type procStat struct {
	ppid         int
	utime, stime int64 // clock ticks
}

// readStat parses /proc/<pid>/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse stat of pid %d: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) <= statSTime {
		return procStat{}, fmt.Errorf("parse stat of pid %d: %d fields", pid, len(f))
	}
	var st procStat
	var errs [3]error
	st.ppid, errs[0] = strconv.Atoi(f[statPPID])
	st.utime, errs[1] = strconv.ParseInt(f[statUTime], 10, 64)
	st.stime, errs[2] = strconv.ParseInt(f[statSTime], 10, 64)
	for _, e := range errs {
		if e != nil {
			return procStat{}, fmt.Errorf("parse stat of pid %d: %w", pid, e)
		}
	}
	return st, nil
}

// cpuSeconds is the user+system CPU time of the processes (a process that
// is gone counts 0).
func cpuSeconds(pids []int) float64 {
	var ticks int64
	for _, pid := range pids {
		if st, err := readStat(pid); err == nil {
			ticks += st.utime + st.stime
		}
	}
	return float64(ticks) / clockTicks
}

// rssMB is the summed resident set size (VmRSS) of the processes in MiB.
func rssMB(pids []int) float64 {
	var kb int64
	for _, pid := range pids {
		if v, err := statusKB(pid, "VmRSS"); err == nil {
			kb += v
		}
	}
	return float64(kb) / 1024
}

// statusKB reads one "Name:  123 kB" line of /proc/<pid>/status.
func statusKB(pid int, name string) (int64, error) {
	path := "/proc/self/status"
	if pid > 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), name+":")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s in %s: %w", name, path, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("read %s: no %s line", path, name)
}

// withChildren returns pid and its direct children (nginx workers).
func withChildren(pid int) []int {
	out := []int{pid}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		child, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || child == pid {
			continue
		}
		if st, err := readStat(child); err == nil && st.ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// loadAverage is the first line of /proc/loadavg ("" when unreadable).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuModel is the processor's model name from /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
