package iptables

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestRulesGolden renders each option set for IPv4, IPv6 and nft and
// compares with testdata/<name>.golden.
func TestRulesGolden(t *testing.T) {
	cases := []struct {
		name string
		o    func(o *Options)
	}{
		{"defaults", func(*Options) {}},
		{"inbound_capture", func(o *Options) { o.InboundPorts = []int{3000, 3001} }},
		{"custom", func(o *Options) {
			o.ProxyPort = 16001
			o.OutboundPorts = []int{443}
			o.ExcludeUIDs = []int{1337, 0}
			o.ExcludeGIDs = []int{1337}
			o.ExcludeCIDRs = append(o.ExcludeCIDRs, netip.MustParsePrefix("10.96.0.1/12"), netip.MustParsePrefix("fd00::/8"))
			o.InboundPorts = []int{8080}
			o.InboundPort = 18081
			o.RejectUDPPorts = nil
		}},
		{"inbound_only", func(o *Options) { o.OutboundPorts, o.RejectUDPPorts, o.InboundPorts = nil, nil, []int{3000} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Defaults()
			c.o(&o)
			if err := o.Validate(); err != nil {
				t.Fatalf("options invalid: %v", err)
			}
			var b strings.Builder
			b.WriteString(Build(o, IPv4).Script("iptables"))
			b.WriteString("\n")
			b.WriteString(Build(o, IPv6).Script("ip6tables"))
			b.WriteString("\n")
			b.WriteString(NFTScript(o, true))
			golden(t, filepath.Join("testdata", c.name+".golden"), b.String())
		})
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Fatalf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name, want string
		o          func(o *Options)
	}{
		{"no exclusion", "exclude-uid/exclude-gid: none set", func(o *Options) { o.ExcludeUIDs = nil }},
		{"proxy port out of range", "proxy-port: 0 is not a port", func(o *Options) { o.ProxyPort = 0 }},
		{"too many ports", "outbound-ports: at most 15 ports", func(o *Options) {
			o.OutboundPorts = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
		}},
		{"inbound loops onto itself", "inbound-ports: 8081 is loopguard's own inbound port", func(o *Options) { o.InboundPorts = []int{8081} }},
		{"proxy port captured", "outbound-ports: 15001 is the proxy port", func(o *Options) { o.OutboundPorts = []int{443, 15001} }},
		{"negative uid", "exclude-uid/exclude-gid: -1 is negative", func(o *Options) { o.ExcludeUIDs = []int{-1} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Defaults()
			c.o(&o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, c.want)
			}
		})
	}
	if err := Defaults().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

// TestBuildDoesNotAlias: the exclusion rules shared by two chains are not
// overwritten by the second chain's final rule.
func TestBuildDoesNotAlias(t *testing.T) {
	o := Defaults()
	o.ExcludeUIDs = []int{1, 2, 3} // a length whose backing array has spare capacity
	rs := Build(o, IPv4)
	for _, r := range rs.Rules {
		if r.Chain == ChainOutput && strings.Contains(strings.Join(r.Args, " "), "REJECT") {
			t.Fatalf("the QUIC reject rule leaked into %s: %v", ChainOutput, r.Args)
		}
	}
}
