// Package jsonlimit bounds the nesting depth of JSON before any recursive
// parser sees it. gjson.Valid, sjson and encoding/json recurse once per
// level: 5 MiB of "[" costs them a goroutine stack of about a gigabyte.
// Exceeded scans the bytes once, iteratively, with constant memory, and
// stops at the first bracket past the limit. Check does the same while
// validating the JSON as gjson.ValidBytes does, so that a body about to be
// parsed is read once, not twice.
//
// It is a leaf package (standard library only) so that tagging, filters and
// proxy can all use it.
package jsonlimit

import "bytes"

// DefaultMaxDepth is the depth limit a zero Limit stands for: far deeper
// than any API payload (HubSpot, Salesforce and GitHub stay under 20), and
// shallow enough that a recursive parser's stack stays small.
const DefaultMaxDepth = 256

// Limit is a maximum nesting depth of arrays and objects; the zero value
// (or a negative one) means DefaultMaxDepth. A document whose outermost
// value is an array or object has depth 1.
type Limit int

// Max returns the effective limit.
func (l Limit) Max() int {
	if l <= 0 {
		return DefaultMaxDepth
	}
	return int(l)
}

// Exceeded reports whether b opens more than l.Max() nested arrays or
// objects. Only brackets outside strings count; a backslash escapes the
// next byte inside a string. b need not be valid JSON: unbalanced closing
// brackets are ignored, and whatever a parser would reject it still rejects.
func (l Limit) Exceeded(b []byte) bool {
	return scan(b, l.Max()) > l.Max()
}

// Depth returns the deepest nesting in b, scanning all of it (for
// diagnostics and tests; Exceeded stops early).
func Depth(b []byte) int { return scan(b, -1) }

// class marks the bytes the scanner stops at outside strings.
var class = [256]uint8{'"': 1, '[': 2, '{': 2, ']': 3, '}': 3}

// scan returns the maximum depth of b, or stop+1 as soon as depth passes
// stop (stop < 0: never).
func scan(b []byte, stop int) int {
	depth, max := 0, 0
	for i := 0; i < len(b); i++ {
		switch class[b[i]] {
		case 0:
			continue
		case 1:
			end, ok := stringEnd(b, i+1)
			if !ok {
				return max
			}
			i = end
		case 2:
			depth++
			if depth > max {
				max = depth
				if stop >= 0 && max > stop {
					return max
				}
			}
		case 3:
			if depth > 0 {
				depth--
			}
		}
	}
	return max
}

// stringEnd returns the index of the quote closing the string whose first
// content byte is at i; ok is false when the string never closes. A quote
// preceded by an odd number of backslashes is escaped.
func stringEnd(b []byte, i int) (int, bool) {
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b), false
		}
		q := i + j
		n := 0
		for k := q - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return q, true
		}
		i = q + 1
	}
}
