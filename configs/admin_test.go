package configs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	cases := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:9090", true},
		{"127.9.8.7:1", true},
		{"[::1]:9090", true},
		{"localhost:9090", true},
		{"LOCALHOST:0", true},
		{":9090", false},
		{"0.0.0.0:9090", false},
		{"[::]:9090", false},
		{"10.0.0.5:9090", false},
		{"[fd00::1]:9090", false},
		{"admin.internal:9090", false},
		{"[::ffff:127.0.0.1]:9090", true},
		{"no-port", false},
	}
	for _, c := range cases {
		t.Run(c.addr, func(t *testing.T) {
			if got := IsLoopback(c.addr); got != c.want {
				t.Fatalf("IsLoopback(%q) = %v, want %v", c.addr, got, c.want)
			}
		})
	}
}

func TestAdminTokenRequiredBeyondLoopback(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("  from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		env     map[string]string
		wantErr string
		token   string
	}{
		{name: "default loopback, no token", env: nil},
		{name: "loopback IPv6, no token", env: map[string]string{"LOOPGUARD_LISTEN_ADMIN": "[::1]:9090"}},
		{name: "all interfaces, no token", env: map[string]string{"LOOPGUARD_LISTEN_ADMIN": "0.0.0.0:9090"}, wantErr: "admin.token: required"},
		{name: "port only, no token", env: map[string]string{"LOOPGUARD_LISTEN_ADMIN": ":9090"}, wantErr: "LOOPGUARD_ADMIN_TOKEN"},
		{name: "IPv6 any, no token", env: map[string]string{"LOOPGUARD_LISTEN_ADMIN": "[::]:9090"}, wantErr: "admin.token"},
		{name: "private IP, no token", env: map[string]string{"LOOPGUARD_LISTEN_ADMIN": "10.1.2.3:9090"}, wantErr: "admin.token"},
		{name: "all interfaces, token", env: map[string]string{"LOOPGUARD_LISTEN_ADMIN": "0.0.0.0:9090", "LOOPGUARD_ADMIN_TOKEN": "t0ken"}, token: "t0ken"},
		{name: "token file", env: map[string]string{"LOOPGUARD_LISTEN_ADMIN": ":9090", "LOOPGUARD_ADMIN_TOKEN_FILE": tokenFile}, token: "from-a-file-0123456789"},
		{name: "token and file", env: map[string]string{"LOOPGUARD_ADMIN_TOKEN": "x", "LOOPGUARD_ADMIN_TOKEN_FILE": tokenFile}, wantErr: "not both"},
		{name: "missing file", env: map[string]string{"LOOPGUARD_ADMIN_TOKEN_FILE": tokenFile + ".nope"}, wantErr: "admin.token_file"},
		{name: "empty file", env: map[string]string{"LOOPGUARD_ADMIN_TOKEN_FILE": empty}, wantErr: "is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := LoadBytes("x.yaml", Default(), func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want containing %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), "from-a-file") {
					t.Fatalf("error leaks the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := l.Config.Admin.Token.Value(); got != c.token {
				t.Fatalf("token %q, want %q", got, c.token)
			}
		})
	}
}

func TestDeploymentKeyPath(t *testing.T) {
	cases := []struct {
		ca      CA
		path    string
		mounted bool
	}{
		{CA{Dir: "/var/lib/lg/ca"}, "/var/lib/lg/ca/deployment.key", false},
		{CA{CertFile: "/m/ca.pem", KeyFile: "/m/ca-key.pem"}, filepath.Join(defaultCADir, "deployment.key"), false},
		{CA{Dir: "/x", DeploymentKeyFile: "/run/secrets/dk"}, "/run/secrets/dk", true},
	}
	for _, c := range cases {
		if p, m := c.ca.DeploymentKeyPath(); p != c.path || m != c.mounted {
			t.Errorf("%+v: got %q %v, want %q %v", c.ca, p, m, c.path, c.mounted)
		}
	}
	l, err := LoadBytes("x.yaml", Default(), func(k string) (string, bool) {
		return "/run/secrets/dk", k == "LOOPGUARD_DEPLOYMENT_KEY_FILE"
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.CA.DeploymentKeyFile != "/run/secrets/dk" {
		t.Fatalf("LOOPGUARD_DEPLOYMENT_KEY_FILE not applied: %+v", l.Config.CA)
	}
}
