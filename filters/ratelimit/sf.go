package ratelimit

// This file scans the RFC 8941 structured-field lists used by the IETF
// RateLimit and RateLimit-Policy fields, by hand and without allocating.
// The scanners are pure functions of (value, index) returning the next
// index, which keeps the index in a register on the hot path.

// sfMember is one list member: its name (string content or token, raw, with
// any backslash escapes left in place) and the two integer parameters the
// caller asked for (Unknown when absent).
type sfMember struct {
	name string
	a, b int64
}

// sfIter walks the members of one field value. keyA and keyB are the
// single-letter parameters to extract ('r','t' or 'q','w'); others (pk, qu,
// extensions) are validated and skipped.
type sfIter struct {
	s          string
	i          int
	keyA, keyB byte
	started    bool
	err        bool
}

// next returns the next member; ok is false at the end of the value or on
// a syntax error, which also sets it.err.
func (it *sfIter) next() (m sfMember, ok bool) {
	if it.err {
		return m, false
	}
	s, i := it.s, skipOWSAt(it.s, it.i)
	if it.started {
		if i == len(s) {
			it.i = i
			return m, false
		}
		if s[i] != ',' {
			return m, it.fail()
		}
		i = skipOWSAt(s, i+1)
		if i == len(s) { // trailing comma
			return m, it.fail()
		}
	} else if i == len(s) {
		it.i = i
		return m, false
	}
	it.started = true
	m, i, ok = sfMemberAt(s, i, it.keyA, it.keyB)
	if !ok {
		return m, it.fail()
	}
	it.i = i
	return m, true
}

// fail records a syntax error.
func (it *sfIter) fail() bool {
	it.err = true
	return false
}

// sfMemberAt parses one sf-item (a string or token name plus parameters)
// starting at s[i].
func sfMemberAt(s string, i int, ka, kb byte) (m sfMember, end int, ok bool) {
	m.a, m.b = Unknown, Unknown
	if i >= len(s) {
		return m, i, false
	}
	start := i
	switch c := s[i]; {
	case c == '"':
		if i, ok = sfString(s, i); !ok {
			return m, i, false
		}
		m.name = s[start+1 : i-1]
	case isAlpha(c) || c == '*':
		i = sfToken(s, i)
		m.name = s[start:i]
	default:
		return m, i, false
	}
	for i < len(s) && s[i] == ';' {
		i = skipSPAt(s, i+1)
		keyStart := i
		if i, ok = sfKey(s, i); !ok {
			return m, i, false
		}
		want := i-keyStart == 1 && (s[keyStart] == ka || s[keyStart] == kb)
		if i >= len(s) || s[i] != '=' {
			if want { // boolean true is not a count
				return m, i, false
			}
			continue
		}
		i++
		if !want {
			if i, ok = sfSkipBare(s, i); !ok {
				return m, i, false
			}
			continue
		}
		var v int64
		if v, i, ok = scanUint(s, i); !ok {
			return m, i, false
		}
		if s[keyStart] == ka {
			m.a = v
		} else {
			m.b = v
		}
	}
	return m, i, true
}

// skipOWSAt returns the index of the first non-OWS byte at or after i.
func skipOWSAt(s string, i int) int {
	for i < len(s) && isOWS(s[i]) {
		i++
	}
	return i
}

// skipSPAt returns the index of the first non-space byte at or after i.
func skipSPAt(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// sfKey scans a parameter key: (lcalpha / "*") *(lcalpha / DIGIT / "_" /
// "-" / "." / "*").
func sfKey(s string, i int) (int, bool) {
	if i >= len(s) || !(isLower(s[i]) || s[i] == '*') {
		return i, false
	}
	for i++; i < len(s); i++ {
		c := s[i]
		if !isLower(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
	}
	return i, true
}

// sfString scans a quoted sf-string whose opening quote is at s[i] and
// returns the index after the closing quote.
func sfString(s string, i int) (int, bool) {
	for i++; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			i++
			if i >= len(s) || (s[i] != '"' && s[i] != '\\') {
				return i, false
			}
		case c < 0x20 || c > 0x7e:
			return i, false
		}
	}
	return i, false
}

// sfToken scans token characters (tchar, ':' and '/').
func sfToken(s string, i int) int {
	for i < len(s) && (isTchar(s[i]) || s[i] == ':' || s[i] == '/') {
		i++
	}
	return i
}

// sfSkipBare validates and scans any RFC 8941/9651 bare item: integer,
// decimal, string, token, byte sequence, boolean, date or display string.
func sfSkipBare(s string, i int) (int, bool) {
	if i >= len(s) {
		return i, false
	}
	switch c := s[i]; {
	case c == '"':
		return sfString(s, i)
	case c == '%': // display string
		if i+1 >= len(s) || s[i+1] != '"' {
			return i, false
		}
		return sfString(s, i+1)
	case c == ':': // byte sequence
		for i++; i < len(s) && isBase64(s[i]); i++ {
		}
		if i >= len(s) || s[i] != ':' {
			return i, false
		}
		return i + 1, true
	case c == '?': // boolean
		if i+1 >= len(s) || (s[i+1] != '0' && s[i+1] != '1') {
			return i, false
		}
		return i + 2, true
	case c == '-' || c == '@' || isDigit(c): // integer, decimal, date
		if c == '@' {
			i++
		}
		if i < len(s) && s[i] == '-' {
			i++
		}
		_, i, ok := scanUint(s, i)
		if !ok {
			return i, false
		}
		if c != '@' && i < len(s) && s[i] == '.' {
			_, i, ok = scanUint(s, i+1)
		}
		return i, ok
	case isAlpha(c) || c == '*':
		return sfToken(s, i), true
	}
	return i, false
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isLower(c byte) bool { return c >= 'a' && c <= 'z' }

func isBase64(c byte) bool { return isAlpha(c) || isDigit(c) || c == '+' || c == '/' || c == '=' }

// isTchar reports an RFC 9110 token character.
func isTchar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
