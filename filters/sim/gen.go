package sim

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Behaviour is how the provider and the app of one history behave.
type Behaviour struct {
	EveryWrite     bool // an event on every write, not only on a real change
	Actor          bool // events name the actor; the profile knows the integration user
	Marker         bool // events echo the write's X-Change-Agent header
	Sentinel       bool // the profile stamps a sentinel field on writes
	StoresSentinel bool // the API stores it: events carry it, changing it is a change
	ResponseRecord bool // write responses carry the record (else only its id)
	Time           bool // events carry the provider's time and sequence
	// Reorder lets events overtake each other within MaxDelay. Only with
	// Time: a provider that reorders and gives no time cannot be told apart
	// by anyone (app or loopguard), so such providers deliver in order.
	Reorder bool
	IDs     bool // events carry an id
	// Redeliver sends some events again later with the same id; Resend
	// sends some again without an id (only providers with a time: without
	// one, a resent old state is indistinguishable from a new change).
	Redeliver       bool
	Resend          bool
	Batch           bool          // events due in the same 2s go in one delivery
	NullUnchanged   bool          // update events carry null for unchanged fields
	MaxDelay        time.Duration // event delay, uniform in [0, MaxDelay]
	WriteBack       WriteBack     // what the app writes after applying an event
	AsyncWriteBack  bool          // write-back after answering (else inside the handler)
	FormContentType bool          // the app labels its JSON bodies as a form (curl -d)
	People          int
	// BatchWrites: the app sends its pending writes of several records as
	// one batch (POST /v1/issues/batch, like HubSpot's batch/update), and
	// the profile has the batch route. BatchFailures: the provider fails
	// some items of a batch (listed in errors, not applied); the app
	// retries them a second later.
	BatchWrites   bool
	BatchFailures bool
}

// WriteBack is what the app pushes back after applying an event.
type WriteBack uint8

// Write-back modes.
const (
	WriteBackFull      WriteBack = iota // the full record, always
	WriteBackChanged                    // the fields the event changed in its copy
	WriteBackIfChanged                  // the full record, when its copy changed
	// WriteBackNone writes nothing back: a mirror that only writes its own
	// edits. Scripted histories only: such an app does not converge when
	// its edit races a person's (nothing repairs its copy), with or
	// without loopguard.
	WriteBackNone
)

func (m WriteBack) String() string {
	return [...]string{"full record always", "changed fields only", "full record when its copy changed", "none"}[m]
}

func (b Behaviour) String() string {
	var parts []string
	add := func(on bool, s string) {
		if on {
			parts = append(parts, s)
		}
	}
	if b.EveryWrite {
		parts = append(parts, "event on every write")
	} else {
		parts = append(parts, "event on real change")
	}
	add(b.Actor, "actor")
	add(b.Marker, "marker")
	add(b.Sentinel && b.StoresSentinel, "sentinel (stored)")
	add(b.Sentinel && !b.StoresSentinel, "sentinel (not stored)")
	add(b.ResponseRecord, "response with record")
	add(b.Time, "time+seq")
	add(b.Reorder, "reorder")
	add(b.IDs, "event ids")
	add(b.Redeliver, "redeliver")
	add(b.Resend, "resend without id")
	add(b.Batch, "batch")
	add(b.NullUnchanged, "null unchanged")
	parts = append(parts, "delay ≤"+b.MaxDelay.String(), "write-back "+b.WriteBack.String())
	add(b.AsyncWriteBack, "async write-back")
	add(b.FormContentType, "JSON sent as form")
	add(b.BatchWrites, "batch writes")
	add(b.BatchFailures, "batch item failures")
	parts = append(parts, fmt.Sprintf("%d people", b.People))
	return strings.Join(parts, ", ")
}

// StepKind is what a step does.
type StepKind uint8

// Step kinds.
const (
	PersonEdit      StepKind = iota // Who sets Set on Rec
	PersonUndo                      // Who sets Field of Rec back to its previous value
	PersonCreate                    // Who creates a record with Set
	PersonDuplicate                 // Who duplicates Rec: values and sentinel
	PersonPaste                     // Who pastes From's sentinel (Full: and values) over Rec
	AppEdit                         // the app sets Set on Rec and writes it (Full: the whole record)
	AppCreate                       // the app creates a record with Set
	AppPoll                         // the app polls the list (read side)
)

