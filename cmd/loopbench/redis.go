package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger/redisstore"
	"github.com/loopguard/loopguard/filters/redisconn"
	"github.com/redis/go-redis/v9"
)

// redisWarmRecords is the warm ledger size of the Redis decision benchmark
// (each warm write is a network round trip).
const redisWarmRecords = 2000

// redisStartTimeout bounds waiting for a harness-started redis-server.
const redisStartTimeout = 5 * time.Second

// benchDecisionRedis runs the decision benchmark on the Redis ledger over
// loopback: url when given, else a redis-server the harness starts on a
// free port (skipped when neither is possible).
func benchDecisionRedis(l *configs.Loaded, o Options, url string) (decisionResult, string, error) {
	if url == "" {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			return decisionResult{}, "redis-server not installed", nil
		}
		stop, u, err := startRedis(bin)
		if err != nil {
			return decisionResult{}, "", err
		}
		defer stop()
		url = u
	}
	st, err := redisstore.New(redisstore.Options{URL: url, Prefix: fmt.Sprintf("loopbench:%d:", time.Now().UnixNano()),
		Timeout: time.Second})
	if err != nil {
		return decisionResult{}, "", fmt.Errorf("redis decision benchmark: %w", err)
	}
	defer st.Close()
	if err := st.Ping(context.Background()); err != nil {
		return decisionResult{}, "", fmt.Errorf("redis decision benchmark: %s: %w", redisconn.Redact(url), err)
	}
	res, err := benchDecisionOn(l, o, st, redisWarmRecords)
	return res, "", err
}

// startRedis runs a throwaway redis-server on a free loopback port.
func startRedis(bin string) (stop func(), url string, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start redis-server: %w", err)
	}
	stop = func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() }
	url = "redis://127.0.0.1:" + strconv.Itoa(port) + "/0"
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer c.Close()
	deadline := time.Now().Add(redisStartTimeout)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			stop()
			return nil, "", fmt.Errorf("redis-server on port %d did not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stop, url, nil
}
