package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOutboundMessageAck: a Salesforce Outbound Message whose every
// Notification is an echo of our write is answered with the SOAP Ack by
// loopguard (Salesforce retries for 24 hours until it reads one), and one
// with an echo among others reaches the app without it, every other byte
// as sent — through real servers on loopback.
func TestOutboundMessageAck(t *testing.T) {
	t.Parallel()
	api := &recorder{}
	up := httptest.NewTLSServer(api)
	t.Cleanup(up.Close)
	app := &recorder{}
	app.setRespond(func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write([]byte(`<app-ack/>`))
	})
	appSrv := httptest.NewServer(app)
	t.Cleanup(appSrv.Close)
	cfg := fmt.Sprintf("app_url: %s\noutbound: {upstream_ca_file: %q}\nproviders:\n  - use: salesforce\n    hosts: [%q]\n",
		appSrv.URL, writePEM(t, up), hostOf(up))
	s := startSidecar(t, cfg, nil)
	c := proxiedClient(t, s)

	resp, _ := mustDo(t, c, http.MethodPatch, up.URL+"/services/data/v60.0/sobjects/Account/001Dn00000Acme1AAA", "application/json",
		`{"Name": "Acme", "Phone": "555-0100", "BillingCity": "Paris"}`)
	if resp.StatusCode != 200 || api.last(t).Header.Get("Sforce-Call-Options") != "client=loopguard" {
		t.Fatalf("write: %d %v", resp.StatusCode, api.last(t).Header)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join("..", "filters", "testdata", "profiles", "salesforce", name))
		must(t, err)
		return string(b)
	}
	hook := "http://" + s.Addr("inbound") + "/webhooks/salesforce/outbound"

	resp, body := mustDo(t, http.DefaultClient, http.MethodPost, hook, "text/xml; charset=utf-8", read("echo_outbound.xml"), "SOAPAction", `""`)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/xml") ||
		!strings.Contains(body, "<Ack>true</Ack>") || !strings.Contains(body, "notificationsResponse") {
		t.Fatalf("all-echo message answered %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if n := len(app.all()); n != 0 {
		t.Fatalf("the app saw %d deliveries of an all-echo message", n)
	}

	resp, body = mustDo(t, http.DefaultClient, http.MethodPost, hook, "text/xml; charset=utf-8", read("mixed_outbound.xml"), "SOAPAction", `""`)
	if resp.StatusCode != 200 || body != "<app-ack/>" {
		t.Fatalf("mixed message answered %d: %s (want the app's answer)", resp.StatusCode, body)
	}
	if got, want := string(app.last(t).Body), read("mixed_outbound.rewritten.xml"); got != want {
		t.Fatalf("the app got\n%s\nwant\n%s", got, want)
	}
	ds := s.Ring.Last(2)
	if ds[1].Action.String() != "drop" || ds[1].Record != "001Dn00000Acme1AAA" || ds[0].Action.String() != "forward" || ds[0].Record != "001Dn00000Acme9AAA" {
		t.Fatalf("decisions: %+v", ds)
	}
}
