package filters

import "unsafe"

// detach gives an event's strings their own memory, in one allocation.
// gjson's values are substrings of the parsed body (Extract parses it in
// place), so an event id or record id kept beyond the delivery — in the
// decision ring, the loop detector, a held item's index — would otherwise
// keep the whole body alive: 100 deliveries of 5 MiB kept ~500 MB live
// through the decision ring. (The record id is detached per id.)
func detach(e *Event) {
	n := len(e.Account) + len(e.Object) + len(e.ID) + len(e.Actor) + len(e.Sentinel)
	for _, m := range e.Marks {
		n += len(m)
	}
	if n == 0 {
		return
	}
	buf := make([]byte, 0, n) // never written again once filled
	own := func(s string) string {
		if s == "" {
			return ""
		}
		at := len(buf)
		buf = append(buf, s...)
		return unsafe.String(&buf[at], len(s))
	}
	e.Account, e.Object, e.ID, e.Actor, e.Sentinel = own(e.Account), own(e.Object), own(e.ID), own(e.Actor), own(e.Sentinel)
	for i, m := range e.Marks {
		e.Marks[i] = own(m)
	}
}
