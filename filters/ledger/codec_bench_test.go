package ledger

import (
	"testing"
	"time"
)

// benchState is the typical record: one write of three fields, the app
// holding what was written (the shape of the harness's ledger entries).
func benchState() State {
	at := time.Unix(1764237600, 123456789)
	return State{NextSeq: 1, LastWrite: at,
		App: []Value{{Name: "email", Hash: 11}, {Name: "name", Hash: 12}, {Name: "phone", Hash: 13}},
		Writes: []Version{{Seq: 1, At: at, Written: 7, Nonce: 3, FP: 4,
			Expected: []Field{{"email", 11}, {"name", 12}, {"phone", 13}}}}}
}

func BenchmarkEncode(b *testing.B) {
	st := benchState()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = Encode(buf[:0], &st)
	}
	b.ReportMetric(float64(len(buf)), "bytes")
}

func BenchmarkDecode(b *testing.B) {
	st := benchState()
	enc := Encode(nil, &st)
	names := newNameTable()
	var got State
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeStateNames(enc, &got, names); err != nil {
			b.Fatal(err)
		}
	}
}
