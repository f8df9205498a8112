package ratelimit

import "time"

// Limits on accepted numbers. They keep every conversion to time.Duration
// far away from int64 overflow, whatever an upstream sends.
const (
	// maxIntDigits is the longest integer accepted (RFC 8941 sf-integer).
	maxIntDigits = 15
	// maxFracDigits is how many fractional digits are kept (nanoseconds);
	// further digits are validated and dropped.
	maxFracDigits = 9
	// maxDeltaSeconds bounds a relative duration (~31.7 years). It is also
	// the ResetAuto threshold above which an integer is an epoch.
	maxDeltaSeconds = 1_000_000_000
	// epochMillisThreshold: under ResetAuto an integer above it is taken as
	// epoch milliseconds rather than epoch seconds (year 33658).
	epochMillisThreshold = 1_000_000_000_000
	// maxIntervalMillis bounds HubSpot's interval header (one day).
	maxIntervalMillis = 86_400_000
)

// isOWS reports HTTP optional whitespace.
func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// isDigit reports an ASCII digit.
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// trimOWS removes leading and trailing spaces and tabs.
func trimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && isOWS(s[i]) {
		i++
	}
	for j > i && isOWS(s[j-1]) {
		j--
	}
	return s[i:j]
}

// scanUint reads 1..maxIntDigits ASCII digits at s[i:], returning the value
// and the index after them.
func scanUint(s string, i int) (v int64, end int, ok bool) {
	start := i
	for i < len(s) && isDigit(s[i]) {
		if i-start == maxIntDigits {
			return 0, i, false
		}
		v = v*10 + int64(s[i]-'0')
		i++
	}
	return v, i, i > start
}

// parseUint parses a value that is exactly one non-negative integer,
// surrounded by optional whitespace.
func parseUint(s string) (int64, bool) {
	s = trimOWS(s)
	v, end, ok := scanUint(s, 0)
	return v, ok && end == len(s)
}

// leadingUint parses the integer that starts a list value such as the old
// IETF draft's "100, 100;w=60": digits, optional whitespace, then the end
// of the value, a ',' or a ';'.
func leadingUint(s string) (int64, bool) {
	s = trimOWS(s)
	v, i, ok := scanUint(s, 0)
	if !ok {
		return 0, false
	}
	for i < len(s) && isOWS(s[i]) {
		i++
	}
	return v, i == len(s) || s[i] == ',' || s[i] == ';'
}

// parseDecimal parses "123" or "123.456" (surrounding whitespace allowed)
// into whole seconds and nanoseconds.
func parseDecimal(s string) (sec, nsec int64, ok bool) {
	s = trimOWS(s)
	sec, i, ok := scanUint(s, 0)
	if !ok {
		return 0, 0, false
	}
	if i == len(s) {
		return sec, 0, true
	}
	if s[i] != '.' {
		return 0, 0, false
	}
	i++
	start := i
	scale := int64(time.Second)
	for ; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, 0, false
		}
		if i-start < maxFracDigits {
			scale /= 10
			nsec += int64(s[i]-'0') * scale
		}
	}
	return sec, nsec, i > start
}

// parseSecondsDuration parses a non-negative decimal number of seconds no
// larger than maxDeltaSeconds.
func parseSecondsDuration(s string) (time.Duration, bool) {
	sec, nsec, ok := parseDecimal(s)
	if !ok || sec > maxDeltaSeconds {
		return 0, false
	}
	return time.Duration(sec)*time.Second + time.Duration(nsec), true
}

// parseReset turns an X-RateLimit-Reset style value into an absolute time
// according to mode (see ResetMode).
func parseReset(s string, now time.Time, mode ResetMode) (time.Time, bool) {
	switch mode {
	case ResetEpoch:
		sec, nsec, ok := parseDecimal(s)
		if !ok {
			return time.Time{}, false
		}
		return time.Unix(sec, nsec), true
	case ResetDelta:
		d, ok := parseSecondsDuration(s)
		if !ok {
			return time.Time{}, false
		}
		return now.Add(d), true
	case ResetISO8601:
		return parseISO8601(s)
	}
	// ResetAuto (and anything unknown).
	if sec, nsec, ok := parseDecimal(s); ok {
		switch {
		case sec > epochMillisThreshold:
			return time.UnixMilli(sec), true
		case sec > maxDeltaSeconds:
			return time.Unix(sec, nsec), true
		default:
			return now.Add(time.Duration(sec)*time.Second + time.Duration(nsec)), true
		}
	}
	return parseISO8601(s)
}

// fixedDigits reads exactly n digits at s[i:].
func fixedDigits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for k := i; k < i+n; k++ {
		if !isDigit(s[k]) {
			return 0, false
		}
		v = v*10 + int(s[k]-'0')
	}
	return v, true
}

// daysIn returns the number of days in month m of year y.
func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// parseISO8601 parses the ISO 8601 profile APIs actually send, by hand so
// it does not allocate: YYYY-MM-DD, 'T' (or 't' or ' '), HH:MM, optional
// :SS and .fraction, then a mandatory zone: 'Z', ±HH:MM, ±HHMM or ±HH.
// Jira Cloud's "2024-05-10T11:00Z" (no seconds) is accepted; a timestamp
// without a zone is rejected as ambiguous.
func parseISO8601(s string) (time.Time, bool) {
	s = trimOWS(s)
	y, ok1 := fixedDigits(s, 0, 4)
	mo, ok2 := fixedDigits(s, 5, 2)
	d, ok3 := fixedDigits(s, 8, 2)
	hh, ok4 := fixedDigits(s, 11, 2)
	mm, ok5 := fixedDigits(s, 14, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || s[4] != '-' || s[7] != '-' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' {
		return time.Time{}, false
	}
	i, ss, nsec := 16, 0, 0
	if i < len(s) && s[i] == ':' {
		v, ok := fixedDigits(s, i+1, 2)
		if !ok {
			return time.Time{}, false
		}
		ss, i = v, i+3
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			i++
			start, scale := i, int(time.Second)
			for i < len(s) && isDigit(s[i]) {
				if i-start < maxFracDigits {
					scale /= 10
					nsec += int(s[i]-'0') * scale
				}
				i++
			}
			if i == start {
				return time.Time{}, false
			}
		}
	}
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, false
	}
	off, ok := parseZone(s[i:])
	if !ok {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, hh, mm, ss, nsec, time.UTC)
	return t.Add(-time.Duration(off) * time.Second), true
}

// parseZone parses an ISO 8601 zone designator into an offset in seconds.
func parseZone(z string) (int, bool) {
	if z == "Z" || z == "z" {
		return 0, true
	}
	if len(z) < 3 || (z[0] != '+' && z[0] != '-') {
		return 0, false
	}
	h, ok := fixedDigits(z, 1, 2)
	if !ok {
		return 0, false
	}
	m := 0
	switch len(z) {
	case 3:
	case 5:
		m, ok = fixedDigits(z, 3, 2)
	case 6:
		ok = z[3] == ':'
		if ok {
			m, ok = fixedDigits(z, 4, 2)
		}
	default:
		ok = false
	}
	if !ok || h > 23 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if z[0] == '-' {
		off = -off
	}
	return off, true
}
