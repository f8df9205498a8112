package jsonlimit

// Check validates b and checks its nesting depth against l in one pass,
// iteratively (constant stack, whatever the input), and stops at the first
// syntax error or at the first bracket past the limit.
//
// tooDeep is exactly l.Exceeded(b). When tooDeep is false, valid is exactly
// gjson.ValidBytes(b): RFC 8259 JSON with surrounding whitespace (space,
// tab, CR, LF) and no UTF-8 check inside strings (any byte >= 0x20 but '"'
// and '\\' is string content). When tooDeep is true, valid is false:
// whether such a body is JSON is not decided.
//
// The common path, a valid body within the limit, reads every byte once.
// Where a syntax error stops the pass before the end, tooDeep is decided by
// Exceeded over the whole body (invalid bodies are the rare path), so that
// a too-deep body is reported as such however it is broken.
func (l Limit) Check(b []byte) (valid, tooDeep bool) {
	max := l.Max()
	// kinds holds one bit per open container, set for an object: what may
	// follow a value (',' then a key or a value; '}' or ']'). Four words
	// cover DefaultMaxDepth without allocating; a larger limit grows it
	// by a word per 64 levels actually opened.
	var local [DefaultMaxDepth / 64]uint64
	kinds := local[:]
	depth, i, n := 0, 0, len(b)
	var ok bool

value: // a value starts at b[i] after optional whitespace
	for i < n && isSpace[b[i]] {
		i++
	}
	if i >= n {
		goto bad
	}
	switch c := b[i]; valueClass[c] {
	case vOpen:
		if depth >= max {
			return false, true
		}
		if w := depth >> 6; w == len(kinds) {
			kinds = append(kinds, 0)
		}
		if c == '{' {
			kinds[depth>>6] |= 1 << (depth & 63)
		} else {
			kinds[depth>>6] &^= 1 << (depth & 63)
		}
		depth++
		for i++; i < n && isSpace[b[i]]; i++ {
		}
		if i >= n {
			goto bad
		}
		if c == '{' {
			switch b[i] {
			case '}':
				i++
				depth--
				goto after
			case '"':
				goto key
			}
			goto bad
		}
		if b[i] == ']' {
			i++
			depth--
			goto after
		}
		goto value
	case vString:
		if i, ok = validStringEnd(b, i+1); !ok {
			goto bad
		}
	case vNumber:
		if i, ok = numberEnd(b, i); !ok {
			goto bad
		}
	case vTrue:
		if i+4 > n || string(b[i:i+4]) != "true" {
			goto bad
		}
		i += 4
	case vFalse:
		if i+5 > n || string(b[i:i+5]) != "false" {
			goto bad
		}
		i += 5
	case vNull:
		if i+4 > n || string(b[i:i+4]) != "null" {
			goto bad
		}
		i += 4
	default:
		goto bad
	}

after: // a value ended at b[i-1]
	for i < n && isSpace[b[i]] {
		i++
	}
	if depth == 0 && i == n {
		return true, false
	}
	if depth == 0 || i >= n {
		goto bad
	}
	if d := depth - 1; kinds[d>>6]&(1<<(d&63)) != 0 {
		switch b[i] {
		case ',':
			for i++; i < n && isSpace[b[i]]; i++ {
			}
			if i < n && b[i] == '"' {
				goto key
			}
		case '}':
			i++
			depth--
			goto after
		}
		goto bad
	}
	switch b[i] {
	case ',':
		i++
		goto value
	case ']':
		i++
		depth--
		goto after
	}
	goto bad

key: // b[i] is the quote opening an object key
	if i, ok = validStringEnd(b, i+1); !ok {
		goto bad
	}
	for i < n && isSpace[b[i]] {
		i++
	}
	if i >= n || b[i] != ':' {
		goto bad
	}
	i++
	goto value

bad:
	return false, l.Exceeded(b)
}

// Value classes: what the first byte of a value says it is.
const (
	vBad uint8 = iota
	vOpen
	vString
	vNumber
	vTrue
	vFalse
	vNull
)

var valueClass = [256]uint8{
	'{': vOpen, '[': vOpen, '"': vString,
	'-': vNumber, '0': vNumber, '1': vNumber, '2': vNumber, '3': vNumber, '4': vNumber,
	'5': vNumber, '6': vNumber, '7': vNumber, '8': vNumber, '9': vNumber,
	't': vTrue, 'f': vFalse, 'n': vNull,
}

// isSpace is JSON's insignificant whitespace (RFC 8259 §2).
var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// numberEnd returns the index just past the number starting at b[i]
// (RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?); what
// follows it is the caller's to check.
func numberEnd(b []byte, i int) (int, bool) {
	n := len(b)
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= n:
		return i, false
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		i = digitsEnd(b, i+1)
	default:
		return i, false
	}
	if i < n && b[i] == '.' {
		if i++; i >= n || !isDigit(b[i]) {
			return i, false
		}
		i = digitsEnd(b, i+1)
	}
	if i < n && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < n && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= n || !isDigit(b[i]) {
			return i, false
		}
		i = digitsEnd(b, i+1)
	}
	return i, true
}

func isDigit(c byte) bool { return c-'0' < 10 }

func digitsEnd(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}
