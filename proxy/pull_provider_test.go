package proxy

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/tidwall/gjson"
)

// Salesforce ids of the fake org: 01 and 04 written by the app (as the
// integration user), 03 written by the app and then touched by an
// automation user with its values unchanged, 02 and 05 edited by humans,
// 06 edited by a human (Phone) just before the app wrote its Name.
const sfPrefix = "00100000000000"

func sfID(n string) string { return sfPrefix + n + "AA" }

// salesforceOrg serves sObject PATCHes and SOQL query pages of three
// records, gzip-encoded, with nextRecordsUrl pointing at query/{locator}.
func salesforceOrg(t testing.TB) *fakeAPI {
	api := newFakeAPI(func(f *fakeAPI, w http.ResponseWriter, r *http.Request, body []byte) {
		const base = "/services/data/v60.0/"
		rest, _ := strings.CutPrefix(r.URL.Path, base)
		parts := strings.Split(rest, "/")
		switch {
		case r.Method == http.MethodPatch && len(parts) == 3 && parts[0] == "sobjects":
			f.write(parts[2], "", body, map[string]any{
				"attributes":       map[string]any{"type": parts[1], "url": r.URL.Path},
				"LastModifiedById": "005000000000INTAAA", "SystemModstamp": "2026-11-27T10:00:05.000+0000",
			})
			w.WriteHeader(http.StatusNoContent)
		case r.Method == http.MethodGet && parts[0] == "query" && (len(parts) == 1 || len(parts) == 2):
			after := ""
			if len(parts) == 2 {
				after = strings.TrimPrefix(parts[1], "01gTEST-")
			}
			recs, next, total := f.page(after, 3, "Id")
			out := `{"totalSize":` + itoa(total) + `,"done":` + map[bool]string{true: "true", false: "false"}[next == ""]
			if next != "" {
				out += `,"nextRecordsUrl":"` + base + `query/01gTEST-` + next + `"`
			}
			f.respond(t, w, r, []byte(out+`,"records":[`+strings.Join(recs, ",")+`]}`))
		default:
			http.Error(w, `[{"errorCode":"NOT_FOUND"}]`, http.StatusNotFound)
		}
	})
	api.coding = "gzip"
	return api
}

func TestPullSalesforceSOQL(t *testing.T) {
	t.Parallel()
	e := newPullEnv(t, salesforceOrg(t), "testdata/pull_salesforce.yaml", pullOpts{})
	for _, n := range []string{"01", "03", "04"} {
		resp, got := mustDo(t, e.c, http.MethodPatch, e.srv.URL+"/services/data/v60.0/sobjects/Account/"+sfID(n), "application/json",
			`{"Name":"App `+n+`","Phone":"555-01`+n+`"}`)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("write %s: %d %s", n, resp.StatusCode, got)
		}
	}
	e.api.edit(sfID("03"), "", map[string]any{"LastModifiedById": "005000000000AUTAAA"})
	e.api.edit(sfID("06"), "", map[string]any{"attributes": map[string]any{"type": "Account"}, "Name": "Old 06", "Phone": "555-0999"})
	if resp, _ := mustDo(t, e.c, http.MethodPatch, e.srv.URL+"/services/data/v60.0/sobjects/Account/"+sfID("06"), "application/json", `{"Name":"App 06"}`); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("write 06: %d", resp.StatusCode)
	}
	for _, n := range []string{"02", "05"} {
		e.api.edit(sfID(n), "", map[string]any{
			"attributes": map[string]any{"type": "Account"}, "Name": "Human " + n, "Phone": "555-09" + n,
			"LastModifiedById": "005000000000HUMAAA", "SystemModstamp": "2026-11-27T10:00:06.000+0000",
		})
	}
	next := "/services/data/v60.0/query?q=" + strings.ReplaceAll("SELECT Id, Name, Phone, LastModifiedById, SystemModstamp FROM Account WHERE SystemModstamp > 2026-11-27T00:00:00Z", " ", "+")
	for _, want := range [][]string{{sfID("02")}, {sfID("05"), sfID("06")}} {
		resp, got := mustDo(t, e.c, http.MethodGet, e.srv.URL+next, "", "", "Accept-Encoding", "gzip")
		sent, _ := e.api.lastSent()
		checkLength(t, resp, got)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("%s: %d, Content-Encoding %q", next, resp.StatusCode, resp.Header.Get("Content-Encoding"))
		}
		if !slices.Equal(ids(got, "records", "Id"), want) {
			t.Fatalf("%s: records %v, want the humans' %v:\n%s", next, ids(got, "records", "Id"), want, got)
		}
		for _, p := range []string{"totalSize", "done", "nextRecordsUrl"} {
			if g, w := gjson.Get(got, p).Raw, gjson.GetBytes(sent, p).Raw; g != w {
				t.Errorf("%s = %s, Salesforce sent %s", p, g, w)
			}
		}
		next = gjson.Get(got, "nextRecordsUrl").String()
	}
	if next != "" {
		t.Fatalf("the last page still points at %s", next)
	}
	m := e.s.Metrics.Decisions
	for _, c := range []struct {
		layer, reason, action string
		n                     float64
	}{
		{"actor", "integration_user", "drop", 2}, {"fingerprint", "matches_our_write", "drop", 1}, {"fingerprint", "new_value", "forward", 2},
		{"actor", "unaccounted_values", "forward", 1},
	} {
		if got := testutil.ToFloat64(m.WithLabelValues("salesforce", "pull", c.layer, c.reason, c.action)); got != c.n {
			t.Errorf("pull %s by %s (%s) = %v, want %v", c.action, c.layer, c.reason, got, c.n)
		}
	}
	ds := pullDecisions(t, e.s, "salesforce")
	if d := ds[sfID("03")]; d == nil || d["object"] != "Account" || d["layer"] != "fingerprint" {
		t.Errorf("/decisions for the automation-touched record = %v", d)
	}
	if d := ds[sfID("06")]; d == nil || d["action"] != "forward" || d["reason"] != "unaccounted_values" {
		t.Errorf("/decisions for the record with a human's Phone = %v", d)
	}
	if n := testutil.ToFloat64(e.s.Metrics.Doubts.WithLabelValues("salesforce", "unaccounted_values")); n != 1 {
		t.Errorf("doubts unaccounted_values = %v, want 1", n)
	}
}

