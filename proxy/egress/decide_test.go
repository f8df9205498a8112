package egress

import (
	"net/netip"
	"strings"
	"testing"
)

// decideCase is one row of the Decide table: a policy (tunnel mode, allow
// list, own listeners) and a destination, with the expected decision.
type decideCase struct {
	name       string
	tunnel     Tunnel
	allow      []string
	own        []string
	host       string
	port       int
	configured bool
	ips        string // space-separated
	want       string // "allow public", "deny private 10.1.2.3"
}

var decideCases = []decideCase{
	{name: "public v4", host: "api.example.com", ips: "93.184.216.34", want: "allow public"},
	{name: "public v6", host: "api.example.com", ips: "2606:2800:220:1::1", want: "allow public"},
	{name: "loopback", host: "127.0.0.1", ips: "127.0.0.1", want: "deny loopback 127.0.0.1"},
	{name: "loopback /8", host: "x", ips: "127.3.4.5", want: "deny loopback 127.3.4.5"},
	{name: "loopback v6", host: "::1", ips: "::1", want: "deny loopback ::1"},
	{name: "loopback v4-mapped", host: "x", ips: "::ffff:127.0.0.1", want: "deny loopback ::ffff:127.0.0.1"},
	{name: "cloud metadata", host: "169.254.169.254", port: 80, ips: "169.254.169.254", want: "deny link_local 169.254.169.254"},
	{name: "link-local v6", host: "x", ips: "fe80::1", want: "deny link_local fe80::1"},
	{name: "link-local v6 zone", host: "x", ips: "fe80::1%eth0", want: "deny link_local fe80::1%eth0"},
	{name: "rfc1918 10", host: "x", ips: "10.1.2.3", want: "deny private 10.1.2.3"},
	{name: "rfc1918 172.16", host: "x", ips: "172.16.0.1", want: "deny private 172.16.0.1"},
	{name: "rfc1918 172.31 edge", host: "x", ips: "172.31.255.255", want: "deny private 172.31.255.255"},
	{name: "172.32 is public", host: "x", ips: "172.32.0.1", want: "allow public"},
	{name: "rfc1918 192.168", host: "x", ips: "192.168.1.1", want: "deny private 192.168.1.1"},
	{name: "cgnat", host: "x", ips: "100.64.0.1", want: "deny private 100.64.0.1"},
	{name: "100.128 is public", host: "x", ips: "100.128.0.1", want: "allow public"},
	{name: "ula", host: "x", ips: "fd12:3456::1", want: "deny private fd12:3456::1"},
	{name: "ula fc", host: "x", ips: "fc00::1", want: "deny private fc00::1"},
	{name: "unspecified v4", host: "0.0.0.0", ips: "0.0.0.0", want: "deny unspecified 0.0.0.0"},
	{name: "this network", host: "x", ips: "0.1.2.3", want: "deny unspecified 0.1.2.3"},
	{name: "unspecified v6", host: "::", ips: "::", want: "deny unspecified ::"},
	{name: "multicast", host: "x", ips: "224.0.0.1", want: "deny multicast 224.0.0.1"},
	{name: "multicast v6", host: "x", ips: "ff02::1", want: "deny multicast ff02::1"},
	{name: "broadcast", host: "x", ips: "255.255.255.255", want: "deny reserved 255.255.255.255"},
	{name: "class e", host: "x", ips: "240.0.0.1", want: "deny reserved 240.0.0.1"},
	{name: "nat64 metadata", host: "x", ips: "64:ff9b::a9fe:a9fe", want: "deny link_local 64:ff9b::a9fe:a9fe"},
	{name: "nat64 public", host: "x", ips: "64:ff9b::808:808", want: "allow public"},
	{name: "6to4 loopback", host: "x", ips: "2002:7f00:1::", want: "deny loopback 2002:7f00:1::"},
	{name: "v4-compatible loopback", host: "x", ips: "::7f00:1", want: "deny loopback ::7f00:1"},
	{name: "one bad address refuses all", host: "x", ips: "93.184.216.34 10.0.0.1", want: "deny private 10.0.0.1"},
	{name: "no addresses", host: "nx.example", ips: "", want: "deny resolve_failed"},
	{name: "port 0", host: "x", port: -1, ips: "93.184.216.34", want: "deny invalid"},
	{name: "port too big", host: "x", port: 65536, ips: "93.184.216.34", want: "deny invalid"},
	{name: "empty host", host: "", ips: "93.184.216.34", want: "deny invalid"},

	// Provider hosts.
	{name: "provider on loopback", host: "127.0.0.1", configured: true, ips: "127.0.0.1", want: "allow configured"},
	{name: "provider name on private", host: "crm.internal", configured: true, ips: "10.0.0.7", want: "allow configured"},

	// Own listeners: never reopened.
	{name: "own admin", own: []string{"127.0.0.1:9090"}, host: "127.0.0.1", port: 9090, ips: "127.0.0.1", want: "deny own_listener 127.0.0.1"},
	{name: "own admin other port", own: []string{"127.0.0.1:9090"}, host: "127.0.0.1", port: 9091, ips: "127.0.0.1", want: "deny loopback 127.0.0.1"},
	{name: "own admin despite allow", own: []string{"127.0.0.1:9090"}, allow: []string{"127.0.0.0/8", "localhost"}, host: "localhost", port: 9090, ips: "127.0.0.1", want: "deny own_listener 127.0.0.1"},
	{name: "own admin despite provider", own: []string{"127.0.0.1:9090"}, configured: true, host: "127.0.0.1", port: 9090, ips: "127.0.0.1", want: "deny own_listener 127.0.0.1"},
	{name: "own via unspecified", own: []string{"127.0.0.1:9090"}, allow: []string{"0.0.0.0/8"}, host: "0.0.0.0", port: 9090, ips: "0.0.0.0", want: "deny own_listener 0.0.0.0"},
	{name: "own wildcard on loopback", own: []string{":8081"}, allow: []string{"127.0.0.1"}, host: "127.0.0.1", port: 8081, ips: "127.0.0.1", want: "deny own_listener 127.0.0.1"},
	{name: "own wildcard on interface", own: []string{"[::]:8081"}, allow: []string{"10.0.0.0/8"}, host: "pod", port: 8081, ips: "10.0.0.5", want: "deny own_listener 10.0.0.5"},
	{name: "own wildcard on public interface", own: []string{"0.0.0.0:8081"}, host: "me", port: 8081, ips: "198.51.100.7", want: "deny own_listener 198.51.100.7"},
	{name: "wildcard not another host", own: []string{":8081"}, host: "x", port: 8081, ips: "93.184.216.34", want: "allow public"},
	{name: "own v4-mapped", own: []string{"127.0.0.1:9090"}, configured: true, host: "x", port: 9090, ips: "::ffff:127.0.0.1", want: "deny own_listener ::ffff:127.0.0.1"},

	// Allow list.
	{name: "allow host", allow: []string{"db.internal"}, host: "db.internal", ips: "10.0.0.9", want: "allow allow_listed"},
	{name: "allow host case and dot", allow: []string{"DB.Internal."}, host: "db.internal", ips: "10.0.0.9", want: "allow allow_listed"},
	{name: "allow host other name", allow: []string{"db.internal"}, host: "db2.internal", ips: "10.0.0.9", want: "deny private 10.0.0.9"},
	{name: "allow wildcard", allow: []string{"*.corp.example"}, host: "a.b.corp.example", ips: "10.0.0.9", want: "allow allow_listed"},
	{name: "wildcard not apex", allow: []string{"*.corp.example"}, host: "corp.example", ips: "10.0.0.9", want: "deny private 10.0.0.9"},
	{name: "wildcard not suffix", allow: []string{"*.corp.example"}, host: "evilcorp.example", ips: "10.0.0.9", want: "deny private 10.0.0.9"},
	{name: "allow host port", allow: []string{"db.internal:5432"}, host: "db.internal", port: 5432, ips: "10.0.0.9", want: "allow allow_listed"},
	{name: "allow host other port", allow: []string{"db.internal:5432"}, host: "db.internal", port: 6379, ips: "10.0.0.9", want: "deny private 10.0.0.9"},
	{name: "allow cidr", allow: []string{"10.0.0.0/8"}, host: "x", ips: "10.20.30.40", want: "allow allow_listed"},
	{name: "allow cidr partly", allow: []string{"10.0.0.0/8"}, host: "x", ips: "10.20.30.40 192.168.0.1", want: "deny private 192.168.0.1"},
	{name: "allow cidr and public", allow: []string{"10.0.0.0/8"}, host: "x", ips: "10.20.30.40 93.184.216.34", want: "allow public"},
	{name: "allow ip", allow: []string{"127.0.0.1"}, host: "127.0.0.1", ips: "127.0.0.1", want: "allow allow_listed"},
	{name: "allow ip port", allow: []string{"127.0.0.1:8443"}, host: "127.0.0.1", port: 8443, ips: "127.0.0.1", want: "allow allow_listed"},
	{name: "allow ip other port", allow: []string{"127.0.0.1:8443"}, host: "127.0.0.1", port: 8444, ips: "127.0.0.1", want: "deny loopback 127.0.0.1"},
	{name: "allow v6 cidr", allow: []string{"fd00::/8"}, host: "x", ips: "fd00::5", want: "allow allow_listed"},
	{name: "allow metadata explicitly", allow: []string{"169.254.169.254:80"}, host: "169.254.169.254", port: 80, ips: "169.254.169.254", want: "allow allow_listed"},
	{name: "allow v6 bracket port", allow: []string{"[::1]:8443"}, host: "::1", port: 8443, ips: "::1", want: "allow allow_listed"},

	// Tunnel configured: only providers and the allow list.
	{name: "configured public", tunnel: TunnelConfigured, host: "api.example.com", ips: "93.184.216.34", want: "deny not_configured"},
	{name: "configured public with cidrs", tunnel: TunnelConfigured, allow: []string{"10.0.0.0/8"}, host: "api.example.com", ips: "93.184.216.34", want: "deny not_configured 93.184.216.34"},
	{name: "configured allow host", tunnel: TunnelConfigured, allow: []string{"api.example.com"}, host: "api.example.com", ips: "93.184.216.34", want: "allow allow_listed"},
	{name: "configured allow cidr", tunnel: TunnelConfigured, allow: []string{"93.184.216.0/24"}, host: "api.example.com", ips: "93.184.216.34", want: "allow allow_listed"},
	{name: "configured provider", tunnel: TunnelConfigured, configured: true, host: "api.hubapi.com", ips: "104.16.1.1", want: "allow configured"},

	// Tunnel none: only providers.
	{name: "none public", tunnel: TunnelNone, host: "api.example.com", ips: "93.184.216.34", want: "deny tunnel_disabled"},
	{name: "none allow-listed", tunnel: TunnelNone, allow: []string{"api.example.com"}, host: "api.example.com", ips: "93.184.216.34", want: "deny tunnel_disabled"},
	{name: "none provider", tunnel: TunnelNone, configured: true, host: "api.hubapi.com", ips: "104.16.1.1", want: "allow configured"},
}

