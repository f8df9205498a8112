package filters

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/configs"
	"github.com/tidwall/gjson"
)

// TestXMLAsJSON pins how an XML document reads as JSON for value specs.
func TestXMLAsJSON(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<e:Env xmlns:e="urn:e" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <e:Body>
  <n xmlns="urn:n"><Org>00D</Org><Gone xsi:nil="true"/>
   <Item><Id>1</Id><o xsi:type="sf:Account" xmlns:sf="urn:sf"><sf:Name>A &amp; B</sf:Name><sf:Tag>x</sf:Tag><sf:Tag>y</sf:Tag></o></Item>
   <Item><Id>2</Id></Item>
  </n>
 </e:Body>
</e:Env>`
	root, err := parseXML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	j := gjson.ParseBytes(root.docJSON())
	for path, want := range map[string]string{
		"Env.Body.n.Org":            "00D",
		"Env.Body.n.Gone":           "",
		"Env.Body.n.Item.0.Id":      "1",
		"Env.Body.n.Item.0.o.-type": "Account",
		"Env.Body.n.Item.0.o.Name":  "A & B",
		"Env.Body.n.Item.0.o.Tag.1": "y",
		"Env.Body.n.Item.1.Id":      "2",
	} {
		if got := j.Get(path); got.String() != want {
			t.Errorf("%s = %q (%s), want %q", path, got.String(), got.Raw, want)
		}
	}
	if g := j.Get("Env.Body.n.Gone"); g.Type != gjson.Null {
		t.Errorf("xsi:nil is %s, want null", g.Raw)
	}
	items := root.find("Env.Body.n.Item")
	if len(items) != 2 || doc[items[1].start:items[1].end] != "<Item><Id>2</Id></Item>" {
		t.Fatalf("find Item: %d elements, second %q", len(items), doc[items[1].start:items[1].end])
	}
	if root.find("Env.Nope.Item") != nil || root.find("Other.Body") != nil {
		t.Fatal("find of a missing path found elements")
	}
}

// TestXMLRejects: what an XML delivery may not be. Each is malformed, and
// the proxy forwards it untouched.
func TestXMLRejects(t *testing.T) {
	deep := strings.Repeat("<a>", maxXMLDepth+1) + strings.Repeat("</a>", maxXMLDepth+1)
	wide := "<r>" + strings.Repeat("<a/>", maxXMLElements) + "</r>"
	for name, doc := range map[string]string{
		"doctype with entities": `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "xxxxxxxx">]><r>&x;</r>`,
		"unknown entity":        `<r>&nbsp;</r>`,
		"two roots":             `<r/><r/>`,
		"unclosed":              `<r><a></r>`,
		"text outside":          `hello <r/>`,
		"empty":                 ``,
		"not UTF-8":             `<?xml version="1.0" encoding="ISO-8859-1"?><r>caf` + "\xe9" + `</r>`,
		"too deep":              deep,
		"too many elements":     wide,
		"json":                  `{"a": 1}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parseXML([]byte(doc)); !errors.Is(err, errXML) {
				t.Fatalf("parseXML = %v, want an XML error", err)
			}
		})
	}
}

// TestXMLRewriteKeepsBytes: removing a Notification leaves every other
// byte of the envelope as it came, and the result still extracts.
func TestXMLRewriteKeepsBytes(t *testing.T) {
	p := salesforceWith(t, "")
	dir := filepath.Join(profilesDir, "salesforce")
	body, err := os.ReadFile(filepath.Join(dir, "mixed_outbound.xml"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := p.MatchWebhook(http.MethodPost, "/webhooks/salesforce/outbound")
	evs, err := p.Extract(r, body, nil, nil)
	if err != nil || len(evs) != 2 {
		t.Fatalf("Extract: %d events, %v", len(evs), err)
	}
	if evs[0].ID != "04lDn00000Notif2AAA" || evs[1].Record != "001Dn00000Acme9AAA" || evs[1].Object != "Account" || evs[1].Actor != "005Dn000001UserAAA" {
		t.Fatalf("events = %+v", evs)
	}
	for keepFirst, drop := range map[bool]string{true: "Notif3", false: "Notif2"} {
		out, err := p.Rewrite(r, body, evs, []bool{keepFirst, !keepFirst})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), drop) || len(out) >= len(body) {
			t.Fatalf("rewrite kept %s:\n%s", drop, out)
		}
		again, err := p.Extract(r, out, nil, nil)
		if err != nil || len(again) != 1 {
			t.Fatalf("rewritten body: %d events, %v", len(again), err)
		}
		if string(out[again[0].Start:again[0].End]) != string(body[evs[btoi(!keepFirst)].Start:evs[btoi(!keepFirst)].End]) {
			t.Fatal("the kept Notification changed")
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzXMLExtract: any body given to an XML route extracts or is malformed,
// never panics, and every event's span lies inside the body.
func FuzzXMLExtract(f *testing.F) {
	for _, name := range []string{"echo_outbound.xml", "mixed_outbound.xml"} {
		b, err := os.ReadFile(filepath.Join(profilesDir, "salesforce", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`<a><b/><b><c>1</c></b></a>`))
	f.Add([]byte(`<!DOCTYPE a><a/>`))
	l := loadSalesforce(f)
	h := newHarnessFor(f, l)
	r, _ := h.p.MatchWebhook(http.MethodPost, "/webhooks/salesforce/outbound")
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := h.p.Extract(r, body, nil, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		for _, e := range evs {
			if e.Start < 0 || e.End > len(body) || e.Start > e.End {
				t.Fatalf("span %d..%d outside a body of %d", e.Start, e.End, len(body))
			}
		}
		if len(evs) > 1 {
			keep := make([]bool, len(evs))
			keep[0] = true
			if _, err := h.p.Rewrite(r, body, evs, keep); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Rewrite: %v", err)
			}
		}
	})
}

func loadSalesforce(t testing.TB) []*configs.Provider {
	t.Helper()
	l, err := configs.LoadBytes("x.yaml", []byte("providers: [{use: salesforce}]\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return l.Providers
}
