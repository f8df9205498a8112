package tagging

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// record20 builds a record with 20 tracked fields (mixed types) and 10
// untracked volatile ones, keys in reverse order.
func record20() (body []byte, tracked []string) {
	var b strings.Builder
	b.WriteString("{")
	for i := 29; i >= 0; i-- {
		if i < 29 {
			b.WriteString(",")
		}
		name := fmt.Sprintf("field_%02d", i)
		if i >= 20 {
			name = fmt.Sprintf("volatile_%02d", i)
		} else {
			tracked = append(tracked, name)
		}
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "%q:%d", name, i*1000)
		case 1:
			fmt.Fprintf(&b, "%q:\"  Value Number %d  \"", name, i)
		case 2:
			fmt.Fprintf(&b, "%q:true", name)
		default:
			fmt.Fprintf(&b, "%q:null", name)
		}
	}
	b.WriteString("}")
	return []byte(b.String()), tracked
}

func BenchmarkFingerprint20Fields(b *testing.B) {
	body, tracked := record20()
	f := NewFingerprinter(tracked, map[string][]string{"*": {"trim", "lower"}})
	rec := gjson.ParseBytes(body)
	dst := make([]FieldHash, 0, 32)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		dst = f.FromJSON(dst[:0], rec)
		if Combine(dst) == 0 || len(dst) != 20 {
			b.Fatal("bad fingerprint")
		}
	}
}

// json2KB is a ~2 KiB JSON write body with a nested properties object.
func json2KB() []byte {
	var b strings.Builder
	b.WriteString(`{"properties":{`)
	for i := 0; b.Len() < 2000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"prop_%03d":"value number %d for the benchmark"`, i, i)
	}
	b.WriteString(`},"associations":[]}`)
	return []byte(b.String())
}

func BenchmarkSetJSON2KB(b *testing.B) {
	body := json2KB()
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := SetJSON(body, "properties", "loopguard_sync", testSentinel); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetForm(b *testing.B) {
	body := []byte("amount=2000&currency=usd&description=" + url.QueryEscape("Invoice for order 1234") +
		"&metadata%5Border_id%5D=1234&metadata%5Bcustomer%5D=acme&customer=cus_123")
	key := FormKey("metadata.sync")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if out := SetForm(body, key, testSentinel); len(out) <= len(body) {
			b.Fatal("nothing appended")
		}
	}
}
