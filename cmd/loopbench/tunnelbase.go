package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// tunnelBaseEnv makes the binary serve as a minimal CONNECT proxy
// ("LISTEN" or "LISTEN,copy"): the ceiling of a tunnel in user space on
// this machine, to tell what loopguard's CONNECT path costs from what any
// proxy process that copies the bytes costs. It reads the CONNECT head,
// dials, answers 200 and copies both ways between the raw *net.TCPConn, so
// Go uses splice(2); with ",copy" it copies through a 32 KiB buffer
// (read/write), as a proxy that wraps its connections does.
const tunnelBaseEnv = "LOOPBENCH_TUNNEL_BASELINE"

// Ways the baseline copies (viaConnectBase* cases).
const (
	tunnelModeSplice = "splice"
	tunnelModeCopy   = "copy"
)

// tunnelDialTimeout bounds the baseline's dial to the CONNECT target.
const tunnelDialTimeout = 5 * time.Second

// serveTunnelBase runs the baseline until SIGTERM.
func serveTunnelBase(spec string) error {
	listen, mode, _ := strings.Cut(spec, ",")
	if mode == "" {
		mode = tunnelModeSplice
	}
	if mode != tunnelModeSplice && mode != tunnelModeCopy {
		return fmt.Errorf("%s=%q: mode must be %s or %s", tunnelBaseEnv, spec, tunnelModeSplice, tunnelModeCopy)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("tunnel baseline: listen: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return acceptUntil(ctx, ln, "tunnel baseline", func(c net.Conn) { tunnelBaseConn(c.(*net.TCPConn), mode) })
}

// acceptUntil serves each connection ln accepts on its own goroutine until
// ctx ends (a baseline's SIGTERM), then closes ln and returns nil.
func acceptUntil(ctx context.Context, ln net.Listener, name string, serve func(net.Conn)) error {
	go func() { <-ctx.Done(); _ = ln.Close() }()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: accept: %w", name, err)
		}
		go serve(c)
	}
}

// tunnelBaseConn serves one client: a CONNECT (tunnelled) or a GET /ready
// (answered 200, for startTunnelBase).
func tunnelBaseConn(c *net.TCPConn, mode string) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", req.Host, tunnelDialTimeout)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	if n := br.Buffered(); n > 0 { // early bytes (a ClientHello sent with the CONNECT)
		head, _ := br.Peek(n)
		if _, err := up.Write(head); err != nil {
			return
		}
	}
	upTCP := up.(*net.TCPConn)
	done := make(chan struct{})
	go func() {
		tunnelCopy(upTCP, c, mode)
		_ = upTCP.CloseWrite()
		close(done)
	}()
	tunnelCopy(c, upTCP, mode)
	_ = c.CloseWrite()
	<-done
}

// tunnelCopy copies src to dst: io.Copy between *net.TCPConn (splice) or
// through a buffer that hides the connections' types (read/write).
func tunnelCopy(dst, src *net.TCPConn, mode string) {
	if mode == tunnelModeSplice {
		_, _ = io.Copy(dst, src)
		return
	}
	buf := make([]byte, 32<<10)
	_, _ = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf)
}

// tunnelBaseProc is a running baseline tunnel (a child of this binary).
type tunnelBaseProc struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

// startTunnelBase starts the baseline in the given mode and waits until it
// answers.
func startTunnelBase(ctx context.Context, mode string) (*tunnelBaseProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("tunnel baseline: find own binary: %w", err)
	}
	ports, err := freeAddrs(1)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), tunnelBaseEnv+"="+ports[0]+","+mode)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("tunnel baseline: start: %w", err)
	}
	t := &tunnelBaseProc{cmd: cmd, addr: ports[0], done: make(chan error, 1)}
	go func() { t.done <- cmd.Wait() }()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case err := <-t.done:
			t.done <- err
			return nil, fmt.Errorf("tunnel baseline exited before ready: %v", err)
		default:
		}
		if resp, err := c.Get("http://" + t.addr + "/ready"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return t, nil
			}
		}
		time.Sleep(readyPoll)
	}
	t.stop()
	return nil, fmt.Errorf("tunnel baseline not ready after %s", readyTimeout)
}

