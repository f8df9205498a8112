package redistest

import (
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestMainProvidesURL(t *testing.T) {
	u := URL(t)
	if !strings.HasPrefix(u, "redis://") && !strings.HasPrefix(u, "rediss://") {
		t.Fatalf("URL %q", u)
	}
	if a, b := Prefix(t), Prefix(t); a == b || !strings.HasPrefix(a, "lgtest:") || !strings.HasSuffix(a, ":") {
		t.Fatalf("prefixes %q %q", a, b)
	}
}

// TestServerLifecycle: a dedicated server answers, stops, restarts on the
// same address, freezes and thaws.
func TestServerLifecycle(t *testing.T) {
	s := Start(t)
	addr := s.Addr()
	steps := []struct {
		name string
		act  func(tb testing.TB)
		up   bool
	}{
		{"started", func(testing.TB) {}, true},
		{"stopped", s.Stop, false},
		{"stopped twice", s.Stop, false},
		{"restarted", s.Restart, true},
		{"paused", s.Pause, false},
		{"resumed", s.Resume, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.act(t)
			if err := ping(addr); (err == nil) != st.up {
				t.Fatalf("ping %s: %v, want up=%v", addr, err, st.up)
			}
		})
	}
	if s.Addr() != addr || s.URL() != "redis://"+addr+"/0" {
		t.Fatalf("address changed: %s %s", s.Addr(), s.URL())
	}
}
