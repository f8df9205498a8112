package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/rs/zerolog"
)

// BenchmarkInboundDelivery100 sends one 100-event batch (the hub profile,
// HubSpot-like) through the inbound proxy per operation: half of its
// events come from the integration user (echoes, dropped), so every
// delivery is decided, settled, rewritten and forwarded to a real app on
// 127.0.0.1.
func BenchmarkInboundDelivery100(b *testing.B) {
	s := benchSidecar(b, "testdata/inbound.yaml", func(app string) *strings.Replacer {
		return strings.NewReplacer("{{app}}", app, "{{upstream_ca}}", "", "{{upstream_host}}", "api.crm.test",
			"{{observe}}", "false",
			// the hub provider learns the integration user, so that half of the batch are echoes
			"tagging: {sentinel_field: loopguard_sync}", "tagging: {sentinel_field: loopguard_sync}\n    integration_users: [u_integration]")
	})
	n := 0
	batch := func() string {
		var sb strings.Builder
		sb.WriteString("[")
		for i := range 100 {
			if i > 0 {
				sb.WriteString(",")
			}
			actor := "userId:9"
			if i%2 == 0 {
				actor = "u_integration"
			}
			n++
			fmt.Fprintf(&sb, `{"eventId":%d,"subscriptionId":77,"objectId":%d,"subscriptionType":"contact.propertyChange",`+
				`"propertyName":"name","propertyValue":"value %d","sourceId":%q}`, n, 500+i, n, actor)
		}
		sb.WriteString("]")
		return sb.String()
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		body := batch() // fresh event ids: no redelivery
		req := httptest.NewRequest(http.MethodPost, "http://inbound.test/webhooks/hub", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		b.StartTimer()
		s.Inbound.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	drops := 0
	for _, d := range s.Ring.Last(100) {
		if d.WouldDrop() {
			drops++
		}
	}
	if drops != 50 {
		b.Fatalf("%d of the last delivery's 100 events dropped, want 50", drops)
	}
}

// benchSidecar starts a sidecar on 127.0.0.1 from the config file, its
// placeholders replaced by repl(the app's URL), in front of a real app that
// reads each request and answers {"ok":true}; both stop with the benchmark.
func benchSidecar(b *testing.B, file string, repl func(app string) *strings.Replacer) *Sidecar {
	b.Helper()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	b.Cleanup(app.Close)
	raw, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	l, err := configs.LoadBytes(filepath.Base(file), []byte(repl(app.URL).Replace(string(raw))), inboundServerEnv)
	if err != nil {
		b.Fatal(err)
	}
	l.Config.Listen.Outbound, l.Config.Listen.Inbound, l.Config.Listen.Admin = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	l.Config.CA.Dir = filepath.Join(b.TempDir(), "ca")
	l.Config.Spool.Dir = filepath.Join(b.TempDir(), "spool")
	s, err := New(l, zerolog.New(io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return s
}
