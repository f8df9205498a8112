package ledger

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

func statesEqual(a, b *State) bool {
	if !a.LastWrite.Equal(b.LastWrite) || !a.LastSeen.Equal(b.LastSeen) || a.WriteFP != b.WriteFP || len(a.Fields) != len(b.Fields) {
		return false
	}
	for i := range a.Fields {
		x, y := a.Fields[i], b.Fields[i]
		if x.Name != y.Name || x.HasSeen != y.HasSeen || x.Seen != y.Seen || !equalU64(x.Pending, y.Pending) {
			return false
		}
	}
	return true
}

func TestCodecRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)
	cases := []struct {
		name string
		st   State
	}{
		{"empty", State{}},
		{"times only", State{LastWrite: now, LastSeen: now.Add(-time.Hour), WriteFP: 0xdeadbeefcafef00d}},
		{"pending and seen", State{LastWrite: now, WriteFP: 7, Fields: []FieldState{
			{Name: "email", Pending: []uint64{1, 2, 3, 4}},
			{Name: "name", Seen: ^uint64(0), HasSeen: true},
			{Name: "properties.firstname", Pending: []uint64{9}, Seen: 0, HasSeen: true},
		}}},
		{"unicode and empty names", State{LastSeen: now, Fields: []FieldState{
			{Name: "", Pending: []uint64{1}},
			{Name: "prénom|名前", Seen: 42, HasSeen: true},
		}}},
		{"pre-epoch time", State{LastWrite: time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := encodeState(nil, &c.st)
			var got State
			if err := decodeState(b, &got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !statesEqual(&got, &c.st) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, c.st)
			}
			// Decoding into a State that already holds more fields and longer
			// pending lists must not leak them.
			used := State{Fields: []FieldState{
				{Name: "old1", Pending: []uint64{5, 5, 5, 5}, HasSeen: true, Seen: 5},
				{Name: "old2", Pending: []uint64{6}}, {Name: "old3"}, {Name: "old4"},
			}}
			if err := decodeState(b, &used); err != nil {
				t.Fatalf("decode into used: %v", err)
			}
			if !statesEqual(&used, &c.st) {
				t.Fatalf("decode into used State:\n got %+v\nwant %+v", used, c.st)
			}
			// Appending to dst keeps what dst held.
			pre := encodeState([]byte("xy"), &c.st)
			if string(pre[:2]) != "xy" || string(pre[2:]) != string(b) {
				t.Fatal("encodeState did not append to dst")
			}
		})
	}
}

func TestCodecCorrupt(t *testing.T) {
	valid := encodeState(nil, &State{LastWrite: time.Unix(100, 0), Fields: []FieldState{{Name: "name", Pending: []uint64{1, 2}}}})
	header := func(extra ...byte) []byte {
		b := []byte{codecVersion, hasLastWrite}
		b = append(b, make([]byte, 8)...)
		return append(b, extra...)
	}
	withUvarint := func(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }
	cases := []struct {
		name string
		b    []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"wrong version", append([]byte{1}, valid[1:]...)},
		{"unknown header flag", append([]byte{codecVersion, 0x80}, valid[2:]...)},
		{"header truncated", valid[:9]},
		{"no field count", header()},
		{"bad field count varint", header(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)},
		{"absurd field count", withUvarint(header(), 1<<20)},
		{"field missing", withUvarint(header(), 1)},
		{"name length beyond the entry", append(withUvarint(withUvarint(header(), 1), 100), make([]byte, 20)...)},
		{"name length that overflows", append(withUvarint(withUvarint(header(), 1), ^uint64(0)), make([]byte, 40)...)},
		{"name length that overflows by less", append(withUvarint(withUvarint(header(), 1), ^uint64(0)-5), make([]byte, 40)...)},
		{"too many pending", append(withUvarint(withUvarint(header(), 1), 1), append([]byte("a"), byte((MaxPending+1)<<1))...)},
		{"unknown field flag", append(withUvarint(withUvarint(header(), 1), 1), append([]byte("a"), 0x20)...)},
		{"seen truncated", append(withUvarint(withUvarint(header(), 1), 1), append([]byte("a"), 1, 0, 0)...)},
		{"pending truncated", valid[:len(valid)-1]},
		{"second field missing", func() []byte {
			b := encodeState(nil, &State{Fields: []FieldState{{Name: "a"}, {Name: "b"}}})
			return b[:len(b)-3]
		}()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var st State
			err := decodeState(c.b, &st)
			if !errors.Is(err, errCorrupt) {
				t.Fatalf("decodeState(%x) = %v, want errCorrupt", c.b, err)
			}
		})
	}
}

// FuzzDecodeState: arbitrary bytes never panic, and whatever decodes
// re-encodes to something that decodes to the same state.
func FuzzDecodeState(f *testing.F) {
	f.Add(encodeState(nil, &State{}))
	f.Add(encodeState(nil, &State{LastWrite: time.Unix(1, 0), WriteFP: 3, Fields: []FieldState{
		{Name: "email", Pending: []uint64{1, 2}}, {Name: "name", Seen: 4, HasSeen: true},
	}}))
	f.Add([]byte{codecVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		var st State
		if err := decodeState(b, &st); err != nil {
			return
		}
		again := encodeState(nil, &st)
		var st2 State
		if err := decodeState(again, &st2); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if !statesEqual(&st, &st2) {
			t.Fatalf("re-encode changed the state:\n%+v\n%+v", st, st2)
		}
	})
}
