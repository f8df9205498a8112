package tagging

import (
	"unsafe"

	"github.com/loopguard/loopguard/tagging/jsonscan"
)

// hashRaw is hashValue of the JSON value raw (as jsonscan.Members gives it),
// without parsing it into a gjson.Result: a string is unescaped only when
// it has escapes, into buf when it fits.
func hashRaw(raw string, n norm, buf []byte) uint64 {
	switch raw[0] {
	case '"':
		s := raw[1 : len(raw)-1]
		for k := 0; k < len(s); k++ {
			if s[k] == '\\' {
				b := jsonscan.AppendUnescaped(buf[:0], s)
				return hashString(unsafe.String(unsafe.SliceData(b), len(b)), n)
			}
		}
		return hashString(s, n)
	case 'n':
		return hashString("", n)
	case 't':
		return hashString("true", n)
	case 'f':
		return hashString("false", n)
	case '{', '[':
		return hashString(raw, 0)
	}
	return hashString(raw, n|normNumberLiteral)
}
