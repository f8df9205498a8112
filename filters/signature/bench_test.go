package signature

import (
	"bytes"
	"net/http"
	"testing"
)

// benchBody is a 2 KiB JSON-ish webhook body.
var benchBody = bytes.Repeat([]byte(`{"id":123456,"type":"upd"},`), 2048/27+1)[:2048]

func BenchmarkVerify(b *testing.B) {
	cases := []struct {
		name string
		cfg  Config
		h    http.Header
	}{
		{"github", Config{Scheme: SchemeGitHub, Secret: testSecret},
			hdr("X-Hub-Signature-256", "sha256="+hexMAC(testSecret, string(benchBody)))},
		{"stripe", Config{Scheme: SchemeStripe, Secret: testSecret},
			hdr("Stripe-Signature", "t=1700000000,v1="+hexMAC(testSecret, "1700000000.", string(benchBody)))},
	}
	for _, c := range cases {
		b.Run(c.name+"/2KiB", func(b *testing.B) {
			s := mustNew(b, c.cfg)
			req := Request{Method: http.MethodPost, URI: "https://app.example.com/hooks", Header: c.h}
			if err := s.Verify(req, benchBody, testNow); err != nil {
				b.Fatalf("Verify: %v", err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(benchBody)))
			for b.Loop() {
				if err := s.Verify(req, benchBody, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
