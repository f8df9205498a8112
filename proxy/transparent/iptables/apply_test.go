package iptables

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
)

// fakeTables is an in-memory iptables: tables of chains of rules, with the
// subset of commands Tables uses (-N -F -X -A -D -C -S).
type fakeTables struct {
	chains map[string][]string // "table/chain" → rules
	calls  []string
}

func newFakeTables() *fakeTables {
	f := &fakeTables{chains: map[string][]string{}}
	for _, c := range []string{"nat/PREROUTING", "nat/INPUT", "nat/OUTPUT", "nat/POSTROUTING", "filter/INPUT", "filter/FORWARD", "filter/OUTPUT"} {
		f.chains[c] = nil
	}
	return f
}

func (f *fakeTables) Run(_ context.Context, _ []byte, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	if len(args) < 5 || args[0] != "-w" || args[1] != "-t" {
		return nil, fmt.Errorf("fake: unexpected command %v", args)
	}
	key, op, rule := args[2]+"/"+args[4], args[3], strings.Join(args[5:], " ")
	rules, exists := f.chains[key]
	switch op {
	case "-N":
		if exists {
			return nil, errors.New("Chain already exists")
		}
		f.chains[key] = nil
		return nil, nil
	case "-S":
		if !exists {
			return nil, errors.New("No chain/target/match by that name")
		}
		return nil, nil
	}
	if !exists {
		return nil, errors.New("No chain/target/match by that name")
	}
	i := slices.Index(rules, rule)
	switch op {
	case "-F":
		f.chains[key] = nil
	case "-X":
		if len(rules) > 0 {
			return nil, errors.New("Directory not empty")
		}
		for k, rs := range f.chains {
			for _, r := range rs {
				if strings.HasSuffix(r, "-j "+args[4]) {
					return nil, fmt.Errorf("chain %s is referenced from %s", args[4], k)
				}
			}
		}
		delete(f.chains, key)
	case "-A":
		f.chains[key] = append(rules, rule)
	case "-C":
		if i < 0 {
			return nil, errors.New("Bad rule (does a matching rule exist in that chain?)")
		}
	case "-D":
		if i < 0 {
			return nil, errors.New("Bad rule")
		}
		f.chains[key] = slices.Delete(rules, i, i+1)
	default:
		return nil, fmt.Errorf("fake: unknown op %s", op)
	}
	return nil, nil
}

func (f *fakeTables) snapshot() map[string][]string {
	out := map[string][]string{}
	for k, v := range f.chains {
		out[k] = slices.Clone(v)
	}
	return out
}

