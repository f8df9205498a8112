package proxy

import (
	"bytes"
	"compress/flate"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

func TestNarrowAcceptEncoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in, want string
		identityOK     bool
	}{
		{"absent", "", "", true},
		{"known codings stay as sent", "gzip, deflate, br", "gzip, deflate, br", true},
		{"unknown dropped, weights kept", "zstd, br;q=0.8, gzip;q=0.5", "br;q=0.8, gzip;q=0.5", true},
		{"only unknown", "zstd", "identity", true},
		{"star named", "*;q=0.5", "gzip;q=0.5, deflate;q=0.5, br;q=0.5", true},
		{"identity refused", "gzip, identity;q=0", "gzip, identity;q=0", false},
		{"star refused, identity unnamed", "br, *;q=0", "br, *;q=0", false},
		{"star refused, identity named", "br, identity, *;q=0", "br, identity, *;q=0", true},
		{"case and spaces", " GZip ;Q=1 , Zstd", "GZip ;Q=1", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			if c.in != "" {
				h.Set("Accept-Encoding", c.in)
			}
			ok := narrowAcceptEncoding(h)
			if got := h.Get("Accept-Encoding"); got != c.want || ok != c.identityOK {
				t.Fatalf("Accept-Encoding %q → %q (identity %v), want %q (identity %v)", c.in, got, ok, c.want, c.identityOK)
			}
		})
	}
}

func TestResponseCoding(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   []string
		want string
		ok   bool
	}{
		{nil, "", true}, {[]string{"identity"}, "", true}, {[]string{"gzip"}, "gzip", true}, {[]string{"x-gzip"}, "gzip", true},
		{[]string{"Deflate"}, "deflate", true}, {[]string{"br"}, "br", true}, {[]string{"zstd"}, "zstd", false},
		{[]string{"gzip, br"}, "gzip, br", false}, {[]string{"gzip", "gzip"}, "gzip, gzip", false},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.in, "|"), func(t *testing.T) {
			h := http.Header{"Content-Encoding": c.in}
			if got, ok := responseCoding(h); got != c.want || ok != c.ok {
				t.Fatalf("responseCoding(%q) = %q %v, want %q %v", c.in, got, ok, c.want, c.ok)
			}
		})
	}
}

func TestDecodeBody(t *testing.T) {
	t.Parallel()
	plain := []byte(`{"results":[{"id":"c1"}]}`)
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.DefaultCompression)
	_, _ = fw.Write(plain)
	_ = fw.Close()
	for _, c := range []string{"gzip", "deflate", "br"} {
		t.Run(c+" round trip", func(t *testing.T) {
			got, err := decodeBody(c, encodeFor(t, c, plain), 1<<10)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("decode = %q, %v", got, err)
			}
			enc, err := encodeBody(c, plain)
			if err != nil || !bytes.Equal(decodeFor(t, c, enc), plain) {
				t.Fatalf("encodeBody(%s) does not decode back: %v", c, err)
			}
		})
	}
	t.Run("raw deflate", func(t *testing.T) {
		if got, err := decodeBody("deflate", raw.Bytes(), 1<<10); err != nil || !bytes.Equal(got, plain) {
			t.Fatalf("raw deflate = %q, %v", got, err)
		}
	})
	t.Run("expansion bounded", func(t *testing.T) {
		bomb := encodeFor(t, "gzip", bytes.Repeat([]byte("a"), 1<<20))
		if _, err := decodeBody("gzip", bomb, 1<<10); !errors.Is(err, errDecodedTooLarge) {
			t.Fatalf("1 MiB from %d bytes with a 1 KiB limit: %v", len(bomb), err)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		for _, c := range []string{"gzip", "deflate", "br"} {
			if _, err := decodeBody(c, []byte("definitely not compressed"), 1<<10); err == nil {
				t.Errorf("%s: corrupt body decoded", c)
			}
		}
	})
}

// TestPullCompressed polls a compressed list: the app gets it filtered and
// uncompressed, or re-encoded when it refused identity.
func TestPullCompressed(t *testing.T) {
	t.Parallel()
	for _, coding := range []string{"gzip", "deflate", "br"} {
		for _, refuse := range []bool{false, true} {
			name := coding
			accept := coding + ", zstd"
			if refuse {
				name, accept = coding+" identity refused", coding+", identity;q=0"
			}
			t.Run(name, func(t *testing.T) {
				e := newPullEnv(t, genericCRM(t), "testdata/pull.yaml", pullOpts{})
				e.api.coding = coding
				crmScenario(t, e, func(path, body string) { mustDo(t, e.c, http.MethodPatch, e.srv.URL+path, "application/json", body) })
				resp, got := mustDo(t, e.c, http.MethodGet, e.srv.URL+"/v1/contacts", "", "", "Accept-Encoding", accept)
				sent, seen := e.api.lastSent()
				if strings.Contains(seen, "zstd") || !strings.Contains(seen, coding) {
					t.Fatalf("the API was asked for %q", seen)
				}
				checkLength(t, resp, got)
				wantCoding := ""
				if refuse {
					wantCoding = coding
				}
				if ce := resp.Header.Get("Content-Encoding"); ce != wantCoding {
					t.Fatalf("Content-Encoding %q, want %q", ce, wantCoding)
				}
				body := string(decodeFor(t, wantCoding, []byte(got)))
				if !slices.Equal(ids(body, "results", "id"), []string{"c3"}) || gjson.Get(body, "paging").Raw != gjson.GetBytes(sent, "paging").Raw {
					t.Fatalf("filtered list:\n%s\nsent:\n%s", body, sent)
				}
			})
		}
	}
}
