package sim

import "time"

// oracle is the ideal judge: it knows the ground truth, drops exactly the
// echoes of the app's writes and the events already delivered, and
// forwards everything else untouched. With it every invariant must hold:
// a violation under the oracle is a bug of the simulator, not of loopguard.
type oracle struct {
	w    *world
	seen map[int]bool // event numbers already delivered or dropped
}

func newOracle(w *world) *oracle { return &oracle{w: w, seen: map[int]bool{}} }

func (o *oracle) write(_ *appWrite, body []byte, _ string) ([]byte, map[string]string, time.Time, bool) {
	return body, map[string]string{"X-Change-Agent": agent}, time.Time{}, true
}

func (o *oracle) wrote(*appWrite, int, []byte) {}

func (o *oracle) writeBatch(_ *appBatch, body []byte, _ string) ([]byte, map[string]string, time.Time, bool) {
	return body, map[string]string{"X-Change-Agent": agent}, time.Time{}, true
}

func (o *oracle) wroteBatch(*appBatch, int, []byte) {}

func (o *oracle) deliver(d *delivery) []verdict {
	out := make([]verdict, len(d.events))
	for i, e := range d.events {
		switch {
		case e.cause.write != nil:
			out[i] = verdict{Drop, "oracle/echo"}
		case o.seen[e.n]:
			out[i] = verdict{Drop, "oracle/redelivery"}
		default:
			out[i] = verdict{Forward, "oracle/genuine"}
		}
		o.seen[e.n] = true
	}
	return out
}

func (o *oracle) accept(*delivery)       {}
func (o *oracle) release() *delivery     { return nil }
func (o *oracle) nextRelease() time.Time { return time.Time{} }
func (o *oracle) close()                 {}

func (o *oracle) poll([]byte) []verdict {
	out := make([]verdict, len(o.w.prov.recs))
	for i := range out {
		out[i] = verdict{Forward, "oracle/poll"}
	}
	return out
}
