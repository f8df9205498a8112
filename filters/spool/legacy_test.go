package spool

import (
	"os"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestVersion1RecordsReadAsUnverified: a spool file of an earlier release
// holds version-1 records (no verification). They read as VerifyUnknown
// (replayed untouched, never recorded as accepted) and leave the budgets
// as they were counted (in the main one).
func TestVersion1RecordsReadAsUnverified(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := openTemp(t, Options{Path: path})
	must(t, s.Close())
	v1, err := os.ReadFile(filepath.Join("testdata", "record_v1.bin"))
	must(t, err)
	db, err := bolt.Open(path, fileMode, nil)
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		qb, err := tx.Bucket([]byte(queuesBucket)).CreateBucket([]byte("app:old"))
		if err != nil {
			return err
		}
		if err := qb.Put(seqKey(7), v1); err != nil {
			return err
		}
		meta := tx.Bucket([]byte(metaBucket))
		if err := meta.SetSequence(7); err != nil {
			return err
		}
		// An earlier release wrote only these two counters.
		if err := meta.Put([]byte(keyItems), seqKey(1)); err != nil {
			return err
		}
		return meta.Put([]byte(keyBytes), seqKey(uint64(len(v1))))
	}))
	must(t, db.Close())

	s = openTemp(t, Options{Path: path})
	items, err := s.Peek("app:old", 5)
	if err != nil || len(items) != 1 || items[0].Verification != VerifyUnknown || items[0].Verification.Trusted() || items[0].Attempts != 2 {
		t.Fatalf("version-1 item: %+v, %v", items, err)
	}
	st, _ := s.Stats()
	if st.Items != 1 || st.UnverifiedItems != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Dead-lettered, requeued and deleted, it keeps its accounting.
	must(t, s.Bury("app:old", 7, DeadInfo{Reason: DeadRefused}))
	seq, err := s.Requeue(7)
	must(t, err)
	must(t, s.Bury("app:old", seq, DeadInfo{Reason: DeadRefused}))
	must(t, s.DeleteDead(seq))
	if st, _ := s.Stats(); st != (Stats{}) {
		t.Fatalf("stats after delete %+v", st)
	}
}

// TestDeadLettersSurviveReopen: dead letters are as durable as queued items.
func TestDeadLettersSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "spool.db")
	s := openTemp(t, Options{Path: path})
	seq := mustAppend(t, s, testItem("app:gh", 1))
	must(t, s.Bury("app:gh", seq, DeadInfo{Reason: DeadMaxAttempts, Attempts: 10, LastStatus: 500}))
	must(t, s.Close())
	s = openTemp(t, Options{Path: path})
	d, err := s.DeadItem(seq)
	if err != nil || d.Info.Reason != DeadMaxAttempts || d.Attempts != 10 || string(d.Body) != string(testItem("app:gh", 1).Body) || s.DeadLen() != 1 {
		t.Fatalf("after reopen: %+v %v (DeadLen %d)", d, err, s.DeadLen())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzDecodeDead: a dead record never panics, and whatever decodes
// re-encodes to a record that decodes the same.
func FuzzDecodeDead(f *testing.F) {
	it := testItem("app:gh", 1)
	good, err := encodeDead("app:gh", encodeItem(&it), DeadInfo{Reason: DeadRefused, Attempts: 3, LastStatus: 400, LastError: "x",
		Answers: []Answer{{Status: 400, Body: []byte("no")}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{deadVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, rec, err := decodeDead(b, true)
		if err != nil {
			return
		}
		re, err := encodeDead(d.Queue, rec, d.Info)
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := decodeDead(re, true)
		if err != nil || again.Queue != d.Queue || again.Info.Reason != d.Info.Reason || string(again.Body) != string(d.Body) {
			t.Fatalf("re-encoded dead record differs: %v", err)
		}
	})
}
