package ratelimit

import (
	"testing"
	"time"
)

func TestParseISO8601(t *testing.T) {
	utc := func(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
		return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
	}
	cases := []struct {
		in     string
		want   time.Time
		wantOK bool
	}{
		{"2024-06-01T12:05Z", utc(2024, 6, 1, 12, 5, 0, 0), true},
		{"2024-06-01T12:05:07Z", utc(2024, 6, 1, 12, 5, 7, 0), true},
		{" 2024-06-01t12:05:07.123456789123z ", utc(2024, 6, 1, 12, 5, 7, 123456789), true},
		{"2024-06-01 12:05:07,5Z", utc(2024, 6, 1, 12, 5, 7, 5e8), true},
		{"2024-06-01T17:35+05:30", utc(2024, 6, 1, 12, 5, 0, 0), true},
		{"2024-06-01T17:35+0530", utc(2024, 6, 1, 12, 5, 0, 0), true},
		{"2024-06-01T09:05-03", utc(2024, 6, 1, 12, 5, 0, 0), true},
		{"2024-02-29T00:00Z", utc(2024, 2, 29, 0, 0, 0, 0), true},
		{"2024-06-01T12:05", time.Time{}, false},
		{"2023-02-29T00:00Z", time.Time{}, false},
		{"2024-13-01T00:00Z", time.Time{}, false},
		{"2024-06-31T00:00Z", time.Time{}, false},
		{"2024-06-01T24:00Z", time.Time{}, false},
		{"2024-06-01T12:05:Z", time.Time{}, false},
		{"2024-06-01T12:05:07.Z", time.Time{}, false},
		{"2024-06-01T12:05+5", time.Time{}, false},
		{"2024-06-01T12:05+05:3", time.Time{}, false},
		{"2024-06-01T12:05+24:00", time.Time{}, false},
		{"2024-06-01", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseISO8601(tc.in)
			if ok != tc.wantOK || !got.Equal(tc.want) {
				t.Errorf("parseISO8601(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestParseDecimal(t *testing.T) {
	cases := []struct {
		in        string
		sec, nsec int64
		ok        bool
	}{
		{"0", 0, 0, true},
		{" 42 ", 42, 0, true},
		{"2.0", 2, 0, true},
		{"1.5", 1, 5e8, true},
		{"1.0000000019", 1, 1, true},
		{"1.", 0, 0, false},
		{".5", 0, 0, false},
		{"1.2.3", 0, 0, false},
		{"-1", 0, 0, false},
		{"1e3", 0, 0, false},
		{"", 0, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			sec, nsec, ok := parseDecimal(tc.in)
			if ok != tc.ok || (ok && (sec != tc.sec || nsec != tc.nsec)) {
				t.Errorf("parseDecimal(%q) = %d, %d, %v; want %d, %d, %v", tc.in, sec, nsec, ok, tc.sec, tc.nsec, tc.ok)
			}
		})
	}
}
