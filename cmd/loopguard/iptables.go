package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/loopguard/loopguard/proxy/transparent/iptables"
)

// iptablesTimeout bounds one install or uninstall (every iptables call
// waits for the xtables lock with -w).
const iptablesTimeout = 2 * time.Minute

const iptablesSynopsis = "iptables install|uninstall|print [flags]"

// iptablesFlags are the flags of every iptables subcommand.
type iptablesFlags struct {
	o       iptables.Options
	backend string
	ipv6    string
}

func newIptablesFlags(name string, stderr io.Writer) (*flag.FlagSet, *iptablesFlags) {
	fs := newFlags(name, iptablesSynopsis, stderr)
	f := &iptablesFlags{o: iptables.Defaults()}
	d := f.o
	fs.StringVar(&f.backend, "backend", iptables.BackendAuto, "rule backend: "+strings.Join(iptables.Backends, ", ")+" (auto: the iptables variant that already holds more rules)")
	fs.StringVar(&f.ipv6, "ipv6", "auto", "IPv6 rules too: auto (when ip6tables has a nat table), true or false")
	fs.IntVar(&f.o.ProxyPort, "proxy-port", d.ProxyPort, "port of loopguard's transparent listener (listen.transparent)")
	fs.Var(intList{&f.o.OutboundPorts}, "outbound-ports", "TCP destination ports captured, comma-separated (\"\" for none)")
	fs.Var(intList{&f.o.ExcludeUIDs}, "exclude-uid", "UIDs never captured, comma-separated; loopguard's own UID or GID must be excluded")
	fs.Var(intList{&f.o.ExcludeGIDs}, "exclude-gid", "GIDs never captured, comma-separated")
	fs.Var(cidrList{&f.o.ExcludeCIDRs}, "exclude-cidr", "destination CIDRs never captured, comma-separated")
	fs.Var(intList{&f.o.InboundPorts}, "inbound-ports", "the app's ports whose incoming connections go to loopguard's inbound listener (inbound capture), comma-separated")
	fs.IntVar(&f.o.InboundPort, "inbound-port", d.InboundPort, "port of loopguard's inbound listener (listen.inbound)")
	fs.Var(intList{&f.o.RejectUDPPorts}, "reject-udp-ports", "UDP ports rejected so QUIC/HTTP-3 clients fall back to TCP, comma-separated")
	return fs, f
}

func iptablesCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fs, _ := newIptablesFlags("iptables", stderr)
		fs.Usage()
		if len(args) == 0 {
			return fmt.Errorf("%w: iptables needs a subcommand: install, uninstall or print", errUsage)
		}
		return nil
	}
	sub := args[0]
	fs, f := newIptablesFlags("iptables "+sub, stderr)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if err := f.o.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), iptablesTimeout)
	defer cancel()
	run := iptables.ExecRunner{}
	switch sub {
	case "print":
		return iptablesPrint(ctx, f, run, stdout)
	case "install", "uninstall":
		b, err := iptables.Detect(ctx, f.backend, exec.LookPath, run)
		if err != nil {
			return err
		}
		if sub == "install" {
			return iptablesInstall(ctx, f, b, run, stdout)
		}
		return iptablesUninstall(ctx, b, run, stdout)
	}
	return fmt.Errorf("%w: unknown subcommand %q (want install, uninstall or print)", errUsage, sub)
}

// iptablesPrint shows the rules without applying them. With --backend auto
// nothing is probed (print needs no privilege): the commands use the
// generic iptables / ip6tables names.
func iptablesPrint(ctx context.Context, f *iptablesFlags, run iptables.Runner, w io.Writer) error {
	v6 := f.ipv6 != "false"
	if f.backend == iptables.BackendNFT {
		_, err := io.WriteString(w, iptables.NFTScript(f.o, v6))
		return err
	}
	v4bin, v6bin := "iptables", "ip6tables"
	if f.backend != iptables.BackendAuto {
		b, err := iptables.Detect(ctx, f.backend, exec.LookPath, run)
		if err != nil {
			return err
		}
		v4bin, v6bin = b.V4, strings.Replace(b.V4, "iptables", "ip6tables", 1)
	}
	out := iptables.Build(f.o, iptables.IPv4).Script(v4bin)
	if v6 {
		out += "\n" + iptables.Build(f.o, iptables.IPv6).Script(v6bin)
	}
	_, err := io.WriteString(w, out)
	return err
}

