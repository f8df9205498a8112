package ledger

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

func sampleStates() map[string]State {
	return map[string]State{
		"empty":    {},
		"app only": {App: []Value{{Name: "a", Hash: 1, At: 5}, {Name: "b", Hash: ^uint64(0)}}, LastSeen: time.Unix(100, 0)},
		"history": {NextSeq: 3, LastWrite: time.Unix(200, 7), App: []Value{{Name: "a", Hash: 2, At: -3}},
			Writes: []Version{
				{Seq: 2, At: time.Unix(150, 0), Expected: []Field{{"a", 1}, {"b", 2}}, Written: 1, Nonce: 9, FP: 8, Created: true},
				{Seq: 3, At: time.Unix(200, 7), Expected: []Field{{"a", 2}}, Written: 1, NoOp: true},
			}},
		// The shape of most records: one write of a few fields, the app
		// holding what was written.
		"one write": {NextSeq: 1, LastWrite: time.Unix(1764237600, 123456789),
			App: []Value{{Name: "email", Hash: 11}, {Name: "name", Hash: 12}, {Name: "phone", Hash: 13}},
			Writes: []Version{{Seq: 1, At: time.Unix(1764237600, 123456789), Written: 7,
				Expected: []Field{{"email", 11}, {"name", 12}, {"phone", 13}}}}},
		// Expected fields the app is not known to hold, values that differ
		// from the app's, several writes, a write with no time, a name with
		// the key separator and non-ASCII bytes, both clock times.
		"rich": {NextSeq: 70000, LastWrite: time.Unix(1764237600, 5), LastSeen: time.Unix(1764237000, 999),
			App: []Value{{Name: "a|b", Hash: 1, At: 1764237000123}, {Name: "stage", Hash: 2, At: -1}, {Name: "é", Hash: 0}},
			Writes: []Version{
				{Seq: 69998, Expected: []Field{{"a|b", 1}, {"owner", 9}}, Written: 2, Shown: true, ProviderAt: 77},
				{Seq: 69999, At: time.Unix(1764237300, 0), Expected: []Field{{"a|b", 5}, {"owner", 9}, {"stage", 2}, {"zz", 3}},
					Written: 9, Nonce: ^uint64(0), FP: 1, Created: true},
				{Seq: 70000, At: time.Unix(1764237600, 5), Expected: []Field{{"é", 0}}, Written: ^uint64(0), NoOp: true, ProviderAt: -5},
			}},
		"seen only, old": {LastSeen: time.Unix(-100, 0), App: []Value{{Name: "x", Hash: 3, At: 1}}},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for name, st := range sampleStates() {
		t.Run(name, func(t *testing.T) {
			b := Encode(nil, &st)
			var got State
			if err := Decode(b, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normal(got), normal(st)) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, st)
			}
			// Decoding into a used State leaves nothing of the old one.
			used := sampleStates()["history"]
			if err := Decode(b, &used); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normal(used), normal(st)) {
				t.Fatalf("into used State\n got %+v\nwant %+v", used, st)
			}
			if pre := Encode([]byte("xy"), &st); !bytes.HasPrefix(pre, []byte("xy")) {
				t.Fatal("Encode did not append to dst")
			}
		})
	}
}

// normal maps empty slices to nil and times to UTC for comparison.
func normal(st State) State {
	if len(st.App) == 0 {
		st.App = nil
	}
	if len(st.Writes) == 0 {
		st.Writes = nil
	}
	for i := range st.Writes {
		st.Writes[i].At = st.Writes[i].At.UTC()
	}
	if !st.LastWrite.IsZero() {
		st.LastWrite = st.LastWrite.UTC()
	}
	if !st.LastSeen.IsZero() {
		st.LastSeen = st.LastSeen.UTC()
	}
	return st
}

func TestCodecCorrupt(t *testing.T) {
	h := sampleStates()["history"]
	valid := Encode(nil, &h)
	cases := map[string][]byte{
		"empty":         {},
		"old version":   {2, 0, 0},
		"unknown flags": {codecVersion, 0x80, 0, 0, 0},
		"truncated":     valid[:len(valid)-3],
		"trailing":      append(append([]byte{}, valid...), 0),
		"huge count":    {codecVersion, 0, 0, 0xff, 0xff, 0x03},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			st := sampleStates()["history"]
			if err := Decode(b, &st); err != errCorrupt {
				t.Fatalf("Decode(%x) = %v, want errCorrupt", b, err)
			}
			if st.Known() {
				t.Fatalf("a corrupt entry left state behind: %+v", st)
			}
		})
	}
}

func FuzzDecodeState(f *testing.F) {
	for _, st := range sampleStates() {
		f.Add(Encode(nil, &st))
	}
	for _, b := range v3Fixtures(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var st State
		if err := Decode(b, &st); err != nil {
			return
		}
		again := Encode(nil, &st)
		var st2 State
		if err := Decode(again, &st2); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if !bytes.Equal(again, Encode(nil, &st2)) {
			t.Fatal("encoding is not stable")
		}
	})
}

// TestCodecSize pins the size of the typical entry (the ledger's memory per
// record is mostly this; see README, Performance).
func TestCodecSize(t *testing.T) {
	st := sampleStates()["one write"]
	if n := len(Encode(nil, &st)); n != 67 {
		t.Fatalf("one write of three fields: %d bytes, want 67 (version 3: 111)", n)
	}
}

func TestCodecCorruptV4(t *testing.T) {
	// One write of one field "a": napp 1 (a, hash 1, at 0), no extra
	// names, write seq 1, no time, no sentinel, providerAt 0, written 1.
	entry := func(wf byte, back byte, ref ...byte) []byte {
		b := []byte{codecVersion, 0, 1, 1, 1, 'a', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, back, wf, 0, 1, 1}
		return append(b, ref...)
	}
	var st State
	if err := Decode(entry(wNoTime, 0, 1), &st); err != nil || st.Writes[0].Expected[0] != (Field{"a", 1}) || st.Writes[0].Seq != 1 {
		t.Fatalf("valid entry: %v %+v", err, st)
	}
	cases := map[string][]byte{
		"same as a missing app value": entry(wNoTime, 0, 3),
		"name index past the table":   entry(wNoTime, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0),
		"seq past 32 bits":            append(entry(0, 0)[:17], 0x80, 0x80, 0x80, 0x80, 0x10, wNoTime, 0, 1, 1, 1),
		"time missing":                entry(0, 0, 1),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			st := sampleStates()["history"]
			if err := Decode(b, &st); err != errCorrupt {
				t.Fatalf("Decode(%x) = %v, want errCorrupt", b, err)
			}
			if st.Known() {
				t.Fatalf("a corrupt entry left state behind: %+v", st)
			}
		})
	}
}

// TestCodecUnsorted: lists out of name order (never written by the ledger's
// rules, but a State is plain data) still round-trip exactly.
func TestCodecUnsorted(t *testing.T) {
	st := State{NextSeq: 2, LastWrite: time.Unix(10, 0),
		App: []Value{{Name: "z", Hash: 1}, {Name: "a", Hash: 2}, {Name: "a", Hash: 3}},
		Writes: []Version{{Seq: 2, At: time.Unix(10, 0), Written: 5,
			Expected: []Field{{"q", 4}, {"a", 3}, {"z", 1}, {"a", 2}, {"q", 5}, {"b", 6}}}}}
	var got State
	if err := Decode(Encode(nil, &st), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normal(got), normal(st)) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, st)
	}
}
