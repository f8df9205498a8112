//go:build linux

package iptables

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loopguard/loopguard/proxy/transparent"
	"github.com/loopguard/loopguard/proxy/transparent/netns"
)

// nsRunner runs every command inside a namespace.
type nsRunner struct{ ns *netns.NS }

func (r nsRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := r.ns.Command(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = strings.NewReader(string(stdin))
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, errors.New(name + " " + strings.Join(args, " ") + ": " + err.Error() + ": " + string(out))
	}
	return out, nil
}

// TestBackendsNetns applies the rules with every backend present, in a
// fresh namespace each: install is idempotent, a captured connection
// reaches the proxy port with its original destination readable
// (SO_ORIGINAL_DST, IP6T_SO_ORIGINAL_DST), an excluded destination is not
// captured, and uninstall restores the rules from before.
func TestBackendsNetns(t *testing.T) {
	if miss := netns.Missing("iptables-save"); miss != "" {
		t.Skip("iptables namespace test needs: " + miss)
	}
	backends := []struct{ name, save, save6 string }{
		{BackendLegacy, "iptables-legacy-save", "ip6tables-legacy-save"},
		{BackendNFTables, "iptables-nft-save", "ip6tables-nft-save"},
		{BackendNFT, "nft", ""},
	}
	for i, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			bin := b.save
			if _, err := exec.LookPath(bin); err != nil {
				t.Skipf("%s not installed", bin)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			ns, err := netns.Create(ctx, "lgipt"+strconv.Itoa(os.Getpid()%100000)+strconv.Itoa(i))
			if err != nil {
				t.Fatal(err)
			}
			defer ns.Delete()
			v6 := ns.Run(ctx, "ip", "-6", "addr", "add", "fd00:1::2/128", "dev", "lo", "nodad") == nil
			run := nsRunner{ns}
			save := func() string {
				if b.name == BackendNFT {
					out, err := run.Run(ctx, nil, "nft", "list", "ruleset")
					if err != nil {
						t.Fatal(err)
					}
					return string(out)
				}
				var s strings.Builder
				for _, tool := range []string{b.save, b.save6} {
					out, err := run.Run(ctx, nil, tool)
					if err != nil {
						t.Fatal(err)
					}
					for l := range strings.Lines(string(out)) {
						if strings.HasPrefix(l, "-") || strings.HasPrefix(l, ":LOOPGUARD") {
							s.WriteString(l)
						}
					}
				}
				return s.String()
			}
			o := Defaults()
			o.ExcludeUIDs = []int{4242} // not us: our own test client must be captured
			install := func() {
				t.Helper()
				var err error
				if b.name == BackendNFT {
					err = NFT{Run: run}.Install(ctx, o, v6)
				} else {
					err = Tables{Binary: strings.TrimSuffix(b.save, "-save"), Run: run}.Install(ctx, Build(o, IPv4))
					if err == nil && v6 {
						err = Tables{Binary: strings.TrimSuffix(b.save6, "-save"), Run: run}.Install(ctx, Build(o, IPv6))
					}
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			before := save()
			install()
			once := save()
			install()
			if twice := save(); twice != once {
				t.Fatalf("second install changed the rules:\n%s\n---\n%s", once, twice)
			}
			checkCaptured(t, ns, "127.0.0.1:15001", "127.0.0.2:443")
			checkNotCaptured(t, ns, "127.0.0.1:443")
			if v6 {
				checkCaptured(t, ns, "[::1]:15001", "[fd00:1::2]:443")
			}
			var uerr error
			if b.name == BackendNFT {
				uerr = NFT{Run: run}.Uninstall(ctx)
			} else {
				uerr = Tables{Binary: strings.TrimSuffix(b.save, "-save"), Run: run}.Uninstall(ctx)
				if uerr == nil {
					uerr = Tables{Binary: strings.TrimSuffix(b.save6, "-save"), Run: run}.Uninstall(ctx)
				}
			}
			if uerr != nil {
				t.Fatal(uerr)
			}
			if after := save(); after != before {
				t.Fatalf("uninstall left rules behind:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// checkCaptured: a connection to dst lands on the proxy listener, which
// reads dst back as the original destination.
func checkCaptured(t *testing.T, ns *netns.NS, proxy, dst string) {
	t.Helper()
	ln, err := ns.Listen("tcp", proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan netip.AddrPort, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- netip.AddrPort{}
			return
		}
		defer c.Close()
		d, err := transparent.OriginalDst(c.(*net.TCPConn))
		if err != nil {
			t.Errorf("OriginalDst: %v", err)
		}
		got <- d
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", dst)
	if err != nil {
		t.Fatalf("dial %s (should be redirected to %s): %v", dst, proxy, err)
	}
	defer c.Close()
	if d := <-got; d != netip.MustParseAddrPort(dst) {
		t.Fatalf("original destination %v, want %s", d, dst)
	}
}

// checkNotCaptured: an excluded destination is dialed directly (nothing
// listens there, so the connection is refused).
func checkNotCaptured(t *testing.T, ns *netns.NS, dst string) {
	t.Helper()
	ln, err := ns.Listen("tcp", "127.0.0.1:15001")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := ns.DialContext(ctx, "tcp", dst)
	if err == nil {
		c.Close()
		t.Fatalf("dial %s succeeded: an excluded destination was captured", dst)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s: %v, want connection refused", dst, err)
	}
}