func iptablesInstall(ctx context.Context, f *iptablesFlags, b iptables.Backend, run iptables.Runner, w io.Writer) error {
	v6, why, err := wantIPv6(ctx, f.ipv6, b, run)
	if err != nil {
		return err
	}
	if b.Name == iptables.BackendNFT {
		if err := (iptables.NFT{Run: run}).Install(ctx, f.o, v6); err != nil {
			return err
		}
		fmt.Fprintf(w, "installed loopguard's nftables table (IPv6 %t: %s)\n", v6, why)
		return nil
	}
	if err := (iptables.Tables{Binary: b.V4, Run: run}).Install(ctx, iptables.Build(f.o, iptables.IPv4)); err != nil {
		return err
	}
	fmt.Fprintf(w, "installed IPv4 rules with %s (%s)\n", b.V4, b.Why)
	if !v6 {
		fmt.Fprintf(w, "no IPv6 rules: %s\n", why)
		return nil
	}
	if err := (iptables.Tables{Binary: b.V6, Run: run}).Install(ctx, iptables.Build(f.o, iptables.IPv6)); err != nil {
		return err
	}
	fmt.Fprintf(w, "installed IPv6 rules with %s\n", b.V6)
	return nil
}

func iptablesUninstall(ctx context.Context, b iptables.Backend, run iptables.Runner, w io.Writer) error {
	if b.Name == iptables.BackendNFT {
		if err := (iptables.NFT{Run: run}).Uninstall(ctx); err != nil {
			return err
		}
		fmt.Fprintln(w, "removed loopguard's nftables table")
		return nil
	}
	var errs []error
	for _, bin := range []string{b.V4, b.V6} {
		if bin == "" {
			continue
		}
		if err := (iptables.Tables{Binary: bin, Run: run}).Uninstall(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(w, "removed loopguard's chains and jumps with %s\n", bin)
	}
	return errors.Join(errs...)
}

// wantIPv6 resolves --ipv6: auto installs IPv6 rules when the backend has
// an IPv6 binary whose nat table answers.
func wantIPv6(ctx context.Context, flagV string, b iptables.Backend, run iptables.Runner) (bool, string, error) {
	switch flagV {
	case "false":
		return false, "--ipv6=false", nil
	case "true":
		if b.Name != iptables.BackendNFT && b.V6 == "" {
			return false, "", fmt.Errorf("--ipv6=true: no ip6tables variant next to %s", b.V4)
		}
		return true, "--ipv6=true", nil
	case "auto":
	default:
		return false, "", fmt.Errorf("%w: --ipv6: %q (want auto, true or false)", errUsage, flagV)
	}
	if b.Name == iptables.BackendNFT {
		return true, "auto: nft inet table", nil
	}
	if b.V6 == "" {
		return false, "auto: no ip6tables variant next to " + b.V4, nil
	}
	if _, err := run.Run(ctx, nil, b.V6, "-w", "-t", "nat", "-S", "OUTPUT"); err != nil {
		return false, "auto: " + b.V6 + " has no nat table (" + err.Error() + ")", nil
	}
	return true, "auto", nil
}

// intList is a comma-separated list of integers flag.
type intList struct{ p *[]int }

func (l intList) String() string {
	if l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, v := range *l.p {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l intList) Set(v string) error {
	*l.p = nil
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("%q is not an integer", f)
		}
		*l.p = append(*l.p, n)
	}
	return nil
}

// cidrList is a comma-separated list of CIDRs flag; a bare address is a
// single-address prefix.
type cidrList struct{ p *[]netip.Prefix }

func (l cidrList) String() string {
	if l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, v := range *l.p {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}

func (l cidrList) Set(v string) error {
	*l.p = nil
	for f := range strings.SplitSeq(v, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return fmt.Errorf("%q is not a CIDR or address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		*l.p = append(*l.p, p)
	}
	return nil
}
