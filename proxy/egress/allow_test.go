package egress

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseAllowGood(t *testing.T) {
	t.Parallel()
	good := []string{
		"api.internal.example", "API.Internal.Example.", "*.corp.example", "*.corp.example:443",
		"db.internal:5432", "localhost", "my_host.internal", "10.1.2.3", "10.1.2.3:8443",
		"10.0.0.0/8", "0.0.0.0/0", "fd00::/8", "fd00::1", "[fd00::1]:443", "::1", "  spaced.example  ",
		"169.254.169.254:80", "::ffff:10.0.0.1",
	}
	a, err := ParseAllow(good)
	if err != nil {
		t.Fatalf("ParseAllow: %v", err)
	}
	if len(a.Entries()) != len(good) {
		t.Errorf("entries = %v", a.Entries())
	}
	if !a.Addr(netip.MustParseAddr("10.0.0.1"), 1) {
		t.Error("::ffff:10.0.0.1 must allow 10.0.0.1 (mapped addresses are unmapped)")
	}
}

func TestParseAllowBad(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ entry, want string }{
		{"", "empty entry"},
		{"   ", "empty entry"},
		{"https://api.example.com", "not a URL"},
		{"10.0.0.1/8", "host bits are set: did you mean 10.0.0.0/8?"},
		{"10.0.0.0/33", "not a CIDR"},
		{"10.0.0.0/8:443", "not a CIDR"},
		{"::ffff:10.0.0.0/104", "write the IPv4 form"},
		{"fe80::1%eth0", "zone"},
		{"api.example.com:0", "port \"0\""},
		{"api.example.com:65536", "port \"65536\""},
		{"api.example.com:https", "port \"https\""},
		{"api.example.com:+443", "port \"+443\""},
		{":443", "a port without a host"},
		{"[fd00::1]", "not host, host:port"},
		{"fd00::1:443:x", "not host, host:port"},
		{"*", "wildcard"},
		{"*.", "host name"},
		{"a.*.example", "wildcard is only allowed as a leading"},
		{"**.example", "wildcard"},
		{"exa mple.com", "white space"},
		{"-bad.example", "starts or ends with '-'"},
		{"bad..example", "empty or over-long label"},
		{"10.1", "incomplete IP address"},
		{"300.1.2.3", "incomplete IP address"},
		{"exämple.com", "not allowed in a host name"},
		{strings.Repeat("a", 64) + ".example", "over-long label"},
		{strings.Repeat("a.", 127) + "com", "1 to 253 characters"},
	} {
		t.Run(c.entry, func(t *testing.T) {
			_, err := ParseAllow([]string{"ok.example", c.entry})
			if err == nil {
				t.Fatalf("ParseAllow(%q) accepted it", c.entry)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "[1]") {
				t.Errorf("ParseAllow(%q) = %v; want an error at [1] containing %q", c.entry, err, c.want)
			}
		})
	}
}

func TestParseAllowReportsEveryBadEntry(t *testing.T) {
	t.Parallel()
	_, err := ParseAllow([]string{"10.0.0.1/8", "ok.example", "http://x"})
	if err == nil || !strings.Contains(err.Error(), "[0]") || !strings.Contains(err.Error(), "[2]") {
		t.Fatalf("err = %v; want both [0] and [2]", err)
	}
}

// FuzzParseAllow: any input parses or errors — never panics — and what
// parses re-parses from its own entries to the same matches.
func FuzzParseAllow(f *testing.F) {
	for _, s := range []string{"api.example.com", "*.corp.example:443", "10.0.0.0/8", "[fd00::1]:443", "fe80::1%eth0",
		"10.0.0.1/8", "::ffff:1.2.3.4/120", "a:b:c", "[::1]", "*.", "1.2.3.4:0", "localhost."} {
		f.Add(s, "10.1.2.3", uint16(443))
	}
	f.Fuzz(func(t *testing.T, entry, probe string, port uint16) {
		a, err := ParseAllow([]string{entry})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "[0] ") {
				t.Fatalf("error %q does not name the entry", err)
			}
			return
		}
		b, err := ParseAllow(a.Entries())
		if err != nil {
			t.Fatalf("entries %q of a parsed list do not parse again: %v", a.Entries(), err)
		}
		if ip, err := netip.ParseAddr(probe); err == nil && a.Addr(ip, int(port)) != b.Addr(ip, int(port)) {
			t.Fatalf("re-parsed list disagrees on %s", ip)
		}
		if a.Host(probe, int(port)) != b.Host(probe, int(port)) {
			t.Fatalf("re-parsed list disagrees on host %q", probe)
		}
	})
}
