package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// cpuProfileSlack is how much longer than the profile itself its fetch may
// take.
const cpuProfileSlack = 30 * time.Second

// cpuProfiler fetches CPU profiles of the loopguard child from its pprof
// listener (--cpuprofile) into dir, one per measured phase.
type cpuProfiler struct {
	dir, addr string
}

// start begins a profile of d (whole seconds, at least one) saved as
// dir/name; wait returns once it is written. A nil profiler does nothing.
func (p *cpuProfiler) start(ctx context.Context, name string, d time.Duration) (wait func() error) {
	if p == nil {
		return func() error { return nil }
	}
	secs := max(int(math.Ceil(d.Seconds())), 1)
	done := make(chan error, 1)
	go func() { done <- p.fetch(ctx, name, secs) }()
	return func() error { return <-done }
}

// fetch saves one profile.
func (p *cpuProfiler) fetch(ctx context.Context, name string, secs int) error {
	c := &http.Client{Timeout: time.Duration(secs)*time.Second + cpuProfileSlack}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", p.addr, secs), nil)
	if err != nil {
		return fmt.Errorf("cpu profile %s: %w", name, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("cpu profile %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, logTailBytes))
		return fmt.Errorf("cpu profile %s: status %d: %s", name, resp.StatusCode, msg)
	}
	f, err := os.Create(filepath.Join(p.dir, name))
	if err != nil {
		return fmt.Errorf("cpu profile %s: %w", name, err)
	}
	_, err = io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("cpu profile %s: %w", name, err)
	}
	return nil
}
