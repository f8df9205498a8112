package proxy

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/andybalholm/brotli"
)

// Content codings of read responses. The filter decodes gzip, deflate and
// br; a rewritten body goes to the app uncompressed (Content-Encoding
// removed) unless the app refused identity, and then re-encoded in the
// upstream's coding. Sidecar and app share a host or a pod, so compressing
// for that hop saves nothing and costs CPU (brotli most of all), and
// identity is acceptable to every client that did not refuse it (RFC 9110
// §12.5.3).
const (
	codingIdentity = ""
	codingGzip     = "gzip"
	codingDeflate  = "deflate"
	codingBrotli   = "br"
)

// errDecodedTooLarge is returned when a decoded body exceeds the limit.
var errDecodedTooLarge = errors.New("decoded body over outbound.max_body_bytes")

// responseCoding returns a response's content coding, normalised, and
// whether the filter can decode it. Several codings stacked ("gzip, br")
// are not decoded.
func responseCoding(h http.Header) (string, bool) {
	var codings []string
	for _, v := range h.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch len(codings) {
	case 0:
		return codingIdentity, true
	case 1:
		switch codings[0] {
		case "gzip", "x-gzip":
			return codingGzip, true
		case codingDeflate, codingBrotli:
			return codings[0], true
		}
	}
	return strings.Join(codings, ", "), false
}

// decodeBody decodes raw in coding, reading at most limit bytes of output:
// a small compressed body can expand without bound.
func decodeBody(coding string, raw []byte, limit int64) ([]byte, error) {
	var r io.Reader
	switch coding {
	case codingIdentity:
		return raw, nil
	case codingGzip:
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("decode gzip response: %w", err)
		}
		defer zr.Close()
		r = zr
	case codingDeflate:
		// "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2), but some servers
		// send raw deflate; try both.
		zr, err := zlib.NewReader(bytes.NewReader(raw))
		if err != nil {
			fr := flate.NewReader(bytes.NewReader(raw))
			defer fr.Close()
			r = fr
		} else {
			defer zr.Close()
			r = zr
		}
	case codingBrotli:
		r = brotli.NewReader(bytes.NewReader(raw))
	default:
		return nil, fmt.Errorf("decode response: unsupported content coding %q", coding)
	}
	out, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("decode %s response: %w", coding, err)
	}
	if int64(len(out)) > limit {
		return nil, errDecodedTooLarge
	}
	return out, nil
}

// encodeBody encodes b in coding (identity: b itself).
func encodeBody(coding string, b []byte) ([]byte, error) {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case codingIdentity:
		return b, nil
	case codingGzip:
		w = gzip.NewWriter(&buf)
	case codingDeflate:
		w = zlib.NewWriter(&buf)
	case codingBrotli:
		w = brotli.NewWriter(&buf)
	default:
		return nil, fmt.Errorf("encode response: unsupported content coding %q", coding)
	}
	if _, err := w.Write(b); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", coding, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("encode %s response: %w", coding, err)
	}
	return buf.Bytes(), nil
}

// decodable are the codings the filter reads, as Accept-Encoding names them.
func decodable(c string) bool {
	switch c {
	case "gzip", "x-gzip", codingDeflate, codingBrotli, "identity":
		return true
	}
	return false
}

// narrowAcceptEncoding limits a matched read's Accept-Encoding to codings
// the filter can decode, keeping the app's order and weights, so the API
// never answers in one it cannot read (zstd), which would pass unfiltered.
// A header naming only known codings is left as sent; without the header
// nothing changes. It reports whether the app accepts an uncompressed
// answer.
func narrowAcceptEncoding(h http.Header) (identityOK bool) {
	vals := h.Values("Accept-Encoding")
	if len(vals) == 0 {
		return true
	}
	var kept []string
	changed, identityQ, starQ := false, -1.0, -1.0
	for _, v := range vals {
		for el := range strings.SplitSeq(v, ",") {
			el = strings.TrimSpace(el)
			if el == "" {
				continue
			}
			name, params, _ := strings.Cut(el, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			q := qValue(params)
			switch {
			case name == "identity":
				identityQ = q
			case name == "*":
				starQ = q
				if q > 0 {
					// Any coding: name the ones we read instead.
					kept = append(kept, "gzip;q="+formatQ(q), "deflate;q="+formatQ(q), "br;q="+formatQ(q))
					changed = true
					continue
				}
			case !decodable(name):
				changed = true
				continue
			}
			kept = append(kept, el)
		}
	}
	if changed {
		if len(kept) == 0 {
			kept = []string{"identity"}
		}
		h.Set("Accept-Encoding", strings.Join(kept, ", "))
	}
	return identityQ != 0 && (identityQ > 0 || starQ != 0)
}

// qValue reads the q parameter of an Accept-Encoding element (default 1).
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q >= 0 && q <= 1 {
				return q
			}
		}
	}
	return 1
}

func formatQ(q float64) string { return strconv.FormatFloat(q, 'f', -1, 64) }
