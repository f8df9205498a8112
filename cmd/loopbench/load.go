package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Open-loop generator settings.
const (
	// openWorkers bounds requests in flight at the fixed rate.
	openWorkers = 64
	// openQueue is how many due requests may wait for a worker before the
	// generator counts them as missed.
	openQueue = 4096
)

// loadTarget is what a load phase sends: requests built by next, sent with
// client; seq numbers come from a counter shared by every phase of a case,
// so event ids never repeat.
type loadTarget struct {
	client *http.Client
	next   requestFunc
	seq    *atomic.Uint64
}

// closedResult is one saturation phase.
type closedResult struct {
	Requests, Errors int64
	Elapsed          time.Duration
	FirstError       string
}

// RPS is requests per second (successful and failed).
func (r closedResult) RPS() float64 { return float64(r.Requests) / r.Elapsed.Seconds() }

// errorSink keeps the first error of a phase.
type errorSink struct {
	once  sync.Once
	first string
}

func (e *errorSink) add(msg string) { e.once.Do(func() { e.first = msg }) }

// send does one request and drains the answer; ok is false on transport
// errors and non-2xx answers.
func (t loadTarget) send(ctx context.Context, errs *errorSink) bool {
	req, err := t.next(t.seq.Add(1))
	if err != nil {
		errs.add(err.Error())
		return false
	}
	resp, err := t.client.Do(req.WithContext(ctx))
	if err != nil {
		if ctx.Err() == nil {
			errs.add(err.Error())
		}
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		errs.add(fmt.Sprintf("%s %s: status %d", req.Method, req.URL.Path, resp.StatusCode))
		return false
	}
	return true
}

// closedLoop runs conns keep-alive clients back to back for d: the maximum
// throughput the system reaches.
func closedLoop(ctx context.Context, t loadTarget, conns int, d time.Duration) closedResult {
	var reqs, fails atomic.Int64
	var errs errorSink
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if !t.send(ctx, &errs) {
					fails.Add(1)
				}
				reqs.Add(1)
			}
		})
	}
	wg.Wait()
	return closedResult{Requests: reqs.Load(), Errors: fails.Load(), Elapsed: time.Since(start), FirstError: errs.first}
}

// openResult is one fixed-rate phase.
type openResult struct {
	Requests, Errors, Missed int64
	Elapsed                  time.Duration
	Latencies                []time.Duration
	FirstError               string
}

// openLoop sends rate req/s for d regardless of answers (so a slow system
// cannot slow the offered load) and records each request's latency.
func openLoop(ctx context.Context, t loadTarget, rate int, d time.Duration) openResult {
	queue := make(chan struct{}, openQueue)
	lats := make([][]time.Duration, openWorkers)
	var fails, missed atomic.Int64
	var errs errorSink
	var wg sync.WaitGroup
	for w := range openWorkers {
		wg.Go(func() {
			for range queue {
				begin := time.Now()
				if !t.send(ctx, &errs) {
					fails.Add(1)
					continue
				}
				lats[w] = append(lats[w], time.Since(begin))
			}
		})
	}
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	total := int64(d / interval)
	var sent int64
	for sent < total && ctx.Err() == nil {
		due := min(int64(time.Since(start)/interval)+1, total)
		for ; sent < due; sent++ {
			select {
			case queue <- struct{}{}:
			default:
				missed.Add(1)
			}
		}
		time.Sleep(time.Until(start.Add(time.Duration(sent) * interval)))
	}
	close(queue)
	wg.Wait()
	all := slices.Concat(lats...)
	slices.Sort(all)
	return openResult{
		Requests: sent - missed.Load(), Errors: fails.Load(), Missed: missed.Load(), Elapsed: time.Since(start),
		Latencies: all, FirstError: errs.first,
	}
}

// percentile of sorted latencies (q in [0,1]); 0 when empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
