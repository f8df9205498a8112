package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// fakeResolver answers from a script: the i-th lookup of a name gets
// answers[name][min(i, last)], counting lookups.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]string
	calls   map[string]int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	as, ok := r.answers[host]
	i := r.calls[host]
	r.calls[host]++
	if !ok || len(as) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, s := range strings.Fields(as[min(i, len(as)-1)]) {
		out = append(out, netip.MustParseAddr(s))
	}
	return out, nil
}

func (r *fakeResolver) count(host string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[host]
}

// fakeDialer records every address dialled; addresses in fail refuse.
type fakeDialer struct {
	mu     sync.Mutex
	dialed []string
	fail   map[string]bool
}

func (d *fakeDialer) DialContext(_ context.Context, _, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	d.mu.Unlock()
	if d.fail[addr] {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	c1, c2 := net.Pipe()
	go func() { _ = c2.Close() }()
	return c1, nil
}

func (d *fakeDialer) all() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

// TestDialNoRebinding: a name that answers a public address at the check
// and a private one afterwards is dialled at the address checked, and
// looked up exactly once per dial.
func TestDialNoRebinding(t *testing.T) {
	t.Parallel()
	r := &fakeResolver{answers: map[string][]string{"rebind.example": {"93.184.216.34", "127.0.0.1"}}}
	d := &fakeDialer{}
	p := New(Options{Resolver: r, Dialer: d})
	c, err := p.Dial(context.Background(), "tcp", "rebind.example:443", false)
	if err != nil {
		t.Fatalf("first dial: %v", err)
	}
	_ = c.Close()
	if got := d.all(); len(got) != 1 || got[0] != "93.184.216.34:443" {
		t.Fatalf("dialled %v; want exactly the checked 93.184.216.34:443", got)
	}
	if n := r.count("rebind.example"); n != 1 {
		t.Fatalf("%d lookups for one dial; want 1", n)
	}
	// The name now rebinds to loopback: the next dial checks that answer
	// and refuses it without dialling.
	_, err = p.Dial(context.Background(), "tcp", "rebind.example:443", false)
	de, ok := AsDenied(err)
	if !ok || de.Decision.Reason != ReasonLoopback {
		t.Fatalf("second dial err = %v; want a loopback refusal", err)
	}
	if got := d.all(); len(got) != 1 {
		t.Fatalf("a refused destination was dialled: %v", got)
	}
	// A Target dials what it checked, whatever the resolver says later.
	r.answers["late.example"] = []string{"93.184.216.35", "10.0.0.1"}
	tg, err := p.Check(context.Background(), "late.example:8443", false)
	must(t, err)
	_, _ = r.LookupNetIP(context.Background(), "ip", "late.example")
	c, err = tg.Dial(context.Background(), "tcp")
	must(t, err)
	_ = c.Close()
	if got := d.all(); got[len(got)-1] != "93.184.216.35:8443" {
		t.Fatalf("target dialled %v; want the checked address", got)
	}
}

func TestRefusedIsNeverDialled(t *testing.T) {
	t.Parallel()
	r := &fakeResolver{answers: map[string][]string{
		"metadata.internal": {"169.254.169.254"}, "mixed.example": {"93.184.216.34 10.0.0.1"},
	}}
	d := &fakeDialer{}
	var seen []Decision
	p := New(Options{Resolver: r, Dialer: d, OnDecision: func(_ DecideArgs, dec Decision) { seen = append(seen, dec) }})
	for addr, want := range map[string]Reason{
		"169.254.169.254:80": ReasonLinkLocal, "metadata.internal:80": ReasonLinkLocal,
		"mixed.example:443": ReasonPrivate, "[fe80::1%25eth0]:80": ReasonLinkLocal, "[fe80::1%eth0]:80": ReasonLinkLocal,
		"127.0.0.1:9090": ReasonLoopback, "nx.example:443": ReasonResolveFailed, "no-port.example": ReasonInvalid,
		"x.example:0": ReasonInvalid, "x.example:99999": ReasonInvalid, ":443": ReasonInvalid,
	} {
		seen = nil
		_, err := p.Dial(context.Background(), "tcp", addr, false)
		de, ok := AsDenied(err)
		if !ok || de.Decision.Reason != want {
			t.Errorf("Dial(%s) err = %v; want %s", addr, err, want)
			continue
		}
		if len(seen) != 1 || seen[0] != de.Decision {
			t.Errorf("Dial(%s): OnDecision saw %v; want the one refusal", addr, seen)
		}
	}
	if got := d.all(); len(got) != 0 {
		t.Fatalf("refused destinations were dialled: %v", got)
	}
}

func TestTunnelModesDoNotResolveWhatTheyRefuse(t *testing.T) {
	t.Parallel()
	r := &fakeResolver{answers: map[string][]string{"api.example.com": {"93.184.216.34"}}}
	for _, c := range []struct {
		tunnel Tunnel
		allow  []string
		want   Reason
	}{
		{TunnelNone, nil, ReasonTunnelDisabled},
		{TunnelNone, []string{"api.example.com", "0.0.0.0/0"}, ReasonTunnelDisabled},
		{TunnelConfigured, []string{"other.example"}, ReasonNotConfigured},
	} {
		al, err := ParseAllow(c.allow)
		must(t, err)
		before := r.count("api.example.com")
		p := New(Options{Resolver: r, Dialer: &fakeDialer{}, Tunnel: c.tunnel, Allow: al})
		_, err = p.Dial(context.Background(), "tcp", "api.example.com:443", false)
		if de, ok := AsDenied(err); !ok || de.Decision.Reason != c.want {
			t.Errorf("%s %v: err = %v; want %s", c.tunnel, c.allow, err, c.want)
		}
		if r.count("api.example.com") != before {
			t.Errorf("%s %v: the name was resolved though no answer could allow it", c.tunnel, c.allow)
		}
		// A provider host still goes through.
		if _, err := p.Dial(context.Background(), "tcp", "api.example.com:443", true); err != nil {
			t.Errorf("%s: provider host refused: %v", c.tunnel, err)
		}
	}
}

func TestDialTriesCheckedAddressesInOrder(t *testing.T) {
	t.Parallel()
	r := &fakeResolver{answers: map[string][]string{"two.example": {"93.184.216.34 2606:2800:220:1::1"}}}
	d := &fakeDialer{fail: map[string]bool{"93.184.216.34:443": true}}
	p := New(Options{Resolver: r, Dialer: d})
	c, err := p.Dial(context.Background(), "tcp", "two.example:443", false)
	must(t, err)
	_ = c.Close()
	if got := d.all(); len(got) != 2 || got[1] != "[2606:2800:220:1::1]:443" {
		t.Fatalf("dialled %v", got)
	}
	_, err = p.Dial(context.Background(), "tcp4", "two.example:443", false)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("tcp4 dial err = %v; want the refused v4 address only", err)
	}
	if _, ok := AsDenied(err); ok {
		t.Fatal("a failed dial of an allowed address is not a refusal")
	}
}

