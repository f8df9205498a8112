package ledger

import (
	"bufio"
	"encoding/hex"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeV3 decodes entries written by the version-3 codec (Redis
// ledgers persist across upgrades): each must give the same State as the
// sample it was encoded from, and re-encoding it must decode to that State
// again.
func TestDecodeV3(t *testing.T) {
	f, err := os.Open("testdata/codec_v3.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	samples := sampleStates()
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hx, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad fixture line %q", line)
		}
		want, ok := samples[name]
		if !ok {
			t.Fatalf("fixture %q names no sample state", name)
		}
		seen++
		t.Run(name, func(t *testing.T) {
			b, err := hex.DecodeString(hx)
			if err != nil {
				t.Fatal(err)
			}
			if b[0] != 3 {
				t.Fatalf("fixture is version %d, want 3", b[0])
			}
			var got State
			if err := Decode(b, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(normal(got), normal(want)) {
				t.Fatalf("v3 entry\n got %+v\nwant %+v", got, want)
			}
			var again State
			if err := Decode(Encode(nil, &got), &again); err != nil || !reflect.DeepEqual(normal(again), normal(want)) {
				t.Fatalf("re-encoded: %v\n got %+v\nwant %+v", err, again, want)
			}
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if seen != len(samples) {
		t.Fatalf("%d fixtures for %d sample states", seen, len(samples))
	}
}
