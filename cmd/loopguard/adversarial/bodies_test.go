package adversarial

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// bigBody is a large JSON delivery generated on the fly, so a case can send
// hundreds of megabytes without holding them: prefix, fill bytes of 'a',
// suffix.
type bigBody struct {
	prefix, suffix string
	fill           int64
}

// bigEvent is a generic-profile event of exactly size bytes.
func bigEvent(id string, size int64) bigBody {
	prefix := fmt.Sprintf(`{"id":%q,"object":"contacts","actor":"u_human","record":{"id":"r-%s","name":"`, id, id)
	suffix := `"}}`
	return bigBody{prefix: prefix, suffix: suffix, fill: size - int64(len(prefix)+len(suffix))}
}

func (b bigBody) size() int64 { return int64(len(b.prefix)+len(b.suffix)) + b.fill }

func (b bigBody) reader() io.Reader {
	return io.MultiReader(strings.NewReader(b.prefix), &repeatByte{n: b.fill}, strings.NewReader(b.suffix))
}

func (b bigBody) sum() [32]byte {
	h := sha256.New()
	_, _ = io.Copy(h, b.reader())
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// repeatByte reads n bytes 'a', copied from one shared block, so sending
// hundreds of megabytes stays fast even under -race.
type repeatByte struct{ n int64 }

var aBlock = bytes.Repeat([]byte("a"), 64<<10)

func (r *repeatByte) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(int64(len(p)), r.n)], aBlock)
	r.n -= int64(k)
	return k, nil
}

// deliverBig posts a generated body as a provider would.
func deliverBig(t testing.TB, lg *Loopguard, path string, b bigBody) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+lg.Inbound+path, b.reader())
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = b.size()
	req.Header.Set("Content-Type", "application/json")
	resp, err := providerClient.Do(req)
	if err != nil {
		return 0, nil
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}
