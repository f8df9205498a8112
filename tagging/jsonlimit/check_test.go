package jsonlimit

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/loopguard/loopguard/filters/benchload"
	"github.com/tidwall/gjson"
)

// checkCase is one line of testdata/check.txt.
type checkCase struct {
	line int
	want string // valid, invalid or deep
	in   []byte
}

// caseLimit is the limit testdata/check.txt is written for.
const caseLimit = Limit(3)

func readCases(tb testing.TB) []checkCase {
	tb.Helper()
	f, err := os.Open("testdata/check.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var cases []checkCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		want, quoted, _ := strings.Cut(line, " ")
		in, err := strconv.Unquote(quoted)
		if err != nil || (want != "valid" && want != "invalid" && want != "deep") {
			tb.Fatalf("testdata/check.txt:%d: want WANT \"INPUT\", got %q (%v)", n, line, err)
		}
		cases = append(cases, checkCase{n, want, []byte(in)})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return cases
}

// verdict names Check's answer as the table does.
func verdict(valid, tooDeep bool) string {
	switch {
	case tooDeep:
		return "deep"
	case valid:
		return "valid"
	}
	return "invalid"
}

// agrees fails t unless l.Check(b) is what l.Exceeded and gjson.ValidBytes
// decide, and returns the verdict.
func agrees(t *testing.T, l Limit, b []byte) string {
	t.Helper()
	valid, tooDeep := l.Check(b)
	wantDeep := l.Exceeded(b)
	if tooDeep != wantDeep {
		t.Fatalf("Limit(%d).Check(%q): tooDeep %v, Exceeded %v", l, b, tooDeep, wantDeep)
	}
	if tooDeep {
		if valid {
			t.Fatalf("Limit(%d).Check(%q): valid and too deep", l, b)
		}
		return "deep"
	}
	if want := gjson.ValidBytes(b); valid != want {
		t.Fatalf("Limit(%d).Check(%q): valid %v, gjson.ValidBytes %v", l, b, valid, want)
	}
	return verdict(valid, tooDeep)
}

func TestCheckCases(t *testing.T) {
	for _, tc := range readCases(t) {
		t.Run(strconv.Itoa(tc.line), func(t *testing.T) {
			if got := agrees(t, caseLimit, tc.in); got != tc.want {
				t.Fatalf("testdata/check.txt:%d: Check(%q) is %s, want %s", tc.line, tc.in, got, tc.want)
			}
			agrees(t, 0, tc.in)
			// Every split of the input into a string's worth of
			// padding tests the eight-byte scanner at each alignment.
			for pad := 1; pad < 17; pad++ {
				agrees(t, caseLimit, append([]byte(`["`+strings.Repeat("x", pad)+`",`), append(tc.in, ']')...))
			}
		})
	}
}

func TestCheckPayloads(t *testing.T) {
	docs := [][]byte{payload(1 << 10), benchload.TrackerWebhook(7, 1000)}
	for _, d := range docs {
		if valid, tooDeep := Limit(0).Check(d); !valid || tooDeep {
			t.Fatalf("Check(payload of %d bytes) = %v, %v", len(d), valid, tooDeep)
		}
		// Each truncation and each single-byte damage agrees too.
		for i := 0; i < len(d) && i < 2048; i++ {
			agrees(t, 0, d[:i])
			agrees(t, 4, d[:i])
			c := bytes.Clone(d)
			for _, x := range []byte{'"', '\\', '[', '}', 0x1f, ',', ' '} {
				c[i] = x
				agrees(t, 0, c)
				agrees(t, 3, c)
			}
		}
	}
}

func TestCheckDepthLimits(t *testing.T) {
	nest := func(open, close string, n int) []byte {
		return []byte(strings.Repeat(open, n) + "1" + strings.Repeat(close, n))
	}
	for _, l := range []Limit{0, -1, 1, 63, 64, 65, 128, 256, 257, 300, 1000} {
		for _, n := range []int{l.Max() - 1, l.Max(), l.Max() + 1} {
			agrees(t, l, nest("[", "]", n))
			agrees(t, l, nest(`{"k":`, "}", n))
			agrees(t, l, nest(`[{"k":`, "}]", n/2))
		}
	}
	if valid, tooDeep := Limit(1000).Check(nest(`[{"k":`, "}]", 500)); !valid || tooDeep {
		t.Fatalf("Limit(1000): 1000 levels: valid %v, tooDeep %v", valid, tooDeep)
	}
	deep := bytes.Repeat([]byte("["), 5<<20)
	if valid, tooDeep := Limit(0).Check(deep); valid || !tooDeep {
		t.Fatalf("5 MiB of '[': valid %v, tooDeep %v", valid, tooDeep)
	}
}

// TestCheckAllocs: a body within the default limit costs no allocation.
func TestCheckAllocs(t *testing.T) {
	d := payload(1 << 10)
	if n := testing.AllocsPerRun(100, func() { Limit(0).Check(d) }); n != 0 {
		t.Fatalf("Check allocates %v times", n)
	}
}

func FuzzCheckMatchesGJSON(f *testing.F) {
	for _, tc := range readCases(f) {
		f.Add(tc.in, uint8(caseLimit))
	}
	f.Add(payload(1<<10), uint8(0))
	f.Add(payload(4<<10), uint8(5))
	for i := range 3 {
		f.Add(benchload.TrackerWebhook(i, 1000), uint8(i))
	}
	f.Fuzz(func(t *testing.T, b []byte, limit uint8) {
		// 0 is the default (256); small limits put the boundary
		// where the fuzzer can reach it.
		agrees(t, Limit(limit%10), b)
	})
}