// TestDialRealListener dials a real TCP listener through the default
// dialer, allowed by an ip:port entry, and refuses its neighbour port.
func TestDialRealListener(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("hi"))
			_ = c.Close()
		}
	}()
	al, err := ParseAllow([]string{ln.Addr().String()})
	must(t, err)
	p := New(Options{Allow: al})
	c, err := p.DialContext(context.Background(), "tcp", ln.Addr().String())
	must(t, err)
	buf := make([]byte, 2)
	_, err = c.Read(buf)
	_ = c.Close()
	if err != nil || string(buf) != "hi" {
		t.Fatalf("read %q, %v", buf, err)
	}
	p.AddListener(ln.Addr().String())
	if _, err := p.DialContext(context.Background(), "tcp", ln.Addr().String()); err == nil {
		t.Fatal("an own listener was dialled despite the allow list")
	}
}

func TestAddListener(t *testing.T) {
	t.Parallel()
	p := New(Options{LocalAddrs: fakeLocal("10.0.0.5")})
	p.AddListener("127.0.0.1:0") // not bound yet: ignored
	p.AddListener("garbage")
	p.AddListener("localhost:7070") // a name counts as every local address
	own := p.own.Load()
	for _, c := range []struct {
		ip   string
		port int
		want bool
	}{
		{"127.0.0.1", 0, false}, {"127.0.0.1", 7070, true}, {"10.0.0.5", 7070, true}, {"0.0.0.0", 7070, true},
		{"10.0.0.6", 7070, false}, {"127.0.0.1", 7071, false},
	} {
		if got := own.contains(netip.MustParseAddr(c.ip), c.port); got != c.want {
			t.Errorf("own(%s:%d) = %v, want %v", c.ip, c.port, got, c.want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzCheck: any requested host:port is refused or allowed without panic,
// and an allowed unconfigured destination has only public addresses (the
// resolver answers every name with the fuzzed address list).
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"api.example.com:443", "127.0.0.1:9090", "[::1]:80", "[fe80::1%eth0]:80", "x:0", "::1", "a:b:c", "[::ffff:127.0.0.1]:1"} {
		f.Add(s, "93.184.216.34 10.0.0.1")
	}
	f.Fuzz(func(t *testing.T, hostport, answer string) {
		var ips []string
		for _, s := range strings.Fields(answer) {
			if _, err := netip.ParseAddr(s); err == nil {
				ips = append(ips, s)
			}
		}
		d := &fakeDialer{}
		p := New(Options{Resolver: anyName{strings.Join(ips, " ")}, Dialer: d, Listeners: []string{"127.0.0.1:9090"}})
		tg, err := p.Check(context.Background(), hostport, false)
		if err != nil {
			if _, ok := AsDenied(err); !ok {
				t.Fatalf("Check(%q) error %v is not a refusal", hostport, err)
			}
			return
		}
		for _, ip := range tg.Addrs {
			if Classify(ip) != ReasonPublic {
				t.Fatalf("Check(%q) allowed %s", hostport, ip)
			}
		}
		if len(d.all()) != 0 {
			t.Fatal("Check dialled")
		}
	})
}

// anyName resolves every name to the same addresses.
type anyName struct{ ips string }

func (a anyName) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r := &fakeResolver{answers: map[string][]string{host: {a.ips}}}
	return r.LookupNetIP(ctx, network, host)
}