// pids is the baseline's process.
func (t *tunnelBaseProc) pids() []int { return []int{t.cmd.Process.Pid} }

// stop sends SIGTERM and waits.
func (t *tunnelBaseProc) stop() {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(stopTimeout):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
}

// tunnelBases are the running baselines by mode (a missing one was skipped;
// skip says why).
type tunnelBases struct {
	procs map[string]*tunnelBaseProc
	skip  map[string]string
}

// startTunnelBases starts one baseline per mode.
func startTunnelBases(ctx context.Context) *tunnelBases {
	b := &tunnelBases{procs: map[string]*tunnelBaseProc{}, skip: map[string]string{}}
	for _, m := range []string{tunnelModeSplice, tunnelModeCopy} {
		p, err := startTunnelBase(ctx, m)
		if err != nil {
			b.skip[m] = firstLine(err.Error())
			continue
		}
		b.procs[m] = p
	}
	return b
}

func (b *tunnelBases) stop() {
	for _, p := range b.procs {
		p.stop()
	}
}

// Ways of the baseline tunnel cases.
const (
	viaConnectBaseSplice = "connect_base_splice"
	viaConnectBaseCopy   = "connect_base_copy"
)

// tunnelBaseCases are the outbound writes through the baselines, to the
// same TLS host as the CONNECT case.
func tunnelBaseCases(e caseEnv) []*benchCase {
	var cs []*benchCase
	for _, v := range []struct{ via, mode string }{{viaConnectBaseSplice, tunnelModeSplice}, {viaConnectBaseCopy, tunnelModeCopy}} {
		c := &benchCase{name: "outbound_" + v.via, group: groupOutbound, via: v.via, rate: e.opts.Rate}
		c.target.seq = new(atomic.Uint64)
		var p *tunnelBaseProc
		if e.tunnels != nil {
			p = e.tunnels.procs[v.mode]
		}
		if p == nil {
			c.skip = "tunnel baseline not started"
			if e.tunnels != nil {
				c.skip = "tunnel baseline: " + e.tunnels.skip[v.mode]
			}
			cs = append(cs, c)
			continue
		}
		c.target.client = newClient(e.opts.Conns, &url.URL{Scheme: "http", Host: p.addr}, e.srv.certPool)
		c.target.next = e.w.writeRequests("https://" + e.srv.tunnelAddr)
		c.procs = p.pids
		cs = append(cs, c)
	}
	return cs
}

// tunnelBaseMetrics are the baselines' ratios to direct HTTPS and
// loopguard's CONNECT ratio to the splicing baseline.
func (r *report) tunnelBaseMetrics(add func(string, float64)) {
	outD, conn := r.caseOf(groupOutbound, viaDirect), r.caseOf(groupOutbound, viaConnect)
	sp, cp := r.caseOf(groupOutbound, viaConnectBaseSplice), r.caseOf(groupOutbound, viaConnectBaseCopy)
	add("connect_base_splice_rps_ratio_direct", ratio(sp.rps(), outD.rps()))
	add("connect_base_copy_rps_ratio_direct", ratio(cp.rps(), outD.rps()))
	add("connect_rps_ratio_connect_base_splice", ratio(conn.rps(), sp.rps()))
	r.harnessCPUMetrics(add)
}

// harnessPID is this process (the load generator and the fake servers),
// whose CPU per request says what a proxy in the path costs the client and
// server side too.
func harnessPID() []int { return []int{os.Getpid()} }

// harnessCPUMetrics are, for the outbound and transparent cases, the
// harness's CPU seconds per 1,000 requests at saturation.
func (r *report) harnessCPUMetrics(add func(string, float64)) {
	for _, c := range r.cases {
		if c.group != groupOutbound && c.group != groupTransparent {
			continue
		}
		v := nan()
		if c.skip == "" {
			v = per1k(c.res.harnessSatCPU, c.res.satReqs)
		}
		add(c.name+"_harness_sat_cpu_s_per_1k", v)
	}
}
