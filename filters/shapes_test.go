package filters

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
	"github.com/tidwall/gjson"
)

// salesforceWith loads the built-in salesforce profile with overrides (YAML
// of the provider entry's keys) and returns its compiled provider.
func salesforceWith(t *testing.T, overrides string) *Provider {
	t.Helper()
	l, err := configs.LoadBytes("x.yaml", []byte("providers:\n  - use: salesforce\n"+overrides), nil)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return newHarnessFor(t, l.Providers).p
}

func fieldNames(fs []ledger.Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func extractAt(t *testing.T, p *Provider, path string, body []byte) []Event {
	t.Helper()
	r, ok := p.MatchWebhook(http.MethodPost, path)
	if !ok {
		t.Fatalf("no route for %s", path)
	}
	evs, err := p.Extract(r, body, http.Header{}, nil)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return evs
}

// TestChangeHeaderFields: a Salesforce UPDATE event counts only the fields
// its header names. A Pub/Sub event's nulls for unchanged fields are not
// values; a nulled field is a null; a diff field is left out; compound
// fields map to the flat tracked names; bitmaps (not yet expanded) give no
// values at all.
func TestChangeHeaderFields(t *testing.T) {
	p := salesforceWith(t, "    tracked_fields: [Name, Phone, Website, Industry, Type, Description, BillingCity, BillingStreet]\n")
	pubsub, err := os.ReadFile(filepath.Join(profilesDir, "salesforce", "echo_pubsub.json"))
	if err != nil {
		t.Fatal(err)
	}
	evs := extractAt(t, p, "/webhooks/salesforce/event", pubsub)
	if got, want := fieldNames(evs[0].Fields), []string{"BillingCity", "Name", "Phone"}; !slices.Equal(got, want) {
		t.Fatalf("Pub/Sub UPDATE fields = %v, want %v (the nulls of unchanged fields are no values)", got, want)
	}
	if !evs[0].Partial || evs[0].Object != "Account" || evs[0].Record != "001Dn00000Acme1AAA" {
		t.Fatalf("event = %+v", evs[0])
	}

	cases := []struct {
		name   string
		header string
		fields string
		want   []string
	}{
		{"nulled field is a null", `"changedFields": ["Phone", "Website"], "nulledFields": ["Phone"]`, `"Phone": null, "Website": "acme.example"`, []string{"Phone", "Website"}},
		{"diff field is no value", `"changedFields": ["Description", "Name"], "diffFields": ["Description"]`, `"Description": "@@ -1 +1 @@", "Name": "Acme"`, []string{"Name"}},
		{"compound parent named", `"changedFields": ["BillingAddress"]`, `"BillingAddress": {"City": "Paris", "Street": "1 Rue"}`, []string{"BillingCity", "BillingStreet"}},
		{"bitmaps give no values", `"changedFields": ["0x650004E0", "4-0x10"]`, `"Name": "Acme", "Phone": null`, nil},
		{"create: every field is a value", `"changeType": "CREATE", "changedFields": []`, `"Name": "Acme", "Phone": null`, []string{"Name", "Phone"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := `{"ChangeEventHeader": {"entityName": "Account", "recordIds": ["001A"], "changeType": "UPDATE", "transactionKey": "k", "sequenceNumber": 1, "commitTimestamp": 1764237605000, "commitUser": "005U", ` +
				strings.Replace(c.header, `"changeType": "CREATE", `, "", 1) + `}, ` + c.fields + `}`
			if strings.Contains(c.header, "CREATE") {
				body = strings.Replace(body, `"UPDATE"`, `"CREATE"`, 1)
			}
			evs := extractAt(t, p, "/webhooks/salesforce", []byte(body))
			if got := fieldNames(evs[0].Fields); !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
				t.Fatalf("fields = %v, want %v", got, c.want)
			}
		})
	}

	t.Run("delete carries no values", func(t *testing.T) {
		body := `{"payload": {"ChangeEventHeader": {"entityName": "Account", "recordIds": ["001A"], "changeType": "DELETE", "transactionKey": "k", "sequenceNumber": 1, "commitTimestamp": 1764237605000, "commitUser": "005U", "changedFields": []}, "Name": null, "Phone": null}}`
		evs := extractAt(t, p, "/webhooks/salesforce", []byte(body))
		if len(evs) != 1 || len(evs[0].Fields) != 0 || evs[0].Record != "001A" || evs[0].Actor != "005U" {
			t.Fatalf("DELETE event = %+v", evs)
		}
	})
}

