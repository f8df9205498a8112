package redisq

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/loopguard/loopguard/filters/spool"
)

// TestEntriesOfEarlierReleasesReadAsUnverified: an entry written before
// items carried their verification (nine fields, info without a class)
// reads as spool.VerifyUnknown and leaves the main budget when removed or
// dead-lettered and deleted.
func TestEntriesOfEarlierReleasesReadAsUnverified(t *testing.T) {
	q := newTestQueue(t, Options{})
	it := testItem("app:old", 1)
	k := q.keysFor(it.Queue)
	size := it.Size()
	ctx := context.Background()
	args := entryArgs(nil, &it)
	args = args[:len(args)-2] // no verification field: an earlier release
	if err := q.client.XAdd(ctx, &redis.XAddArgs{Stream: k.stream, ID: "5-0", Values: args}).Err(); err != nil {
		t.Fatal(err)
	}
	must(t, q.client.HSet(ctx, k.info, "5", fmt.Sprintf("%d 3", size)).Err())
	must(t, q.client.HSet(ctx, q.meta, "seq", 5, "items", 1, "bytes", size).Err())
	must(t, q.client.HSet(ctx, q.queues, "n:"+k.id, it.Queue, "c:"+k.id, 1, "b:"+k.id, size).Err())

	items, err := q.Peek(it.Queue, 5)
	if err != nil || len(items) != 1 || items[0].Verification != spool.VerifyUnknown || items[0].Attempts != 3 {
		t.Fatalf("old entry: %+v, %v", items, err)
	}
	must(t, q.MarkAttempt(it.Queue, 5))
	must(t, q.Bury(it.Queue, 5, spool.DeadInfo{Reason: spool.DeadRefused, Attempts: 4}))
	d, err := q.DeadItem(5)
	if err != nil || d.Verification != spool.VerifyUnknown || string(d.Body) != string(it.Body) {
		t.Fatalf("dead old entry: %+v %v", d, err)
	}
	seq, err := q.Requeue(5)
	must(t, err)
	items, _ = q.Peek(it.Queue, 5)
	if len(items) != 1 || items[0].Seq != seq || items[0].Verification != spool.VerifyUnknown {
		t.Fatalf("requeued old entry: %+v", items)
	}
	must(t, q.Remove(it.Queue, seq))
	if st, err := q.Stats(); err != nil || st != (spool.Stats{}) {
		t.Fatalf("stats %+v %v", st, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
