package iptables

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// nftTable is loopguard's own nftables table.
const nftTable = "loopguard"

// NFTScript renders o as an nftables table: family inet (IPv4 and IPv6)
// when v6, else ip. The script replaces the whole table atomically.
func NFTScript(o Options, v6 bool) string {
	fam := "ip"
	if v6 {
		fam = "inet"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# loopguard transparent mode (nft)\n")
	// Declaring then deleting makes the load idempotent: nft -f applies
	// the file as one transaction.
	fmt.Fprintf(&b, "table %s %s\ndelete table %s %s\ntable %s %s {\n", fam, nftTable, fam, nftTable, fam, nftTable)
	excl := nftExclusions(o, v6)
	if len(o.OutboundPorts) > 0 {
		b.WriteString("\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n")
		writeLines(&b, excl)
		fmt.Fprintf(&b, "\t\ttcp dport %s redirect to :%d\n\t}\n", nftSet(o.OutboundPorts), o.ProxyPort)
	}
	if len(o.InboundPorts) > 0 {
		b.WriteString("\tchain prerouting {\n\t\ttype nat hook prerouting priority -100; policy accept;\n")
		fmt.Fprintf(&b, "\t\ttcp dport %s redirect to :%d\n\t}\n", nftSet(o.InboundPorts), o.InboundPort)
	}
	if len(o.RejectUDPPorts) > 0 {
		b.WriteString("\tchain quic {\n\t\ttype filter hook output priority 0; policy accept;\n")
		writeLines(&b, excl)
		fmt.Fprintf(&b, "\t\tudp dport %s reject\n\t}\n", nftSet(o.RejectUDPPorts))
	}
	b.WriteString("}\n")
	return b.String()
}

func nftExclusions(o Options, v6 bool) []string {
	var out []string
	for _, u := range o.ExcludeUIDs {
		out = append(out, "meta skuid "+strconv.Itoa(u)+" return")
	}
	for _, g := range o.ExcludeGIDs {
		out = append(out, "meta skgid "+strconv.Itoa(g)+" return")
	}
	for _, p := range o.ExcludeCIDRs {
		switch {
		case p.Addr().Is4():
			out = append(out, "ip daddr "+p.Masked().String()+" return")
		case v6:
			out = append(out, "ip6 daddr "+p.Masked().String()+" return")
		}
	}
	return out
}

func writeLines(b *strings.Builder, lines []string) {
	for _, l := range lines {
		b.WriteString("\t\t" + l + "\n")
	}
}

func nftSet(ports []int) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(p)
	}
	return "{ " + strings.Join(s, ", ") + " }"
}

// NFT applies the rules with the nft binary.
type NFT struct {
	Binary string // default "nft"
	Run    Runner
}

func (n NFT) bin() string {
	if n.Binary == "" {
		return "nft"
	}
	return n.Binary
}

// Install loads the table (replacing an earlier one in one transaction).
// A table of the other family left by an earlier install is removed.
func (n NFT) Install(ctx context.Context, o Options, v6 bool) error {
	other := "inet"
	if v6 {
		other = "ip"
	}
	if err := n.deleteTable(ctx, other); err != nil {
		return err
	}
	if _, err := n.Run.Run(ctx, []byte(NFTScript(o, v6)), n.bin(), "-f", "-"); err != nil {
		return fmt.Errorf("install: %w", err)
	}
	return nil
}

// Uninstall deletes loopguard's table, in either family, if present.
func (n NFT) Uninstall(ctx context.Context) error {
	for _, fam := range []string{"inet", "ip"} {
		if err := n.deleteTable(ctx, fam); err != nil {
			return err
		}
	}
	return nil
}

func (n NFT) deleteTable(ctx context.Context, fam string) error {
	if _, err := n.Run.Run(ctx, nil, n.bin(), "list", "table", fam, nftTable); err != nil {
		return nil // absent
	}
	if _, err := n.Run.Run(ctx, nil, n.bin(), "delete", "table", fam, nftTable); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	return nil
}
