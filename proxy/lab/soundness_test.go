package lab

import (
	"fmt"
	"testing"
	"time"
)

// Issue 13, case 1: a person's undo is a change. A person sets the name to
// "g" (forwarded); the app writes "A" (its echo dropped); the person sets
// "g" again — it must reach the app, through the forward proxy (MITM) and
// through the gateway, with or without echo markers, and whether or not the
// app wrote "g" back itself.
func TestUndoIsNotDropped(t *testing.T) {
	t.Parallel()
	for _, gateway := range []bool{false, true} {
		for _, crm := range []CRMOptions{{}, {Schema: []string{"name", "email"}}, {QuietNoop: true, Schema: []string{"name", "email"}}} {
			name := fmt.Sprintf("gateway=%v/sentinel=%v/quiet_noop=%v", gateway, crm.Schema == nil, crm.QuietNoop)
			t.Run(name, func(t *testing.T) {
				l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true, Gateway: gateway, CRM: crm})
				app := l.Sides[0].App
				l.CRM.HumanEdit("c1", "name", "g")
				l.Settle(quiet, timeout)
				app.Edit("c1", "name", "A")
				l.Settle(quiet, timeout)
				if got := l.CRM.Record("c1")["name"]; got != "A" {
					t.Fatalf("the app's write did not reach the CRM: %q", got)
				}
				l.CRM.HumanEdit("c1", "name", "g")
				if !l.Settle(quiet, timeout) {
					t.Fatal("did not settle")
				}
				if got, crmGot := app.Local("c1")["name"], l.CRM.Record("c1")["name"]; got != "g" || crmGot != "g" {
					t.Fatalf("after the person's undo the app has %q and the CRM %q; want g in both", got, crmGot)
				}
			})
		}
	}
}

// Issue 13, case 7: people and the app editing one record, again and
// again, on a provider without echo markers, is not a loop: nothing is
// quarantined or held, and every change converges.
func TestPeopleAndAppEditingIsNotALoop(t *testing.T) {
	t.Parallel()
	l := startLab(t, Config{Format: "generic", Fields: genericFields, Loopguard: true, HoldPolicy: "hold",
		CRM: CRMOptions{Schema: []string{"name", "email"}}})
	app := l.Sides[0].App
	for i := range 3 * threshold {
		if i%2 == 0 {
			l.CRM.HumanEdit("c1", "name", fmt.Sprintf("person %d", i))
		} else {
			app.Edit("c1", "email", fmt.Sprintf("app%d@example.com", i))
		}
		l.Settle(50*time.Millisecond, timeout)
	}
	r := finish(t, l, "13.7 people and the app editing")
	if r.Held != 0 {
		t.Fatalf("genuine activity was held as a loop: %+v", r)
	}
	if a, c := app.Local("c1"), l.CRM.Record("c1"); a["name"] != c["name"] || a["email"] != c["email"] {
		t.Fatalf("app %v and CRM %v disagree", a, c)
	}
}
