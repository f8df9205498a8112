package main

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"
)

// realFields are the tracker's tracked fields, in the order of its answer.
var realFields = [...]string{"title", "description", "priority", "stateId", "assigneeId"}

// realDefaults are the values of the fields a PATCH leaves alone (JSON).
var realDefaults = [...]string{`""`, `""`, realDefaultPriority, realDefaultState, realDefaultAssignee}

// recordAPI answers a tracker PATCH as an API that returns the written
// record does: the issue with the written fields over the ones it holds,
// and updatedAt from a clock that only moves forward.
type recordAPI struct {
	// clock is the provider time of the writes, in ms after realEpoch.
	clock atomic.Int64
}

// answer writes the record for issue id after a PATCH with body.
func (a *recordAPI) answer(w http.ResponseWriter, id string, body []byte) {
	if !gjson.ValidBytes(body) {
		http.Error(w, `{"error":"invalid JSON"}`, http.StatusBadRequest)
		return
	}
	vals := gjson.GetManyBytes(body, realFields[:]...)
	b := make([]byte, 0, len(body)+192)
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, '"')
	for i, f := range realFields {
		b = append(b, `,"`...)
		b = append(b, f...)
		b = append(b, `":`...)
		if vals[i].Exists() {
			b = append(b, vals[i].Raw...)
		} else {
			b = append(b, realDefaults[i]...)
		}
	}
	b = append(b, `,"updatedAt":"`...)
	b = time.UnixMilli(realEpoch+a.clock.Add(1)).UTC().AppendFormat(b, realTimeLayout)
	b = append(b, `"}`...)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
