package sim

import "slices"

// Shrink reduces a failing history to a small one that still violates the
// same invariant with the same kind as want: delta debugging over the
// steps (remove chunks, halving their size, while the violation persists),
// then over the initial records, then the provider's optional behaviours.
// runs bounds the number of replays.
func Shrink(h History, want Violation, cfg Config, runs int) History {
	cfg.Trace = false
	fails := func(c History) bool {
		if runs <= 0 {
			return false
		}
		runs--
		res, err := Run(c, cfg)
		if err != nil {
			return false
		}
		for _, v := range res.Violations {
			if v.Invariant == want.Invariant && v.Kind == want.Kind {
				return true
			}
		}
		return false
	}
	h.Steps = shrinkList(h.Steps, func(s []Step) bool { c := h; c.Steps = s; return fails(c) })
	for i := len(h.Records) - 1; i >= 0 && len(h.Records) > 1; i-- {
		if c := withoutRecord(h, i); fails(c) {
			h = c
		}
	}
	for _, off := range behaviourSwitches {
		c := h
		if off(&c.B) && fails(c) {
			h = c
		}
	}
	h.Steps = shrinkList(h.Steps, func(s []Step) bool { c := h; c.Steps = s; return fails(c) })
	if len(h.Steps) > 0 && h.Steps[0].At > 0 {
		// Start the steps at t=0 when the failure does not depend on when.
		c := h
		c.Steps = slices.Clone(h.Steps)
		for i := range c.Steps {
			c.Steps[i].At -= h.Steps[0].At
		}
		if fails(c) {
			h = c
		}
	}
	return h
}

// behaviourSwitches turn one optional behaviour off (false: already off).
var behaviourSwitches = []func(*Behaviour) bool{
	func(b *Behaviour) bool { return flip(&b.Batch) },
	func(b *Behaviour) bool { return flip(&b.Redeliver) },
	func(b *Behaviour) bool { return flip(&b.Resend) },
	func(b *Behaviour) bool { return flip(&b.Reorder) },
	func(b *Behaviour) bool { return flip(&b.AsyncWriteBack) },
	func(b *Behaviour) bool { return flip(&b.NullUnchanged) },
	func(b *Behaviour) bool { return flip(&b.Actor) },
	func(b *Behaviour) bool { return flip(&b.Marker) },
	func(b *Behaviour) bool { return flip(&b.FormContentType) },
	func(b *Behaviour) bool { return flip(&b.EveryWrite) },
	func(b *Behaviour) bool { return flip(&b.ResponseRecord) },
	func(b *Behaviour) bool { b.StoresSentinel = false; return flip(&b.Sentinel) },
	func(b *Behaviour) bool { return flip(&b.StoresSentinel) },
	func(b *Behaviour) bool { b.Redeliver = false; return flip(&b.IDs) },
	func(b *Behaviour) bool { b.Reorder, b.Resend = false, false; return flip(&b.Time) },
	func(b *Behaviour) bool { return flip(&b.BatchFailures) },
	func(b *Behaviour) bool { b.BatchFailures = false; return flip(&b.BatchWrites) },
	func(b *Behaviour) bool {
		if b.MaxDelay == 0 {
			return false
		}
		b.MaxDelay = 0
		return true
	},
}

func flip(on *bool) bool {
	if !*on {
		return false
	}
	*on = false
	return true
}

// shrinkList removes chunks of xs while fails holds, from half the list
// down to single elements, and repeats until nothing more goes.
func shrinkList[T any](xs []T, fails func([]T) bool) []T {
	for changed := true; changed; {
		changed = false
		for size := max(len(xs)/2, 1); size >= 1; size /= 2 {
			for i := 0; i+size <= len(xs); {
				c := append(append([]T(nil), xs[:i]...), xs[i+size:]...)
				if fails(c) {
					xs, changed = c, true
					continue
				}
				i += size
			}
		}
	}
	return xs
}

// withoutRecord removes initial record i, the steps naming it, and
// renumbers the steps naming later records.
func withoutRecord(h History, i int) History {
	c := h
	c.Records = slices.Delete(slices.Clone(h.Records), i, i+1)
	c.Steps = nil
	for _, s := range h.Steps {
		if s.Rec == i || (s.Kind == PersonPaste && s.From == i) {
			continue
		}
		if s.Rec > i {
			s.Rec--
		}
		if s.From > i {
			s.From--
		}
		c.Steps = append(c.Steps, s)
	}
	return c
}