// hubspotPortal serves contact PATCHes ({"properties": {…}}) and CRM search
// pages of two results with paging.next.after, gzip-encoded. A search
// returns the properties it asks for (and hs_object_id, lastmodifieddate).
func hubspotPortal(t testing.TB) *fakeAPI {
	api := newFakeAPI(func(f *fakeAPI, w http.ResponseWriter, r *http.Request, body []byte) {
		const objects = "/crm/v3/objects/contacts"
		id, isRecord := strings.CutPrefix(r.URL.Path, objects+"/")
		switch {
		case r.Method == http.MethodPatch && isRecord && f.write(id, "properties", body, nil):
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"` + id + `"}`))
		case r.Method == http.MethodPost && r.URL.Path == objects+"/search":
			var q struct {
				Properties []string `json:"properties"`
				After      string   `json:"after"`
			}
			_ = json.Unmarshal(body, &q)
			recs, next, total := f.page(q.After, 2, "id")
			results := make([]string, len(recs))
			for i, rec := range recs {
				props := map[string]any{"hs_object_id": gjson.Get(rec, "id").String(), "lastmodifieddate": "2026-11-27T10:00:05.000Z"}
				for _, p := range q.Properties {
					if v := gjson.Get(rec, "properties."+p); v.Exists() {
						props[p] = v.Value()
					}
				}
				pb, _ := json.Marshal(props)
				results[i] = `{"id":"` + gjson.Get(rec, "id").String() + `","properties":` + string(pb) +
					`,"createdAt":"2026-11-20T08:00:00.000Z","updatedAt":"2026-11-27T10:00:05.000Z","archived":false}`
			}
			out := `{"total":` + itoa(total) + `,"results":[` + strings.Join(results, ",") + `]`
			if next != "" {
				out += `,"paging":{"next":{"after":"` + next + `","link":"?after=` + next + `"}}`
			}
			f.respond(t, w, r, []byte(out+"}"))
		default:
			http.Error(w, `{"status":"error"}`, http.StatusNotFound)
		}
	})
	api.coding = "gzip"
	return api
}

func TestPullHubSpotSearch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		props  []string
		layer  string
		reason string
	}{
		{"sentinel requested", []string{"firstname", "lastname", "email", "loopguard_sync"}, "sentinel", "sentinel_match"},
		{"tracked properties only", []string{"firstname", "lastname", "email"}, "fingerprint", "matches_our_write"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newPullEnv(t, hubspotPortal(t), "testdata/pull_hubspot.yaml", pullOpts{})
			for _, id := range []string{"501", "503"} {
				resp, got := mustDo(t, e.c, http.MethodPatch, e.srv.URL+"/crm/v3/objects/contacts/"+id, "application/json",
					`{"properties":{"firstname":"App","lastname":"`+id+`","email":"app`+id+`@example.com"}}`, "Authorization", "Bearer pat-1")
				if resp.StatusCode != 200 {
					t.Fatalf("write %s: %d %s", id, resp.StatusCode, got)
				}
			}
			e.api.edit("502", "properties", map[string]any{"firstname": "Bo", "lastname": "Bell", "email": "bo@example.com"})
			e.api.edit("504", "properties", map[string]any{"firstname": "Cy", "lastname": "Cole", "email": "cy@example.com"})
			after := ""
			for _, want := range [][]string{{"502"}, {"504"}} {
				q, _ := json.Marshal(map[string]any{"properties": c.props, "after": after, "limit": 2,
					"filterGroups": []any{map[string]any{"filters": []any{map[string]any{"propertyName": "lastmodifieddate", "operator": "GTE", "value": "1795737600000"}}}}})
				resp, got := mustDo(t, e.c, http.MethodPost, e.srv.URL+"/crm/v3/objects/contacts/search", "application/json", string(q),
					"Accept-Encoding", "gzip", "Authorization", "Bearer pat-1")
				sent, _ := e.api.lastSent()
				checkLength(t, resp, got)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" || !slices.Equal(ids(got, "results", "id"), want) {
					t.Fatalf("search after %q: %d %q, results %v, want %v:\n%s", after, resp.StatusCode, resp.Header.Get("Content-Encoding"), ids(got, "results", "id"), want, got)
				}
				if g, w := gjson.Get(got, "paging").Raw+gjson.Get(got, "total").Raw, gjson.GetBytes(sent, "paging").Raw+gjson.GetBytes(sent, "total").Raw; g != w {
					t.Errorf("paging/total = %s, HubSpot sent %s", g, w)
				}
				after = gjson.Get(got, "paging.next.after").String()
			}
			if n := testutil.ToFloat64(e.s.Metrics.Decisions.WithLabelValues("hubspot", "pull", c.layer, c.reason, "drop")); n != 2 {
				t.Errorf("drops by %s = %v, want 2", c.layer, n)
			}
		})
	}
}
