package configs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// dockerfileEnv reads the Dockerfile's ENV instructions.
func dockerfileEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	in := false
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "ENV ") {
			in, line = true, strings.TrimPrefix(line, "ENV ")
		} else if !in {
			continue
		}
		cont := strings.HasSuffix(line, "\\")
		for f := range strings.FieldsSeq(strings.TrimSuffix(line, "\\")) {
			if k, v, ok := strings.Cut(f, "="); ok {
				env[k] = v
			}
		}
		in = cont
	}
	if len(env) == 0 {
		t.Fatal("no ENV in the Dockerfile")
	}
	return env
}

// k8sEnv reads the loopguard container's env from the Kubernetes example;
// a value from a Secret becomes "secret:<key>".
func k8sEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("examples/kubernetes-pod.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var pod struct {
		Spec struct {
			Containers []struct {
				Name string
				Env  []struct {
					Name      string
					Value     string
					ValueFrom *struct {
						SecretKeyRef *struct{ Name, Key string } `yaml:"secretKeyRef"`
					} `yaml:"valueFrom"`
				}
			}
		}
	}
	if err := yaml.Unmarshal(b, &pod); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, c := range pod.Spec.Containers {
		if c.Name != "loopguard" {
			continue
		}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Key
			case e.ValueFrom != nil:
				t.Fatalf("env %s: only secretKeyRef is understood here", e.Name)
			default:
				env[e.Name] = e.Value
			}
		}
	}
	return env
}

// composeEnv reads the loopguard service's environment from the compose
// example, with ${VAR:-default} replaced by its default.
func composeEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("examples/docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Environment map[string]string
			Secrets     []string
		}
		Secrets map[string]struct{ File string }
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	svc, ok := doc.Services["loopguard"]
	if !ok {
		t.Fatal("no loopguard service")
	}
	for _, s := range svc.Secrets {
		if _, ok := doc.Secrets[s]; !ok {
			t.Fatalf("secret %s is used but not declared", s)
		}
	}
	dflt := regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)
	env := map[string]string{}
	for k, v := range svc.Environment {
		env[k] = dflt.ReplaceAllString(v, "$1")
	}
	return env
}

func merged(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func loadWith(env map[string]string) (*Loaded, error) {
	return LoadBytes(DefaultFile, Default(), func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

// TestDeploymentExamples: the Dockerfile's defaults keep the admin API on
// loopback; the compose and Kubernetes examples expose it with a token from
// a Secret, and would not start without it.
func TestDeploymentExamples(t *testing.T) {
	docker := dockerfileEnv(t)
	t.Run("Dockerfile", func(t *testing.T) {
		l, err := loadWith(docker)
		if err != nil {
			t.Fatal(err)
		}
		if !IsLoopback(l.Config.Listen.Admin) {
			t.Fatalf("the image's default admin listener %q is beyond loopback", l.Config.Listen.Admin)
		}
	})
	t.Run("kubernetes", func(t *testing.T) {
		env := merged(docker, k8sEnv(t))
		if env["LOOPGUARD_ADMIN_TOKEN"] != "secret:admin-token" || env["LOOPGUARD_DEPLOYMENT_KEY_FILE"] == "" {
			t.Fatalf("the admin token and deployment key do not come from the Secret: %v", env)
		}
		l, err := loadWith(env)
		if err != nil {
			t.Fatal(err)
		}
		if IsLoopback(l.Config.Listen.Admin) || l.Config.Admin.Token.Value() == "" {
			t.Fatalf("admin %q token set %v", l.Config.Listen.Admin, l.Config.Admin.Token.Value() != "")
		}
		delete(env, "LOOPGUARD_ADMIN_TOKEN")
		if _, err := loadWith(env); err == nil || !strings.Contains(err.Error(), "admin.token") {
			t.Fatalf("without the Secret: %v", err)
		}
	})
	t.Run("compose", func(t *testing.T) {
		env := merged(docker, composeEnv(t))
		if !strings.HasPrefix(env["LOOPGUARD_ADMIN_TOKEN_FILE"], "/run/secrets/") || env["LOOPGUARD_ADMIN_TOKEN"] != "" {
			t.Fatalf("the admin token does not come from a compose secret: %v", env)
		}
		f := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(f, []byte("0123456789abcdef0123456789abcdef\n"), 0o444); err != nil {
			t.Fatal(err)
		}
		env["LOOPGUARD_ADMIN_TOKEN_FILE"] = f
		l, err := loadWith(env)
		if err != nil {
			t.Fatal(err)
		}
		if IsLoopback(l.Config.Listen.Admin) || l.Config.Admin.Token.Value() != "0123456789abcdef0123456789abcdef" {
			t.Fatalf("admin %q, token from the file %v", l.Config.Listen.Admin, l.Config.Admin.Token.Value() != "")
		}
		delete(env, "LOOPGUARD_ADMIN_TOKEN_FILE")
		if _, err := loadWith(env); err == nil || !strings.Contains(err.Error(), "admin.token") {
			t.Fatalf("without the secret: %v", err)
		}
	})
}
