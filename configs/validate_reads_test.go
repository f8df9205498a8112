package configs

import (
	"strings"
	"testing"
)

// TestBuiltinReadRoutes pins the read routes of the built-in profiles and
// the defaults a read route gets.
func TestBuiltinReadRoutes(t *testing.T) {
	cases := []struct {
		name string
		// n read routes; first is the first one's method, path and list.
		n                    int
		method, path, list   string
		object, record, sent string
	}{
		{"hubspot", 2, "GET", "/crm/v3/objects/{object}", "results", "{object}", "properties", "loopguard_sync"},
		{"salesforce", 4, "GET", "/services/data/{version}/query", "records", "attributes.type", "@this", ""},
		{"jira", 8, "GET", "/rest/api/{version}/search", "issues", "=issue", "fields", ""},
		{"stripe", 11, "GET", "/v1/customers", "data", "object", "@this", "metadata.loopguard"},
		{"pipedrive", 11, "GET", "/api/v2/deals", "data", "=deals", "@this", ""},
		{"generic", 0, "", "", "", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, err := LoadBytes("x.yaml", []byte("providers: [{use: "+c.name+", signature: {secret: test-secret}}]\n"), nil)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			rs := l.Providers[0].Reads
			if len(rs) != c.n {
				t.Fatalf("%d read routes, want %d", len(rs), c.n)
			}
			if c.n == 0 {
				return
			}
			r := rs[0]
			if r.Method != c.method || r.Path != c.path || r.List != c.list || r.ObjectType != c.object || r.Record != c.record || r.Sentinel != c.sent {
				t.Fatalf("first read route = %+v", r)
			}
			for i, r := range rs {
				if len(r.RecordID) == 0 {
					t.Errorf("reads[%d] %s has no record_id", i, r.Path)
				}
			}
		})
	}
}

// TestReadRoutesAllowed checks that the read checks leave valid uses alone.
func TestReadRoutesAllowed(t *testing.T) {
	cases := []struct{ name, yaml string }{
		{"a record path named like the list (Stripe events)", `providers: [{use: generic, reads: [{path: /v1/events, list: data, record_id: data.object.id, record: data.object}]}]`},
		{"a root array", `providers: [{use: generic, reads: [{path: /v1/contacts, list: "@this", record_id: id}]}]`},
		{"a nested list", `providers: [{use: generic, reads: [{path: /v1/contacts, list: payload.items, record_id: id}]}]`},
		{"marker only", `providers: [{use: generic, reads: [{path: /v1/feed, list: events, markers: [{from: origin}]}]}]`},
		{"a search POST beside a create POST", `providers: [{use: generic, reads: [{path: "/v1/{object}/search", method: POST, list: results, record_id: id}]}]`},
		{"the same path read by another method", `providers: [{use: generic, reads: [{path: /v1/contacts, list: results, record_id: id}, {path: /v1/contacts, method: POST, list: results, record_id: id}]}]`},
		{"object from a literal and a spec", `providers: [{use: generic, reads: [{path: /v1/contacts, list: results, record_id: id, object_type: =contacts}, {path: /v1/things, list: results, record_id: id, object_type: "kind ?? =thing"}]}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := LoadBytes("v.yaml", []byte(c.yaml), nil); err != nil {
				t.Fatalf("valid read route rejected: %v", err)
			}
		})
	}
	t.Run("unknown key", func(t *testing.T) {
		_, err := LoadBytes("v.yaml", []byte("providers: [{use: generic, reads: [{path: /v1/c, lists: results, record_id: id}]}]\n"), nil)
		if err == nil || !strings.Contains(err.Error(), `unknown key "lists"`) || !strings.Contains(err.Error(), `"list"`) {
			t.Fatalf("error %v, want the unknown key with a suggestion", err)
		}
	})
}