func TestDecide(t *testing.T) {
	t.Parallel()
	for _, c := range decideCases {
		t.Run(c.name, func(t *testing.T) {
			al, err := ParseAllow(c.allow)
			if err != nil {
				t.Fatal(err)
			}
			p := New(Options{Allow: al, Tunnel: c.tunnel, Listeners: c.own, LocalAddrs: fakeLocal("10.0.0.5", "198.51.100.7")})
			port := c.port
			switch port {
			case 0:
				port = 443
			case -1:
				port = 0
			}
			a := DecideArgs{Host: c.host, Port: port, Configured: c.configured}
			for _, s := range strings.Fields(c.ips) {
				a.IPs = append(a.IPs, netip.MustParseAddr(s))
			}
			d := p.Decide(a)
			got := d.Action.String() + " " + d.Reason.String()
			if d.Addr.IsValid() {
				got += " " + d.Addr.String()
			}
			if got != c.want {
				t.Errorf("Decide(%+v) = %q, want %q", a, got, c.want)
			}
		})
	}
}

func fakeLocal(ips ...string) func() ([]netip.Addr, error) {
	return func() ([]netip.Addr, error) {
		var out []netip.Addr
		for _, s := range ips {
			out = append(out, netip.MustParseAddr(s))
		}
		return out, nil
	}
}

