package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"time"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters/ledger"
)

// ledgerFields is how many tracked fields each written record has.
const ledgerFields = 3

// heapObjectsMetric is the live heap of the process.
const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

// ledgerResult is the memory cost of the ledger.
type ledgerResult struct {
	Entries int `json:"entries"`
	// RSSMBPerM is the resident size growth per million entries (MiB).
	RSSMBPerM float64 `json:"rss_mb_per_million"`
	// HeapMBPerM is the live heap growth per million entries (MiB).
	HeapMBPerM float64 `json:"heap_mb_per_million"`
	// Evictions while filling (the cap was reached).
	Evictions uint64 `json:"evictions"`
	// FillNsPerWrite is the mean RecordWrite time while filling.
	FillNsPerWrite float64 `json:"fill_ns_per_write"`
}

// ledgerMemory fills an in-process ledger (production defaults: 256 MB,
// 1024 shards) with n RecordWrite entries of ledgerFields fields each and
// measures how much the process grew. It runs in a fresh child process
// (see probeLedger) so nothing else moves the numbers.
func ledgerMemory(n int) (ledgerResult, error) {
	res := ledgerResult{Entries: n}
	settle := func() (rssKB int64, heap uint64, err error) {
		runtime.GC()
		debug.FreeOSMemory()
		s := []metrics.Sample{{Name: heapObjectsMetric}}
		metrics.Read(s)
		rssKB, err = statusKB(0, "VmRSS")
		return rssKB, s[0].Value.Uint64(), err
	}
	rss0, heap0, err := settle()
	if err != nil {
		return res, fmt.Errorf("ledger memory: %w", err)
	}
	store, err := ledger.NewMemory(ledger.Options{
		WriteTTL: configs.DefaultWriteTTL, SeenTTL: configs.DefaultSeenTTL, DedupWindow: configs.DefaultDedupWindow,
		MaxSizeMB: configs.DefaultLedgerMaxSizeMB, Shards: configs.DefaultLedgerShards,
	})
	if err != nil {
		return res, fmt.Errorf("ledger memory: %w", err)
	}
	ctx := context.Background()
	fields := make([]ledger.Field, ledgerFields)
	names := []string{"email", "name", "phone"} // sorted, as fingerprints are
	now := time.Now()
	start := time.Now()
	for i := range n {
		for f := range fields {
			fields[f] = ledger.Field{Name: names[f%len(names)], Hash: uint64(i)*0x9e3779b97f4a7c15 + uint64(f)}
		}
		k := ledger.Key{Provider: "crm", Object: "contacts", Record: "rec" + strconv.Itoa(i)}
		if err := store.RecordWrite(ctx, k, ledger.Write{Fields: fields, At: now, FP: uint64(i)}); err != nil {
			_ = store.Close()
			return res, fmt.Errorf("ledger memory: record write %d: %w", i, err)
		}
	}
	res.FillNsPerWrite = float64(time.Since(start).Nanoseconds()) / float64(n)
	rss1, heap1, err := settle()
	if err != nil {
		_ = store.Close()
		return res, fmt.Errorf("ledger memory: %w", err)
	}
	st := store.Stats()
	res.Evictions = st.Evictions
	perM := 1e6 / float64(n)
	res.RSSMBPerM = float64(rss1-rss0) / 1024 * perM
	res.HeapMBPerM = float64(int64(heap1)-int64(heap0)) / (1 << 20) * perM
	if err := store.Close(); err != nil {
		return res, fmt.Errorf("ledger memory: close: %w", err)
	}
	_, _, _ = settle()
	return res, nil
}
