package ratelimit

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSignalUsedFraction(t *testing.T) {
	cases := []struct {
		name   string
		s      Signal
		want   float64
		wantOK bool
	}{
		{"nothing known", blank(200), 0, false},
		{"primary only", with(200, func(s *Signal) { s.Limit, s.Remaining = 100, 25 }), 0.75, true},
		{"limit without remaining", with(200, func(s *Signal) { s.Limit = 100 }), 0, false},
		{"remaining without limit", with(200, func(s *Signal) { s.Remaining = 3 }), 0, false},
		{"zero limit is ignored", with(200, func(s *Signal) { s.Limit, s.Remaining = 0, 0 }), 0, false},
		{"exhausted", with(200, func(s *Signal) { s.Limit, s.Remaining = 40, 0 }), 1, true},
		{"remaining above limit clamps to zero", with(200, func(s *Signal) { s.Limit, s.Remaining = 10, 12 }), 0, true},
		{"daily more constrained than primary", with(200, func(s *Signal) {
			s.Limit, s.Remaining = 100, 90
			s.Daily = Quota{Limit: 1000, Remaining: 100}
		}), 0.9, true},
		{"secondly only", with(200, func(s *Signal) { s.Secondly = Quota{Limit: 10, Remaining: 5} }), 0.5, true},
		{"primary more constrained than daily", with(200, func(s *Signal) {
			s.Limit, s.Remaining = 100, 1
			s.Daily = Quota{Limit: 1000, Remaining: 999}
		}), 0.99, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := tc.s.UsedFraction()
			if ok != tc.wantOK || math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("UsedFraction() = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestSignalKnown(t *testing.T) {
	cases := []struct {
		name string
		s    Signal
		want bool
	}{
		{"blank", blank(200), false},
		{"remaining zero", with(200, func(s *Signal) { s.Remaining = 0 }), true},
		{"limit only", with(200, func(s *Signal) { s.Limit = 10 }), true},
		{"reset only", with(200, func(s *Signal) { s.Reset = now }), true},
		{"retry-after only", with(200, func(s *Signal) { s.RetryAfter = time.Second }), true},
		{"throttled only", with(429, func(s *Signal) { s.Throttled = true }), true},
		{"daily only", with(200, func(s *Signal) { s.Daily.Remaining = 4 }), true},
		{"secondly only", with(200, func(s *Signal) { s.Secondly.Limit = 10 }), true},
		{"malformed only", with(200, func(s *Signal) { s.Malformed = 2 }), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Known(); got != tc.want {
				t.Errorf("Known() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name    string
		opt     Options
		wantErr string // substring; "" means valid
	}{
		{"zero value", Options{}, ""},
		{"every family", Options{Family: Zendesk, Reset: ResetISO8601}, ""},
		{"explicit auto", Options{Family: Auto, Reset: ResetAuto}, ""},
		{"epoch", Options{Family: XRateLimit, Reset: ResetEpoch}, ""},
		{"delta", Options{Family: IETF, Reset: ResetDelta}, ""},
		{"unknown family", Options{Family: "github"}, `family "github"`},
		{"case matters", Options{Family: "HubSpot"}, `family "HubSpot"`},
		{"unknown reset", Options{Reset: "unix"}, `reset "unix"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opt.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalidOptions) {
				t.Fatalf("Validate() = %v, want error containing %q wrapping ErrInvalidOptions", err, tc.wantErr)
			}
		})
	}
}