// TestSequenceOrders: events of one transaction share commitTimestamp; the
// sequence number orders them in the record's history.
func TestSequenceOrders(t *testing.T) {
	p := salesforceWith(t, "")
	ev := func(seq string) Event {
		body := `{"payload": {"ChangeEventHeader": {"entityName": "Account", "recordIds": ["001A"], "changeType": "UPDATE", "transactionKey": "k", "sequenceNumber": ` + seq + `, "commitTimestamp": 1764237605000, "commitUser": "005U", "changedFields": ["Name"]}, "Name": "A"}}`
		return extractAt(t, p, "/webhooks/salesforce", []byte(body))[0]
	}
	one, two := ev("1"), ev("2")
	if one.ProviderAt <= one.OccurredAt.UnixNano() || two.ProviderAt != one.ProviderAt+1 {
		t.Fatalf("ProviderAt = %d, %d (occurred %d): the sequence must order them", one.ProviderAt, two.ProviderAt, one.OccurredAt.UnixNano())
	}
	if big := ev("5000000"); big.ProviderAt != one.OccurredAt.UnixNano()+maxSequence {
		t.Fatalf("a huge sequence passes the next millisecond: %d", big.ProviderAt-one.OccurredAt.UnixNano())
	}
}

// TestBatchOptional: a route with batch_optional takes one event or a list,
// and rewriting a one-element delivery keeps it as it came.
func TestBatchOptional(t *testing.T) {
	p := salesforceWith(t, "")
	one := []byte(`{"data": {"payload": {"ChangeEventHeader": {"entityName": "Account", "recordIds": ["001A", "001B"], "changeType": "UPDATE", "transactionKey": "k", "sequenceNumber": 1, "commitTimestamp": 1764237605000, "commitUser": "005U", "changedFields": ["Name"]}, "Name": "A"}}}`)
	evs := extractAt(t, p, "/webhooks/salesforce", one)
	if len(evs) != 2 || evs[0].Start != 0 || evs[1].End != len(one) {
		t.Fatalf("one CometD message = %+v", evs)
	}
	r, _ := p.MatchWebhook(http.MethodPost, "/webhooks/salesforce")
	out, err := p.Rewrite(r, one, evs, []bool{true, false})
	if err != nil || string(out) != string(one) {
		t.Fatalf("Rewrite of one element = %q, %v; want it whole", out, err)
	}
	if _, err := p.Extract(r, []byte(`"just a string"`), nil, nil); err == nil {
		t.Fatal("a string is not an event")
	}
}

// FuzzChangeEvents: any body posted to the Salesforce change event route
// (one event or a list, change headers, compound fields) extracts with
// spans inside the body or is malformed; a rewrite keeps valid JSON; an
// explanation never fails.
func FuzzChangeEvents(f *testing.F) {
	for _, name := range []string{"echo.json", "genuine.json", "echo_pubsub.json", "mixed.json"} {
		b, err := os.ReadFile(filepath.Join(profilesDir, "salesforce", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"ChangeEventHeader": {"recordIds": ["a", "b"], "changedFields": ["0x1"]}, "Name": null}`))
	f.Add([]byte(`[{"payload": {"ChangeEventHeader": {"changeType": "GAP_UPDATE", "recordIds": []}}}]`))
	h := newHarnessFor(f, loadSalesforce(f))
	r, _ := h.p.MatchWebhook(http.MethodPost, "/webhooks/salesforce")
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := h.p.Extract(r, body, http.Header{}, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || len(evs) != 0 {
				t.Fatalf("Extract: %v with %d events", err, len(evs))
			}
			return
		}
		for i := range evs {
			if evs[i].Start < 0 || evs[i].End > len(body) || evs[i].Start >= evs[i].End {
				t.Fatalf("span %d..%d of %d bytes", evs[i].Start, evs[i].End, len(body))
			}
			_ = h.p.Detail(&evs[i], body, http.Header{})
		}
		keep := make([]bool, len(evs))
		if len(keep) > 1 {
			keep[len(keep)-1] = true
			if out, err := h.p.Rewrite(r, body, evs, keep); err == nil && !gjson.ValidBytes(out) {
				t.Fatalf("rewrite is not JSON: %q", out)
			}
		}
	})
}
