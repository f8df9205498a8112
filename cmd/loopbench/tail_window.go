package main

import "context"

// tailWindow is what --tail reads around one fixed-rate phase: the
// run-queue waits of the case's processes and of the harness, the
// harness's runtime histograms and, when lgDebug is set, loopguard's.
type tailWindow struct {
	lgDebug   string
	pids      []int
	lg0, h0   runtimeTail
	rq0, hrq0 float64
}

// startTailWindow takes the readings before the phase.
func startTailWindow(ctx context.Context, lgDebug string, pids []int) (*tailWindow, error) {
	w := &tailWindow{lgDebug: lgDebug, pids: pids}
	if lgDebug != "" {
		var err error
		if w.lg0, err = fetchRuntimeTail(ctx, lgDebug); err != nil {
			return nil, err
		}
	}
	w.h0 = readRuntimeTail()
	w.rq0, w.hrq0 = runQueueSeconds(pids), runQueueSeconds(harnessPID())
	return w, nil
}

// end takes the readings after the phase and adds the window to r.
func (w *tailWindow) end(ctx context.Context, r *caseResult) error {
	rq1, hrq1 := runQueueSeconds(w.pids), runQueueSeconds(harnessPID())
	r.harnessTail = r.harnessTail.plus(readRuntimeTail().since(w.h0))
	r.runQueue += max(rq1-w.rq0, 0)
	r.harnessRunQueue += max(hrq1-w.hrq0, 0)
	if w.lgDebug == "" {
		return nil
	}
	lg1, err := fetchRuntimeTail(ctx, w.lgDebug)
	if err != nil {
		return err
	}
	r.tail = r.tail.plus(lg1.since(w.lg0))
	return nil
}