func TestReasonsNamedOnce(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, r := range Reasons() {
		s := r.String()
		if s == "" || s == "unknown" || seen[s] || strings.ContainsAny(s, " -") {
			t.Errorf("reason %d has a missing, repeated or unusable name %q", r, s)
		}
		seen[s] = true
		if r.Text() == "" || r.Text() == "refused" {
			t.Errorf("reason %s has no text", s)
		}
	}
	if Reason(200).String() != "unknown" || Action(7).String() != "deny" || Allow.String() != "allow" {
		t.Error("out-of-range values must not allow or panic")
	}
	var zero Decision
	if zero.Allowed() {
		t.Error("the zero Decision must not allow")
	}
}

func TestIsConfigured(t *testing.T) {
	t.Parallel()
	p := New(Options{ProviderHosts: []string{"API.HubAPI.com", "127.0.0.1:8443", "[::1]:9443", "crm.example."}})
	for hp, want := range map[string]bool{
		"api.hubapi.com:443": true, "api.hubapi.com": true, "API.HUBAPI.COM:8080": true,
		"127.0.0.1:8443": true, "127.0.0.1:8444": false, "127.0.0.1": false,
		"[::1]:9443": true, "[::1]:9444": false, "crm.example:443": true, "crm.example.:443": true,
		"evil.api.hubapi.com:443": false, "": false,
	} {
		if got := p.IsConfigured(hp); got != want {
			t.Errorf("IsConfigured(%q) = %v, want %v", hp, got, want)
		}
	}
}

