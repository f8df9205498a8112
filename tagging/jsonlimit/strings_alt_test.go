package jsonlimit

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"testing"

	"github.com/loopguard/loopguard/filters/benchload"
)

// The string scanners validStringEnd was measured against
// (BenchmarkStringEnd).

// stringEndBytewise reads one byte at a time, as gjson's validator does.
func stringEndBytewise(b []byte, i int) (int, bool) {
	for ; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			if i+1 >= len(b) {
				return i + 1, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, false
				}
				i += 5
			default:
				return i + 1, false
			}
		case c < 0x20:
			return i, false
		}
	}
	return i, false
}

// stringEndTwoWords reads two words a step.
func stringEndTwoWords(b []byte, i int) (int, bool) {
	n := len(b)
	for {
		for i+16 <= n {
			m := special(binary.LittleEndian.Uint64(b[i:]))
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto found
			}
			m = special(binary.LittleEndian.Uint64(b[i+8:]))
			if m != 0 {
				i += 8 + bits.TrailingZeros64(m)>>3
				goto found
			}
			i += 16
		}
		if i+8 <= n {
			if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto found
			}
			i += 8
		}
		for i < n && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= n {
			return i, false
		}
	found: // b[i] is '"', '\\' or a control byte
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			if i+1 >= n {
				return i + 1, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > n || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return i, false
				}
				i += 6
			default:
				return i + 1, false
			}
		default:
			return i, false
		}
	}
}

// stringEndIndexByte finds the next quote or backslash with the
// runtime's vector IndexByte, then checks the plain run before it for
// control bytes a word at a time.
func stringEndIndexByte(b []byte, i int) (int, bool) {
	n := len(b)
	for {
		q := bytes.IndexByte(b[i:], '"')
		if q < 0 {
			return n, false
		}
		end := i + q
		if s := bytes.IndexByte(b[i:end], '\\'); s >= 0 {
			end = i + s
		}
		for ; i+8 <= end; i += 8 {
			w := binary.LittleEndian.Uint64(b[i:])
			if (w-space)&^w&highs != 0 {
				return i, false
			}
		}
		for ; i < end; i++ {
			if b[i] < 0x20 {
				return i, false
			}
		}
		if b[i] == '"' {
			return i + 1, true
		}
		if i+1 >= n {
			return i + 1, false
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > n || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
				return i, false
			}
			i += 6
		default:
			return i + 1, false
		}
	}
}

var stringScanners = []struct {
	name string
	end  func([]byte, int) (int, bool)
}{
	{"bytewise", stringEndBytewise},
	{"word", validStringEnd},
	{"twowords", stringEndTwoWords},
	{"indexbyte", stringEndIndexByte},
}

// stringStarts returns the index of each string's first content byte in
// the valid document d.
func stringStarts(d []byte) []int {
	var starts []int
	for i := 0; i < len(d); i++ {
		if d[i] == '"' {
			starts = append(starts, i+1)
			i, _ = validStringEnd(d, i+1)
			i--
		}
	}
	return starts
}

func TestStringScannersAgree(t *testing.T) {
	for _, tc := range readCases(t) {
		for i := range tc.in {
			wi, wok := stringEndBytewise(tc.in, i)
			for _, s := range stringScanners {
				if gi, gok := s.end(tc.in, i); gok != wok || (gok && gi != wi) {
					t.Fatalf("%s(%q, %d) = %d, %v; bytewise %d, %v", s.name, tc.in, i, gi, gok, wi, wok)
				}
			}
		}
	}
}

func BenchmarkStringEnd(b *testing.B) {
	for _, body := range []struct {
		name string
		d    []byte
	}{{"1KiB", payload(1 << 10)}, {"tracker", benchload.TrackerWebhook(1, 1000)}, {"1MiB", payload(1 << 20)}} {
		starts := stringStarts(body.d)
		for _, s := range stringScanners {
			b.Run("body="+body.name+"/scan="+s.name, func(b *testing.B) {
				b.SetBytes(int64(len(body.d)))
				for b.Loop() {
					for _, i := range starts {
						if _, ok := s.end(body.d, i); !ok {
							b.Fatal("string reported invalid")
						}
					}
				}
			})
		}
	}
}
