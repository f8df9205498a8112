package breaker

import (
	"errors"
	"strings"
	"testing"
)

func TestRecordKeyRoundTrip(t *testing.T) {
	tests := []struct {
		key  RecordKey
		want string
	}{
		{RecordKey{"hubspot", "111", "contacts", "42"}, "hubspot/111/contacts/42"},
		{RecordKey{"stripe", "", "", "cus_1"}, "stripe///cus_1"},
		{RecordKey{"gh", "org", "issues", "a/b#3"}, "gh/org/issues/a%2Fb#3"},
		{RecordKey{"p", "100%", "o", "r"}, "p/100%25/o/r"},
		{RecordKey{"p", "ü", "o b", "%2F"}, "p/ü/o b/%252F"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			s := tt.key.String()
			if s != tt.want {
				t.Errorf("String() = %q, want %q", s, tt.want)
			}
			got, err := ParseRecordKey(s)
			if err != nil {
				t.Fatalf("ParseRecordKey(%q): %v", s, err)
			}
			if got != tt.key {
				t.Errorf("ParseRecordKey(%q) = %+v, want %+v", s, got, tt.key)
			}
		})
	}
}

func TestParseRecordKeyErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "want 4"},
		{"a/b/c", "want 4"},
		{"a/b/c/d/e", "want 4"},
		{"/b/c/d", "empty provider"},
		{"a/b/c/", "empty record"},
		{"a/b%2/c/d", "account part: truncated escape"},
		{"a/b/c/d%zz", "record part: bad escape"},
		{strings.Repeat("x", 500), "..."},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := ParseRecordKey(tt.in)
			if err == nil {
				t.Fatalf("ParseRecordKey(%q) succeeded", tt.in)
			}
			if !errors.Is(err, ErrBadRecordKey) {
				t.Errorf("error %v does not wrap ErrBadRecordKey", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if len(err.Error()) > maxRecordKeyQuote+200 {
				t.Errorf("error is %d bytes long", len(err.Error()))
			}
		})
	}
}
