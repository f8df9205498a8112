package main

import (
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"go.yaml.in/yaml/v3"
)

// TestTransparentExamples: the examples' "iptables install" arguments are
// valid flags (print accepts them), and the loopguard container's
// LOOPGUARD_* variables load into a configuration with the transparent
// listener on.
func TestTransparentExamples(t *testing.T) {
	t.Parallel()
	type container struct {
		Name    string   `yaml:"name"`
		Args    []string `yaml:"args"`
		Command []string `yaml:"command"`
		Env     []struct {
			Name      string    `yaml:"name"`
			Value     string    `yaml:"value"`
			ValueFrom yaml.Node `yaml:"valueFrom"`
		} `yaml:"env"`
		Environment map[string]string `yaml:"environment"`
	}
	var pod struct {
		Spec struct {
			InitContainers []container `yaml:"initContainers"`
		} `yaml:"spec"`
	}
	var compose struct {
		Services map[string]container `yaml:"services"`
	}
	read := func(path string, v any) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	read("../../configs/examples/transparent/kubernetes-pod.yaml", &pod)
	read("../../configs/examples/transparent/docker-compose.yaml", &compose)

	byName := map[string]container{}
	for _, c := range pod.Spec.InitContainers {
		byName["pod/"+c.Name] = c
	}
	for n, c := range compose.Services {
		byName["compose/"+n] = c
	}
	cases := []struct{ install, loopguard string }{
		{"pod/loopguard-iptables", "pod/loopguard"},
		{"compose/loopguard-init", "compose/loopguard"},
	}
	for _, c := range cases {
		t.Run(c.install, func(t *testing.T) {
			ic, lc := byName[c.install], byName[c.loopguard]
			args := slices.Concat(ic.Command, ic.Args)
			if len(args) < 2 || args[0] != "iptables" || args[1] != "install" {
				t.Fatalf("%s does not run 'iptables install': %q", c.install, args)
			}
			var errOut strings.Builder
			if err := iptablesCmd(append([]string{"print"}, args[2:]...), io.Discard, &errOut); err != nil {
				t.Fatalf("the example's flags %q: %v %s", args[2:], err, errOut.String())
			}
			env := map[string]string{}
			for _, e := range lc.Env {
				switch {
				case e.Value != "":
					env[e.Name] = e.Value
				case !e.ValueFrom.IsZero(): // a Secret: any value of the right shape
					env[e.Name] = "secret-from-kubernetes-0123456789abcdef"
				}
			}
			for k, v := range lc.Environment {
				if !strings.Contains(v, "${") {
					env[k] = v
				}
			}
			l, err := configs.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatalf("%s's environment: %v", c.loopguard, err)
			}
			if l.Config.Listen.Transparent != "127.0.0.1:15001" || !slices.Contains(args, "--proxy-port=15001") {
				t.Fatalf("transparent listener %q and the rules' proxy port disagree: %q", l.Config.Listen.Transparent, args)
			}
		})
	}
}
