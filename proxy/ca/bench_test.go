package ca

import (
	"strconv"
	"testing"
)

// BenchmarkLeafCached measures the hot path: a cache hit for a known host.
func BenchmarkLeafCached(b *testing.B) {
	a := mustGenerate(b)
	if _, err := a.Leaf("api.example.com"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Leaf("api.example.com"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLeafGenerate measures a cache miss: key generation plus signing.
func BenchmarkLeafGenerate(b *testing.B) {
	a := mustGenerate(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if _, err := a.Leaf("h" + strconv.Itoa(i) + ".example.com"); err != nil {
			b.Fatal(err)
		}
	}
}
