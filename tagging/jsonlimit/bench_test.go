package jsonlimit

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/filters/benchload"
	"github.com/tidwall/gjson"
)

// payload builds a realistic webhook-like batch of about size bytes: objects
// with strings (some holding brackets and escapes) and nested properties.
func payload(size int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"evt_%d","type":"contact.updated","actor":{"id":"u_%d","name":"A \"quoted\" [name]"},"properties":{"email":"x%d@example.com","tags":["a","b",{"k":"v"}],"note":"%s"}}`,
			i, i, i, strings.Repeat(`lorem \\ ipsum `, 4))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

func BenchmarkExceeded(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20} {
		body := payload(size)
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if Limit(0).Exceeded(body) {
					b.Fatal("payload reported too deep")
				}
			}
		})
	}
	deep := bytes.Repeat([]byte("["), 5<<20)
	b.Run("5MiB_of_brackets", func(b *testing.B) {
		for b.Loop() {
			if !Limit(0).Exceeded(deep) {
				b.Fatal("not reported")
			}
		}
	})
}

// BenchmarkValidate compares the two passes extraction made (Exceeded,
// then gjson.ValidBytes) with Check's one: compare with
// benchstat -col /impl.
func BenchmarkValidate(b *testing.B) {
	bodies := []struct {
		name string
		body []byte
	}{
		{"1KiB", payload(1 << 10)},
		{"1MiB", payload(1 << 20)},
		{"tracker", benchload.TrackerWebhook(1, 1000)},
	}
	impls := []struct {
		name string
		ok   func([]byte) bool
	}{
		{"two-pass", func(d []byte) bool { return !Limit(0).Exceeded(d) && gjson.ValidBytes(d) }},
		{"check", func(d []byte) bool { valid, tooDeep := Limit(0).Check(d); return valid && !tooDeep }},
	}
	for _, body := range bodies {
		for _, impl := range impls {
			b.Run("body="+body.name+"/impl="+impl.name, func(b *testing.B) {
				b.SetBytes(int64(len(body.body)))
				for b.Loop() {
					if !impl.ok(body.body) {
						b.Fatal("payload reported invalid")
					}
				}
			})
		}
	}
}
