package signature

import (
	"crypto/sha256"
	"testing"
)

func TestParsePayload(t *testing.T) {
	cases := []struct {
		tmpl    string
		wantErr bool
		// signed is what the template produces for ts "T" and body "B".
		signed string
	}{
		{tmpl: "{timestamp}{body}", signed: "TB"},
		{tmpl: "{timestamp}.{body}", signed: "T.B"},
		{tmpl: "v0:{timestamp}:{body}", signed: "v0:T:B"},
		{tmpl: "{body}|{timestamp}|", signed: "B|T|"},
		{tmpl: "", wantErr: true},
		{tmpl: "{body}", wantErr: true},
		{tmpl: "{timestamp}", wantErr: true},
		{tmpl: "{timestamp}{body}{body}", wantErr: true},
		{tmpl: "{timestamp}{timestamp}{body}", wantErr: true},
		{tmpl: "{timestamp}.{Body}", wantErr: true},
		{tmpl: "{timestamp}}{body}", wantErr: true},
		{tmpl: "{timestamp{body}", wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.tmpl, func(t *testing.T) {
			p, err := parsePayload(c.tmpl)
			if c.wantErr {
				if err == nil {
					t.Fatalf("parsePayload(%q) = %v, want error", c.tmpl, p)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePayload(%q): %v", c.tmpl, err)
			}
			h := sha256.New()
			p.write(h, "T", []byte("B"))
			if want := sha256.Sum256([]byte(c.signed)); string(h.Sum(nil)) != string(want[:]) {
				t.Fatalf("template %q does not produce %q", c.tmpl, c.signed)
			}
		})
	}
}
