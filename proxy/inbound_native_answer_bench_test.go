package proxy

import (
	"bufio"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkNativeAnswerHeader copies the bench app's answer header (as the
// app client reads it) into the provider's answer, as forward does per
// delivery.
func BenchmarkNativeAnswerHeader(b *testing.B) {
	resp := fasthttp.AcquireResponse()
	resp.Header.DisableNormalizing()
	raw := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Thu, 03 Dec 2026 09:00:00 GMT\r\nContent-Length: 11\r\n\r\n"
	if err := resp.Header.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		b.Fatal(err)
	}
	var h fasthttp.ResponseHeader
	b.ReportAllocs()
	for b.Loop() {
		h.Reset()
		if n := nativeAnswerHeader(&h, resp); n != 11 {
			b.Fatalf("length %d", n)
		}
	}
	if got := string(h.Peek("Date")); got != "Thu, 03 Dec 2026 09:00:00 GMT" {
		b.Fatalf("Date %q", got)
	}
}