func TestTunnelParse(t *testing.T) {
	t.Parallel()
	for i, m := range TunnelModes {
		got, err := ParseTunnel(m)
		if err != nil || int(got) != i || got.String() != m {
			t.Errorf("ParseTunnel(%q) = %v, %v", m, got, err)
		}
	}
	for _, bad := range []string{"", "Public", "all", "open"} {
		if _, err := ParseTunnel(bad); err == nil || !strings.Contains(err.Error(), "public, configured, none") {
			t.Errorf("ParseTunnel(%q) error = %v; want one naming the modes", bad, err)
		}
	}
}

// BenchmarkDecide measures one decision over two resolved addresses with a
// small allow list and three own listeners.
func BenchmarkDecide(b *testing.B) {
	al, err := ParseAllow([]string{"10.0.0.0/8", "*.corp.example", "db.internal:5432"})
	if err != nil {
		b.Fatal(err)
	}
	p := New(Options{Allow: al, Listeners: []string{"127.0.0.1:8080", ":8081", "127.0.0.1:9090"}, LocalAddrs: fakeLocal("10.0.0.5")})
	a := DecideArgs{Host: "api.example.com", Port: 443, IPs: []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("2606:2800:220:1::1")}}
	b.ReportAllocs()
	for b.Loop() {
		if d := p.Decide(a); !d.Allowed() {
			b.Fatal(d)
		}
	}
}
