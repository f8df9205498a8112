package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
)

// warmConns is the concurrency of the warm-up writes.
const warmConns = 8

// warmLedger writes the echo (c…) and genuine (h…) record sets through the
// forward proxy (MITM: tagged and recorded) while the API captures the
// sentinels, so the inbound cases run on a warm ledger and their echoes
// carry what the API would echo back.
func warmLedger(ctx context.Context, o Options, srv *servers, lg *sidecar) error {
	srv.api.capture.Store(true)
	defer srv.api.capture.Store(false)
	before, err := lg.scrape()
	if err != nil {
		return fmt.Errorf("warm ledger: %w", err)
	}
	client := newClient(warmConns, &url.URL{Scheme: "http", Host: lg.addrs.outbound}, newPool(lg.caPEM))
	defer client.CloseIdleConnections()
	jobs := make(chan string)
	var failed atomic.Int64
	var errs errorSink
	var wg sync.WaitGroup
	for range warmConns {
		wg.Go(func() {
			for id := range jobs {
				i, _ := strconv.Atoi(id[1:])
				req, err := jsonRequest(http.MethodPatch, "https://"+srv.apiAddr+writePath+id, warmBody(i))
				if err == nil {
					req.Header.Set("Authorization", benchToken)
					err = doOK(ctx, client, req)
				}
				if err != nil {
					failed.Add(1)
					errs.add(err.Error())
				}
			}
		})
	}
	for _, prefix := range []string{"c", "h"} {
		for i := range o.WarmRecords {
			jobs <- prefix + strconv.Itoa(i)
		}
	}
	close(jobs)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("warm ledger: %d writes failed, first: %s", n, errs.first)
	}
	after, err := lg.scrape()
	if err != nil {
		return fmt.Errorf("warm ledger: %w", err)
	}
	if got, want := after.recordedWrite-before.recordedWrite, float64(2*o.WarmRecords); got < want {
		return fmt.Errorf("warm ledger: loopguard recorded %.0f writes, want %.0f", got, want)
	}
	if _, ok := srv.api.sentinelOf("c0"); !ok {
		return fmt.Errorf("warm ledger: the API saw no sentinel on the warm writes")
	}
	return nil
}

// doOK sends req and requires a 2xx answer.
func doOK(ctx context.Context, c *http.Client, req *http.Request) error {
	resp, err := c.Do(req.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: status %d", req.Method, req.URL, resp.StatusCode)
	}
	return nil
}
