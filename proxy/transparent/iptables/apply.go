package iptables

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
)

// maxDuplicateJumps bounds how many copies of a jump uninstall deletes
// (another tool may have added ours again; a loop must end).
const maxDuplicateJumps = 64

// Runner runs one command, with optional stdin, and returns its combined
// output. Tests substitute a fake; ExecRunner runs real binaries.
type Runner interface {
	Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error)
}

// ExecRunner runs commands with os/exec.
type ExecRunner struct{}

// Run implements Runner; the error carries the command and its output.
func (ExecRunner) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// Tables applies rulesets with one iptables binary (iptables,
// iptables-legacy, iptables-nft or an ip6tables variant).
type Tables struct {
	Binary string
	Run    Runner
}

func (t Tables) ipt(ctx context.Context, table string, args ...string) error {
	// -w: wait for the xtables lock rather than fail next to another tool.
	_, err := t.Run.Run(ctx, nil, t.Binary, append([]string{"-w", "-t", table}, args...)...)
	return err
}

func (t Tables) chainExists(ctx context.Context, c Chain) bool {
	return t.ipt(ctx, c.Table, "-S", c.Name) == nil
}

func (t Tables) ruleExists(ctx context.Context, r Rule) bool {
	return t.ipt(ctx, r.Table, append([]string{"-C", r.Chain}, r.Args...)...) == nil
}

// Install writes rs. Own chains that rs does not use are removed with
// their jumps (an earlier install may have had inbound capture); the
// chains of rs are created, or flushed if they exist, and filled; a jump
// is added only when it is not there. Running it twice leaves the same
// rules as running it once.
func (t Tables) Install(ctx context.Context, rs Ruleset) error {
	for _, c := range ownChains {
		if !slices.Contains(rs.Chains, c.Chain) {
			if err := t.remove(ctx, c); err != nil {
				return err
			}
		}
	}
	for _, c := range rs.Chains {
		op := "-N"
		if t.chainExists(ctx, c) {
			op = "-F"
		}
		if err := t.ipt(ctx, c.Table, op, c.Name); err != nil {
			return fmt.Errorf("install %s: %w", rs.Family, err)
		}
	}
	for _, r := range rs.Rules {
		if err := t.ipt(ctx, r.Table, append([]string{"-A", r.Chain}, r.Args...)...); err != nil {
			return fmt.Errorf("install %s: %w", rs.Family, err)
		}
	}
	for _, j := range rs.Jumps {
		if t.ruleExists(ctx, j) {
			continue
		}
		if err := t.ipt(ctx, j.Table, append([]string{"-A", j.Chain}, j.Args...)...); err != nil {
			return fmt.Errorf("install %s: %w", rs.Family, err)
		}
	}
	return nil
}

// Uninstall removes every jump into loopguard's chains and the chains
// themselves, and nothing else. Absent rules are not an error.
func (t Tables) Uninstall(ctx context.Context) error {
	for _, c := range ownChains {
		if err := t.remove(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

func (t Tables) remove(ctx context.Context, c ownChain) error {
	for i := 0; i < maxDuplicateJumps && t.ruleExists(ctx, c.jump); i++ {
		if err := t.ipt(ctx, c.jump.Table, append([]string{"-D", c.jump.Chain}, c.jump.Args...)...); err != nil {
			return fmt.Errorf("uninstall: %w", err)
		}
	}
	if !t.chainExists(ctx, c.Chain) {
		return nil
	}
	if err := t.ipt(ctx, c.Table, "-F", c.Name); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	if err := t.ipt(ctx, c.Table, "-X", c.Name); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	return nil
}
