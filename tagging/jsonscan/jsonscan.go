// Package jsonscan walks the members of a JSON object without parsing
// their values: the one-pass readers of the fingerprint (tagging) and of
// an event's value specs (filters) use it to read a record once instead
// of looking each path up from the start.
package jsonscan

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Members walks the members of the JSON object raw (its first byte '{'),
// calling fn with each member's key as written (without quotes; esc: it
// has escapes) and its value's bytes, until fn returns false. It reads
// each value only as far as its end — strings are not unescaped, nested
// values not parsed — which is what makes a one-pass read cheap.
// It returns false when raw is not a well-formed object where it looked
// (fn may have been called for the members before that point); the
// caller then reads raw with gjson instead.
func Members(raw string, fn func(key string, esc bool, val string) bool) bool {
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == '}' {
		return true
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return false
		}
		end, esc, ok := stringAt(raw, i)
		if !ok {
			return false
		}
		key := raw[i+1 : end-1]
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return false
		}
		i = skipSpace(raw, i+1)
		vend, ok := valueEnd(raw, i)
		if !ok {
			return false
		}
		if !fn(key, esc, raw[i:vend]) {
			return true
		}
		i = skipSpace(raw, vend)
		if i >= len(raw) {
			return false
		}
		switch raw[i] {
		case '}':
			return true
		case ',':
			i = skipSpace(raw, i+1)
		default:
			return false
		}
	}
	return false
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// stringAt returns the end (past the closing quote) of the JSON string
// starting at s[i] == '"', and whether it has escapes. It finds quotes
// and backslashes with strings.IndexByte; it does not check the
// characters between them (Members does not validate: its callers read
// validated JSON, or accept gjson's reading of what is not).
func stringAt(s string, i int) (end int, esc, ok bool) {
	j := i + 1
	for {
		k := strings.IndexByte(s[j:], '"')
		if k < 0 {
			return 0, false, false
		}
		k += j
		n := 0 // backslashes right before the quote
		for b := k - 1; b > i && s[b] == '\\'; b-- {
			n++
		}
		if n%2 == 0 {
			return k + 1, esc || strings.IndexByte(s[j:k], '\\') >= 0, true
		}
		esc, j = true, k+1 // an escaped quote
	}
}

// valueEnd returns the end of the JSON value starting at s[i].
func valueEnd(s string, i int) (int, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch s[i] {
	case '"':
		end, _, ok := stringAt(s, i)
		return end, ok
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				end, _, ok := stringAt(s, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	case ',', '}', ']', ':':
		return 0, false
	}
	// A number or a literal (true, false, null): its characters only.
	j := i
	for j < len(s) && literalByte(s[j]) {
		j++
	}
	return j, j > i
}

func literalByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'E'
}

// AppendUnescaped appends the JSON string content s (between its quotes)
// unescaped to dst, as gjson does for Result.Str of a valid JSON string:
// \u escapes decoded (a surrogate pair into one rune, a lone surrogate to
// U+FFFD); it stops at a malformed escape. Control characters, which no
// valid JSON string holds, are copied (gjson stops at them).
func AppendUnescaped(dst []byte, s string) []byte {
	for len(s) > 0 {
		// Copy the run up to the next backslash.
		k := strings.IndexByte(s, '\\')
		if k < 0 {
			k = len(s)
		}
		dst = append(dst, s[:k]...)
		if k == len(s) || k+1 == len(s) {
			return dst
		}
		i := k + 1
		switch s[i] {
		case '\\', '/', '"':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			if i+5 > len(s) {
				return dst
			}
			r := hex4(s[i+1 : i+5])
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+7 <= len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if r2 := hex4(s[i+3 : i+7]); r2 >= 0xDC00 && r2 < 0xE000 {
					r = utf16.DecodeRune(r, r2)
					i += 6
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst
		}
		s = s[i+1:]
	}
	return dst
}

// hex4 reads four hex digits (0 when they are not).
func hex4(s string) rune {
	n, _ := strconv.ParseUint(s, 16, 64)
	return rune(n)
}
