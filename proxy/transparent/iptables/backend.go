package iptables

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Backend names accepted by Detect.
const (
	BackendAuto     = "auto"
	BackendIPTables = "iptables"
	BackendLegacy   = "iptables-legacy"
	BackendNFTables = "iptables-nft"
	BackendNFT      = "nft"
)

// Backends lists the accepted backend names.
var Backends = []string{BackendAuto, BackendIPTables, BackendLegacy, BackendNFTables, BackendNFT}

// Backend is the chosen way to write rules.
type Backend struct {
	// Name is one of Backends except auto.
	Name string
	// V4 and V6 are the iptables binaries ("" for nft; V6 "" when the
	// ip6tables variant is missing).
	V4, V6 string
	// Why explains an automatic choice.
	Why string
}

// Detect resolves a backend choice. auto picks, like Kubernetes'
// iptables-wrapper, the iptables variant that already holds more rules
// (iptables-legacy-save vs iptables-nft-save), so loopguard's rules sit
// next to the ones the host already uses; on a tie, the system's
// "iptables". lookPath is exec.LookPath in production.
func Detect(ctx context.Context, choice string, lookPath func(string) (string, error), run Runner) (Backend, error) {
	has := func(bin string) bool { _, err := lookPath(bin); return err == nil }
	withV6 := func(name, why string) (Backend, error) {
		if !has(name) {
			return Backend{}, fmt.Errorf("backend %s: %s not found in PATH", name, name)
		}
		b := Backend{Name: name, V4: name, Why: why}
		if v6 := strings.Replace(name, "iptables", "ip6tables", 1); has(v6) {
			b.V6 = v6
		}
		return b, nil
	}
	switch choice {
	case BackendNFT:
		if !has("nft") {
			return Backend{}, fmt.Errorf("backend nft: nft not found in PATH")
		}
		return Backend{Name: BackendNFT, Why: "chosen"}, nil
	case BackendIPTables, BackendLegacy, BackendNFTables:
		return withV6(choice, "chosen")
	case BackendAuto, "":
	default:
		return Backend{}, fmt.Errorf("backend: %q is not one of %s", choice, strings.Join(Backends, ", "))
	}
	count := func(save string) int {
		if !has(save) {
			return -1
		}
		out, err := run.Run(ctx, nil, save)
		if err != nil {
			return -1
		}
		n := 0
		for l := range strings.Lines(string(out)) {
			if strings.HasPrefix(l, "-A ") {
				n++
			}
		}
		return n
	}
	legacy, nft := count("iptables-legacy-save"), count("iptables-nft-save")
	switch {
	case legacy > nft && legacy > 0:
		return withV6(BackendLegacy, fmt.Sprintf("auto: iptables-legacy holds %d rules, iptables-nft %d", legacy, max(nft, 0)))
	case nft > legacy && nft > 0:
		return withV6(BackendNFTables, fmt.Sprintf("auto: iptables-nft holds %d rules, iptables-legacy %d", nft, max(legacy, 0)))
	}
	for _, name := range []string{BackendIPTables, BackendNFTables, BackendLegacy} {
		if has(name) {
			return withV6(name, "auto: no rules in either variant; the first found of "+strings.Join([]string{BackendIPTables, BackendNFTables, BackendLegacy}, ", "))
		}
	}
	if has("nft") {
		return Backend{Name: BackendNFT, Why: "auto: no iptables binary, nft found"}, nil
	}
	return Backend{}, fmt.Errorf("backend auto: none of %s found in PATH (install the iptables package)", strings.Join(slices.DeleteFunc(slices.Clone(Backends), func(s string) bool { return s == BackendAuto }), ", "))
}
