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
	samples := sampleStates()
	fixtures := v3Fixtures(t)
	if len(fixtures) != len(samples) {
		t.Fatalf("%d fixtures for %d sample states", len(fixtures), len(samples))
	}
	for name, b := range fixtures {
		want, ok := samples[name]
		if !ok {
			t.Fatalf("fixture %q names no sample state", name)
		}
		t.Run(name, func(t *testing.T) {
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
}

// v3Fixtures reads testdata/codec_v3.txt: sample state name → entry.
func v3Fixtures(t testing.TB) map[string][]byte {
	f, err := os.Open("testdata/codec_v3.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hx, ok := strings.Cut(line, "\t")
		b, err := hex.DecodeString(hx)
		if !ok || err != nil || len(b) == 0 {
			t.Fatalf("bad fixture line %q", line)
		}
		out[name] = b
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
