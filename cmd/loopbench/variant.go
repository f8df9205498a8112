package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Variant is a second loopguard beside the main one, started with extra
// environment (--variant NAME:KEY=VALUE[,KEY=VALUE]): GC settings,
// GOMAXPROCS, or any LOOPGUARD_* setting such as
// LOOPGUARD_INBOUND_SERVER=net/http. The inbound cases (both workloads)
// also run through it, interleaved with the others, as
// <group>_loopguard_<NAME>: an alternative measured in the same run as the
// default it is compared with.
type Variant struct {
	Name string
	Env  []string
}

// variantName keeps case and metric names plain.
var variantName = regexp.MustCompile(`^[a-z0-9]+$`)

// parseVariant reads NAME:KEY=VALUE[,KEY=VALUE].
func parseVariant(v string) (Variant, error) {
	name, env, ok := strings.Cut(v, ":")
	if !ok || !variantName.MatchString(name) || env == "" {
		return Variant{}, fmt.Errorf("--variant: want NAME:KEY=VALUE[,KEY=VALUE] with NAME in [a-z0-9]+, got %q", v)
	}
	var vr Variant
	vr.Name = name
	for kv := range strings.SplitSeq(env, ",") {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return Variant{}, fmt.Errorf("--variant %s: want KEY=VALUE, got %q", name, kv)
		}
		vr.Env = append(vr.Env, kv)
	}
	return vr, nil
}

// variantLG is a running variant.
type variantLG struct {
	Variant
	lg *sidecar
}

// debugSidecar is the command line and environment of a loopguard with a
// debug listener (--cpuprofile, --tail): this binary's sidecar role (the
// proxy package's sidecar, as `loopguard run`) listening for pprof and the
// runtime's tail histograms on addr. A test's SidecarCmd (already this
// role) is kept.
func debugSidecar(o Options, argv, env []string) ([]string, []string, string, error) {
	if len(o.SidecarCmd) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, nil, "", fmt.Errorf("debug listener: find own binary: %w", err)
		}
		argv = []string{exe}
	}
	ports, err := freeAddrs(1)
	if err != nil {
		return nil, nil, "", err
	}
	env = append(slices.Clone(env), sidecarRoleEnv+"=1", sidecarPprofEnv+"="+ports[0])
	return argv, env, ports[0], nil
}

// startVariants starts each variant in its own directory, as the main
// loopguard was started (argv, base environment, a debug listener when
// the main one has one) plus the variant's environment, and warms its
// ledger the same way. stop stops those started, also on error.
func startVariants(ctx context.Context, o Options, argv []string, dir string, srv *servers, p progress) (vs []*variantLG, stop func(), err error) {
	stop = func() {
		for _, v := range vs {
			v.lg.stop()
		}
	}
	for _, v := range o.Variants {
		vdir := filepath.Join(dir, "variant-"+v.Name)
		if err := os.Mkdir(vdir, runDirMode); err != nil {
			return vs, stop, fmt.Errorf("variant %s: %w", v.Name, err)
		}
		vargv, env, debug := argv, append(slices.Clone(o.SidecarEnv), v.Env...), ""
		if o.Tail || o.CPUProfile != "" {
			if vargv, env, debug, err = debugSidecar(o, argv, env); err != nil {
				return vs, stop, fmt.Errorf("variant %s: %w", v.Name, err)
			}
		}
		p.printf("variant %s: loopguard with %s", v.Name, strings.Join(v.Env, " "))
		lg, _, err := startSidecar(ctx, vargv, env, vdir, srv)
		if err != nil {
			return vs, stop, fmt.Errorf("variant %s: %w", v.Name, err)
		}
		lg.debug = debug
		vs = append(vs, &variantLG{Variant: v, lg: lg})
		if err := warmLedger(ctx, o, srv, lg); err != nil {
			return vs, stop, fmt.Errorf("variant %s: %w", v.Name, err)
		}
	}
	return vs, stop, nil
}
