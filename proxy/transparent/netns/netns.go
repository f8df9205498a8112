//go:build linux

// Package netns creates named network namespaces (ip netns add) and opens
// sockets inside them from a running Go process, for tests and the load
// harness of transparent mode: iptables rules then apply to a namespace the
// caller owns, never to the host's.
package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// runDir is where `ip netns add` mounts named namespaces.
const runDir = "/var/run/netns"

// Missing names what the caller lacks to create namespaces and write
// iptables rules in them (root, ip, the given tools); "" when nothing.
func Missing(tools ...string) string {
	var miss []string
	if os.Geteuid() != 0 {
		miss = append(miss, "root (network namespaces and iptables need CAP_SYS_ADMIN and CAP_NET_ADMIN)")
	} else if c := missingCaps(); c != "" {
		miss = append(miss, c)
	}
	for _, t := range append([]string{"ip"}, tools...) {
		if _, err := exec.LookPath(t); err != nil {
			miss = append(miss, t+" (not in PATH)")
		}
	}
	return strings.Join(miss, ", ")
}

// Capability bits (linux/capability.h).
const (
	capNetAdmin = 12
	capSysAdmin = 21
)

// missingCaps names the effective capabilities a root process in a
// restricted container may lack.
func missingCaps() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for l := range strings.Lines(string(b)) {
		v, ok := strings.CutPrefix(l, "CapEff:")
		if !ok {
			continue
		}
		eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return ""
		}
		var miss []string
		if eff&(1<<capNetAdmin) == 0 {
			miss = append(miss, "CAP_NET_ADMIN")
		}
		if eff&(1<<capSysAdmin) == 0 {
			miss = append(miss, "CAP_SYS_ADMIN")
		}
		return strings.Join(miss, ", ")
	}
	return ""
}

// NS is a named network namespace.
type NS struct{ Name string }

// Create adds a namespace and brings its loopback up.
func Create(ctx context.Context, name string) (*NS, error) {
	if out, err := exec.CommandContext(ctx, "ip", "netns", "add", name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("netns add %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	n := &NS{Name: name}
	if err := n.Run(ctx, "ip", "link", "set", "lo", "up"); err != nil {
		_ = n.Delete()
		return nil, err
	}
	return n, nil
}

// Delete removes the namespace (its interfaces and rules go with it).
func (n *NS) Delete() error {
	if out, err := exec.Command("ip", "netns", "del", n.Name).CombinedOutput(); err != nil {
		return fmt.Errorf("netns del %s: %w: %s", n.Name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Command is name args… run inside the namespace (ip netns exec, which
// execs: the command's pid is the process's).
func (n *NS) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command inside the namespace; the error carries its output.
func (n *NS) Run(ctx context.Context, name string, args ...string) error {
	_, err := n.Output(ctx, name, args...)
	return err
}

// Output runs a command inside the namespace and returns its combined
// output.
func (n *NS) Output(ctx context.Context, name string, args ...string) (string, error) {
	out, err := n.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netns %s: %s %s: %w: %s", n.Name, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Do runs fn on an OS thread that has entered the namespace. Sockets fn
// creates stay in the namespace for their whole life, whichever thread
// later uses them; nothing else of the process moves.
func (n *NS) Do(fn func() error) error {
	target, err := os.Open(runDir + "/" + n.Name)
	if err != nil {
		return fmt.Errorf("netns %s: %w", n.Name, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns: own namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netns %s: setns: %w", n.Name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Leave the thread locked: the runtime ends it with this
			// goroutine instead of reusing a thread in the wrong namespace.
			errc <- errors.Join(ferr, fmt.Errorf("netns: return to own namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Listen opens a listener inside the namespace.
func (n *NS) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	err := n.Do(func() (err error) {
		ln, err = net.Listen(network, addr)
		return err
	})
	return ln, err
}

// DialContext connects from inside the namespace; addr must be an IP
// literal (name resolution would run on other threads).
func (n *NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := n.Do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}
