package breaker

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestNewDefaults(t *testing.T) {
	b, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Threshold: DefaultThreshold, BurnFactor: DefaultBurnFactor, BurnMinCalls: DefaultBurnMinCalls,
		BaselineWindow: DefaultBaselineWindow, CoolDown: DefaultCoolDown, MaxOpen: DefaultMaxOpen,
		MaxKeys: DefaultMaxKeys, ProbeTimeout: DefaultProbeTimeout,
	}
	if got := b.Config(); got != want {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
	if got := b.Config().baselineMinutes(); got != 15 {
		t.Errorf("baselineMinutes = %d, want 15", got)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"threshold above 1", Config{Threshold: 1.5}, "Threshold"},
		{"threshold negative", Config{Threshold: -0.1}, "Threshold"},
		{"threshold NaN", Config{Threshold: math.NaN()}, "Threshold"},
		{"burn factor NaN", Config{BurnFactor: math.NaN()}, "BurnFactor"},
		{"burn factor Inf", Config{BurnFactor: math.Inf(1)}, "BurnFactor"},
		{"burn min calls negative", Config{BurnMinCalls: -1}, "BurnMinCalls"},
		{"baseline negative", Config{BaselineWindow: -time.Minute}, "BaselineWindow"},
		{"baseline too long", Config{BaselineWindow: 2 * time.Hour}, "BaselineWindow"},
		{"cool down negative", Config{CoolDown: -time.Second}, "CoolDown"},
		{"cool down above max open", Config{CoolDown: 2 * time.Hour}, "CoolDown"},
		{"max open negative", Config{MaxOpen: -time.Second}, "MaxOpen"},
		{"max keys negative", Config{MaxKeys: -1}, "MaxKeys"},
		{"probe timeout negative", Config{ProbeTimeout: -time.Second}, "ProbeTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, nil)
			if err == nil {
				t.Fatalf("New(%+v) succeeded, want error naming %s", tt.cfg, tt.field)
			}
			if !strings.Contains(err.Error(), "Config."+tt.field) || !strings.HasPrefix(err.Error(), "breaker: new: ") {
				t.Errorf("error %q does not name the operation and Config.%s", err, tt.field)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestConfigEdgeValues(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		minutes int
		coolDn  time.Duration
	}{
		{"baseline rounded up to whole minutes", Config{BaselineWindow: 90 * time.Second}, 2, DefaultCoolDown},
		{"baseline max", Config{BaselineWindow: MaxBaselineWindow}, 60, DefaultCoolDown},
		{"default cool down clipped to short max open", Config{MaxOpen: 10 * time.Second}, 15, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := New(tt.cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.Config().baselineMinutes(); got != tt.minutes {
				t.Errorf("baselineMinutes = %d, want %d", got, tt.minutes)
			}
			if got := b.Config().CoolDown; got != tt.coolDn {
				t.Errorf("CoolDown = %s, want %s", got, tt.coolDn)
			}
		})
	}
}

func TestNewLoopsConfig(t *testing.T) {
	l, err := NewLoops(LoopConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := LoopConfig{Threshold: 5, Window: 60 * time.Second, Quarantine: 15 * time.Minute, MaxRecords: 100000}
	if got := l.Config(); got != want {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
	bad := []struct {
		name  string
		cfg   LoopConfig
		field string
	}{
		{"threshold negative", LoopConfig{Threshold: -1}, "Threshold"},
		{"threshold too big", LoopConfig{Threshold: MaxLoopThreshold + 1}, "Threshold"},
		{"window negative", LoopConfig{Window: -time.Second}, "Window"},
		{"quarantine negative", LoopConfig{Quarantine: -time.Second}, "Quarantine"},
		{"max records negative", LoopConfig{MaxRecords: -5}, "MaxRecords"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewLoops(tt.cfg, nil)
			if err == nil || !strings.Contains(err.Error(), "LoopConfig."+tt.field) || !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("NewLoops(%+v) error = %v, want one naming LoopConfig.%s", tt.cfg, err, tt.field)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{Closed.String(), "closed"},
		{Open.String(), "open"},
		{HalfOpen.String(), "half-open"},
		{State(9).String(), "state(9)"},
		{None.String(), "none"},
		{QuotaThreshold.String(), "quota_threshold"},
		{Upstream429.String(), "upstream_429"},
		{BurnRate.String(), "burn_rate"},
		{LoopDetected.String(), "loop_detected"},
		{Manual.String(), "manual"},
		{Reason(42).String(), "reason(42)"},
		{Key{"hubspot", "123"}.String(), "hubspot/123"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
	if b, _ := HalfOpen.MarshalText(); string(b) != "half-open" {
		t.Errorf("HalfOpen.MarshalText = %q", b)
	}
	if b, _ := BurnRate.MarshalText(); string(b) != "burn_rate" {
		t.Errorf("BurnRate.MarshalText = %q", b)
	}
}