func equalState(a, b map[string][]string) bool {
	return maps.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// TestInstallUninstall: install is idempotent, a re-install with fewer
// features removes the chains it no longer uses, and uninstall restores
// the exact state before install — foreign rules included.
func TestInstallUninstall(t *testing.T) {
	ctx := context.Background()
	f := newFakeTables()
	f.chains["nat/OUTPUT"] = []string{"-p tcp --dport 9999 -j ACCEPT"} // someone else's rule
	f.chains["filter/OUTPUT"] = []string{"-p udp --dport 53 -j ACCEPT"}
	before := f.snapshot()
	tb := Tables{Binary: "iptables", Run: f}

	o := Defaults()
	o.InboundPorts = []int{3000}
	rs := Build(o, IPv4)
	if err := tb.Install(ctx, rs); err != nil {
		t.Fatal(err)
	}
	once := f.snapshot()
	if got := once["nat/OUTPUT"]; !slices.Equal(got, []string{"-p tcp --dport 9999 -j ACCEPT", "-p tcp -j LOOPGUARD_OUTPUT"}) {
		t.Fatalf("nat OUTPUT after install = %q", got)
	}
	if err := tb.Install(ctx, rs); err != nil {
		t.Fatal(err)
	}
	if !equalState(once, f.snapshot()) {
		t.Fatalf("second install changed the rules:\n%v\n%v", once, f.snapshot())
	}
	// Re-install without inbound capture: its chain and jump go.
	o.InboundPorts = nil
	if err := tb.Install(ctx, Build(o, IPv4)); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.chains["nat/"+ChainInbound]; ok || slices.Contains(f.chains["nat/PREROUTING"], "-p tcp -j "+ChainInbound) {
		t.Fatalf("inbound capture left behind: %v", f.chains)
	}
	// A duplicate jump added by hand is removed too.
	f.chains["nat/OUTPUT"] = append(f.chains["nat/OUTPUT"], "-p tcp -j LOOPGUARD_OUTPUT")
	if err := tb.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if !equalState(before, f.snapshot()) {
		t.Fatalf("uninstall did not restore the rules:\nbefore %v\nafter  %v", before, f.snapshot())
	}
	// Uninstall with nothing installed is a no-op.
	if err := tb.Uninstall(ctx); err != nil {
		t.Fatalf("second uninstall: %v", err)
	}
}

// fakeNFT records nft invocations; "list table" answers from tables.
type fakeNFT struct {
	tables map[string]string
	calls  []string
}

func (f *fakeNFT) Run(_ context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	switch {
	case len(args) == 4 && args[0] == "list":
		if _, ok := f.tables[args[2]]; !ok {
			return nil, errors.New("No such file or directory")
		}
	case len(args) == 4 && args[0] == "delete":
		delete(f.tables, args[2])
	case len(args) == 2 && args[0] == "-f":
		fam := "ip"
		if strings.Contains(string(stdin), "table inet loopguard {") {
			fam = "inet"
		}
		f.tables[fam] = string(stdin)
	}
	return nil, nil
}

func TestNFTInstallUninstall(t *testing.T) {
	ctx := context.Background()
	f := &fakeNFT{tables: map[string]string{"ip": "old v4-only install"}}
	n := NFT{Run: f}
	if err := n.Install(ctx, Defaults(), true); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.tables["ip"]; ok || f.tables["inet"] == "" {
		t.Fatalf("tables after install: %v", f.tables)
	}
	if err := n.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if len(f.tables) != 0 {
		t.Fatalf("tables after uninstall: %v", f.tables)
	}
}

// fakeSave answers the *-save commands with n rules each.
type fakeSave map[string]int

func (f fakeSave) Run(_ context.Context, _ []byte, name string, _ ...string) ([]byte, error) {
	n, ok := f[name]
	if !ok {
		return nil, errors.New("not found")
	}
	return []byte(strings.Repeat("-A OUTPUT -j ACCEPT\n", n)), nil
}

func TestDetect(t *testing.T) {
	all := []string{"iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft", "iptables-legacy-save", "iptables-nft-save", "nft"}
	cases := []struct {
		name, choice string
		bins         []string
		save         fakeSave
		want         Backend
		wantErr      string
	}{
		{"legacy holds more rules", "auto", all, fakeSave{"iptables-legacy-save": 5, "iptables-nft-save": 1}, Backend{Name: BackendLegacy, V4: "iptables-legacy", V6: "ip6tables-legacy"}, ""},
		{"nft holds more rules", "auto", all, fakeSave{"iptables-legacy-save": 0, "iptables-nft-save": 3}, Backend{Name: BackendNFTables, V4: "iptables-nft", V6: "ip6tables-nft"}, ""},
		{"tie: the system's iptables", "auto", all, fakeSave{"iptables-legacy-save": 0, "iptables-nft-save": 0}, Backend{Name: BackendIPTables, V4: "iptables", V6: "ip6tables"}, ""},
		{"no ip6tables", "auto", []string{"iptables"}, fakeSave{}, Backend{Name: BackendIPTables, V4: "iptables"}, ""},
		{"only nft", "auto", []string{"nft"}, fakeSave{}, Backend{Name: BackendNFT}, ""},
		{"chosen legacy", "iptables-legacy", all, fakeSave{"iptables-nft-save": 9}, Backend{Name: BackendLegacy, V4: "iptables-legacy", V6: "ip6tables-legacy"}, ""},
		{"chosen but missing", "iptables-nft", []string{"iptables"}, fakeSave{}, Backend{}, "iptables-nft not found"},
		{"nothing installed", "auto", nil, fakeSave{}, Backend{}, "install the iptables package"},
		{"unknown", "pf", all, fakeSave{}, Backend{}, "is not one of"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			look := func(b string) (string, error) {
				if slices.Contains(c.bins, b) {
					return "/usr/sbin/" + b, nil
				}
				return "", errors.New("not found")
			}
			got, err := Detect(context.Background(), c.choice, look, c.save)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Detect = %+v, %v; want error %q", got, err, c.wantErr)
				}
				return
			}
			got.Why = ""
			if err != nil || got != c.want {
				t.Fatalf("Detect = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}