// Step is one generated action. Rec and From are record indexes in
// creation order; a step naming a record that does not exist (yet) is
// skipped.
type Step struct {
	At    time.Duration
	Kind  StepKind
	Who   int
	Rec   int
	From  int
	Field int
	Set   vals
	Full  bool
	Noise noise
}

// History is one simulated run: a behaviour, the initial records (on both
// sides) and the steps.
type History struct {
	Seed    uint64
	B       Behaviour
	Records []vals
	Steps   []Step
}

var alphabet = [...]string{"a", "b", "c"}

// Generate builds the history of a seed.
func Generate(seed uint64) History {
	r := rand.New(rand.NewPCG(seed, 0x9e3779b9))
	h := History{Seed: seed, B: genBehaviour(r)}
	// Batch writes come from a stream of their own: every other draw, and
	// so every history whose flag is off, stays as it was.
	rb := rand.New(rand.NewPCG(seed, 0xba7c4))
	h.B.BatchWrites = rb.IntN(100) < 40
	h.B.BatchFailures = h.B.BatchWrites && rb.IntN(100) < 50
	nrec := 1 + r.IntN(4)
	for range nrec {
		h.Records = append(h.Records, randVals(r, 1<<nF-1))
	}
	records := nrec
	var at time.Duration
	gaps := [...]time.Duration{0, 50 * time.Millisecond, 500 * time.Millisecond, 2 * time.Second, 2 * time.Second, 10 * time.Second, time.Minute, 4 * time.Minute}
	n := 4 + r.IntN(27)
	for range n {
		at += gaps[r.IntN(len(gaps))]
		s := Step{At: at, Who: 1 + r.IntN(h.B.People), Noise: noise(r.Uint64())}
		s.Rec = 0 // the hot record: several people and the app on one record
		if r.IntN(2) == 0 {
			s.Rec = r.IntN(records)
		}
		s.From = r.IntN(records)
		switch k := r.IntN(100); {
		case k < 32:
			s.Kind, s.Set = PersonEdit, randVals(r, randMask(r))
		case k < 42:
			s.Kind, s.Field = PersonUndo, r.IntN(nF)
		case k < 46:
			s.Kind, s.Set = PersonCreate, randVals(r, 1<<nF-1)
			records++
		case k < 49 && h.B.Sentinel:
			s.Kind = PersonDuplicate
			records++
		case k < 52 && h.B.Sentinel:
			s.Kind, s.Full = PersonPaste, s.Noise%3 > 0 // from the step's noise: the seed stream stays as it was
		case k < 56:
			s.Kind, s.Set = AppCreate, randVals(r, 1<<nF-1)
			records++
		default:
			s.Kind, s.Set, s.Full = AppEdit, randVals(r, randMask(r)), r.IntN(5) < 2
		}
		h.Steps = append(h.Steps, s)
	}
	return h
}

func genBehaviour(r *rand.Rand) Behaviour {
	p := func(pct int) bool { return r.IntN(100) < pct }
	b := Behaviour{
		EveryWrite: p(50), Actor: p(30), Marker: p(30), Sentinel: p(50), ResponseRecord: p(50),
		Time: p(60), IDs: p(70), Batch: p(25), NullUnchanged: p(15), AsyncWriteBack: p(50),
		FormContentType: p(4), People: 1 + r.IntN(3),
	}
	b.StoresSentinel = b.Sentinel && p(70)
	b.Reorder = b.Time && p(50)
	b.Redeliver = b.IDs && p(30)
	b.Resend = !b.IDs && b.Time && p(40)
	b.MaxDelay = [...]time.Duration{0, 200 * time.Millisecond, time.Second, 3 * time.Second}[r.IntN(4)]
	b.WriteBack = WriteBack(r.IntN(int(WriteBackNone)))
	return b
}

// randMask picks one to five fields (five: a full edit).
func randMask(r *rand.Rand) mask {
	if r.IntN(4) == 0 {
		return 1<<nF - 1
	}
	var m mask
	for m == 0 {
		m = mask(r.IntN(1 << nF))
	}
	return m
}

func randVals(r *rand.Rand, m mask) vals {
	var v vals
	for i := range v {
		if m.has(i) {
			v[i] = alphabet[r.IntN(len(alphabet))]
		}
	}
	return v
}
