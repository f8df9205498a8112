//go:build unix

package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// startTimeout bounds how long a started server may take to answer PING.
	startTimeout = 5 * time.Second
	// stopTimeout is how long a server gets to exit after SIGTERM before it
	// is killed.
	stopTimeout = 5 * time.Second
	// pingInterval is the pause between readiness probes.
	pingInterval = 10 * time.Millisecond
	// probeTimeout bounds one readiness probe.
	probeTimeout = 200 * time.Millisecond
	// startAttempts is how often a start on a freshly picked port is tried:
	// another process can grab the port between picking and binding it.
	startAttempts = 3
	// maxLogBytes caps the server output kept for error messages.
	maxLogBytes = 16 << 10
)

// Server is one redis-server process on 127.0.0.1 owned by a test, for
// tests that stop, restart or freeze Redis (which must never be done to
// the shared server). It is safe for concurrent use.
type Server struct {
	bin  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	paused bool
	out    *limitedBuffer
}

// Start starts a dedicated redis-server for tb on a free loopback port and
// stops it when tb ends. It skips tb when redis-server is not installed.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, ok := Binary()
	if !ok {
		tb.Skip("redistest: redis-server is not installed (CI installs it); this test needs its own server to stop and restart")
	}
	s, err := startServer(bin, 0)
	if err != nil {
		tb.Fatalf("redistest: start redis-server: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.stop(); err != nil {
			tb.Errorf("redistest: stop redis-server: %v", err)
		}
	})
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Stop terminates the server (its data is gone: it runs without
// persistence). Stopping a stopped server does nothing.
func (s *Server) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.stop(); err != nil {
		tb.Fatalf("redistest: stop redis-server: %v", err)
	}
}

// Restart starts a stopped server again on the same port.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	running := s.cmd != nil
	s.mu.Unlock()
	if running {
		tb.Fatal("redistest: Restart of a running server")
	}
	if err := s.start(); err != nil {
		tb.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
	}
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing is
// answered, like a hung or partitioned Redis. Resume undoes it; stopping a
// paused server resumes it first.
func (s *Server) Pause(tb testing.TB) {
	tb.Helper()
	if err := s.signal(syscall.SIGSTOP, true); err != nil {
		tb.Fatalf("redistest: pause redis-server: %v", err)
	}
}

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume(tb testing.TB) {
	tb.Helper()
	if err := s.signal(syscall.SIGCONT, false); err != nil {
		tb.Fatalf("redistest: resume redis-server: %v", err)
	}
}

func (s *Server) signal(sig syscall.Signal, paused bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("server is not running")
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %v: %w", sig, err)
	}
	s.paused = paused
	return nil
}

// startServer starts bin on port, or on a free port (retrying a few
// times) when port is 0.
func startServer(bin string, port int) (*Server, error) {
	var errs []error
	for range startAttempts {
		p := port
		if p == 0 {
			var err error
			if p, err = freePort(); err != nil {
				return nil, err
			}
		}
		s := &Server{bin: bin, port: p}
		err := s.start()
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		if port != 0 {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// freePort asks the kernel for a loopback port that is free right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the process and waits until it answers PING.
func (s *Server) start() error {
	out := &limitedBuffer{max: maxLogBytes}
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", s.bin, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done, s.out, s.paused = cmd, done, out, false
	s.mu.Unlock()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-done:
			s.mu.Lock()
			s.cmd = nil
			s.mu.Unlock()
			return fmt.Errorf("redis-server on port %d exited during start: %s", s.port, out.String())
		default:
		}
		if ping(s.Addr()) == nil {
			return nil
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return fmt.Errorf("redis-server on port %d did not answer PING within %s: %s", s.port, startTimeout, out.String())
		}
		time.Sleep(pingInterval)
	}
}

// stop terminates the process (SIGTERM, then SIGKILL after stopTimeout).
func (s *Server) stop() error {
	s.mu.Lock()
	cmd, done, paused := s.cmd, s.done, s.paused
	s.cmd, s.paused = nil, false
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if paused {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(stopTimeout):
	}
	if err := cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill redis-server on port %d: %w", s.port, err)
	}
	<-done
	return nil
}

// ping sends one inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(probeTimeout)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("unexpected PING answer %q", line)
	}
	return nil
}

// limitedBuffer keeps the first max bytes written to it, for diagnostics.
type limitedBuffer struct {
	mu  sync.Mutex
	max int
	b   bytes.Buffer
}

// Write keeps what fits and reports everything written, so the server's
// output pipe never blocks.
func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String returns the kept output.
func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
