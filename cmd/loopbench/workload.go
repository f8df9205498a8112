package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// Workload shape.
const (
	// echoEvery makes every tenth event an echo of our own write (10%).
	echoEvery = 10
	// batchEvents is the size of the HubSpot-style batch delivery.
	batchEvents = 100
	// payloadBytes is the size of a single webhook and of an outbound write.
	payloadBytes = 1024
	// sentinelField is where the generic profile stamps its sentinel.
	sentinelField = "sync_source"
	// benchToken is the app's API credential (hashed into the account).
	benchToken = "Bearer loopbench-token"
	// Paths served by loopguard's generated config.
	webhookPath = "/webhooks/generic"
	batchPath   = "/webhooks/batch"
	writePath   = "/v1/contacts/"
	gatewayPath = "/crm"
)

// workload builds the requests of every case. Event ids are unique per
// request so the dedup layer never short-cuts a genuine event; every tenth
// event echoes a record written through the forward proxy while warming.
type workload struct {
	records    int // echo and genuine record sets (c0…, h0…)
	outRecords int // outbound PATCH targets (m0…)
	sentinel   sentinelLookup
	eventPad   string
	writePad   string
	clock      atomic.Int64 // provider time of the batch events, in ms
}

// batchRecordSpread times the warm record count is how many genuine
// records the batch deliveries cycle through.
const batchRecordSpread = 1000

// sentinelLookup returns the sentinel loopguard stamped on a record's warm
// write, as the API stored it.
type sentinelLookup func(id string) (string, bool)

func newWorkload(o Options, sentinel sentinelLookup) *workload {
	w := &workload{records: o.WarmRecords, outRecords: o.OutboundRecords, sentinel: sentinel}
	w.eventPad = padFor(len(w.webhook(1<<40)), payloadBytes)
	w.writePad = padFor(len(w.write(1<<40)), payloadBytes)
	return w
}

// padFor returns filler that grows a body of n bytes to size.
func padFor(n, size int) string {
	if n >= size {
		return ""
	}
	return string(bytes.Repeat([]byte("x"), size-n))
}

// echoValues are the tracked values the warm-up wrote to echo record i.
func echoValues(i int) (name, email, phone string) {
	return "Echo Name " + strconv.Itoa(i), "echo" + strconv.Itoa(i) + "@example.com", fmt.Sprintf("+1555%07d", i)
}

// warmBody is the PATCH body of the warm-up write to record i.
func warmBody(i int) []byte {
	name, email, phone := echoValues(i)
	return fmt.Appendf(nil, `{"name":%q,"email":%q,"phone":%q}`, name, email, phone)
}

// webhook is a single-event generic delivery (~1 KB).
func (w *workload) webhook(seq uint64) []byte {
	b := make([]byte, 0, payloadBytes+64)
	b = fmt.Appendf(b, `{"id":"evt_%d","type":"contact.updated","object":"contacts","account":"acme","actor":"user_42",`+
		`"occurred_at":"2026-11-27T10:00:00Z","record":`, seq)
	b = w.record(b, seq)
	return append(b, '}')
}

// record appends an echo or a genuine record for seq.
func (w *workload) record(b []byte, seq uint64) []byte {
	if seq%echoEvery == 0 {
		i := int(seq/echoEvery) % w.records
		name, email, phone := echoValues(i)
		id := "c" + strconv.Itoa(i)
		b = fmt.Appendf(b, `{"id":%q,"name":%q,"email":%q,"phone":%q,`, id, name, email, phone)
		if s, ok := w.sentinel(id); ok {
			b = fmt.Appendf(b, `%q:%q,`, sentinelField, s)
		}
	} else {
		b = fmt.Appendf(b, `{"id":"h%d","name":"Name %d","email":"user%d@example.com","phone":"+1666%07d",`,
			seq%uint64(w.records), seq, seq, seq%10_000_000)
	}
	return fmt.Appendf(b, `"updated_at":"2026-11-27T10:00:05Z","notes":%q}`, w.eventPad)
}

// batch is a HubSpot-style root array of per-property events, every tenth
// one an echo of a warm write.
func (w *workload) batch(seq uint64) []byte {
	b := make([]byte, 0, batchEvents*300)
	b = append(b, '[')
	for i := range uint64(batchEvents) {
		if i > 0 {
			b = append(b, ',')
		}
		n := seq*batchEvents + i
		// Provider time only moves forward, across rounds too (seq starts
		// again each round): an event older than the state the app holds
		// would be dropped as stale.
		at := 1764237600000 + w.clock.Add(1)
		b = fmt.Appendf(b, `{"eventId":%d,"subscriptionId":77,"portalId":62515,"appId":4242,"occurredAt":%d,`+
			`"subscriptionType":"contact.propertyChange","attemptNumber":0,`, n, at)
		if i%echoEvery == 0 {
			r := int(n/echoEvery) % w.records
			name, _, _ := echoValues(r)
			b = fmt.Appendf(b, `"objectId":"c%d","propertyName":"name","propertyValue":%q,`, r, name)
		} else {
			prop := "name"
			if i%2 == 1 {
				prop = "email"
			}
			// Records far apart in the sequence: concurrent batches never
			// change one record in an order other than their times.
			b = fmt.Appendf(b, `"objectId":"h%d","propertyName":%q,"propertyValue":"value %d",`, n%uint64(w.records*batchRecordSpread), prop, n)
		}
		b = append(b, `"changeSource":"CRM_UI","sourceId":"userId:9"}`...)
	}
	return append(b, ']')
}

// write is a ~1 KB JSON PATCH body for an outbound record.
func (w *workload) write(seq uint64) []byte {
	return fmt.Appendf(make([]byte, 0, payloadBytes+64),
		`{"name":"Out %d","email":"out%d@example.com","phone":"+1777%07d","notes":%q}`, seq, seq, seq%10_000_000, w.writePad)
}

// writeURL is the path of the outbound write seq.
func (w *workload) writePath(seq uint64) string {
	return writePath + "m" + strconv.FormatUint(seq%uint64(w.outRecords), 10)
}

// requestFunc builds request seq of a case.
type requestFunc func(seq uint64) (*http.Request, error)

// webhookRequests posts single webhooks to base (scheme://host).
func (w *workload) webhookRequests(base string) requestFunc {
	u := base + webhookPath
	return func(seq uint64) (*http.Request, error) { return jsonRequest(http.MethodPost, u, w.webhook(seq)) }
}

// batchRequests posts 100-event batches to base.
func (w *workload) batchRequests(base string) requestFunc {
	u := base + batchPath
	return func(seq uint64) (*http.Request, error) { return jsonRequest(http.MethodPost, u, w.batch(seq)) }
}

// writeRequests sends JSON PATCHes to base+prefix.
func (w *workload) writeRequests(base string) requestFunc {
	return func(seq uint64) (*http.Request, error) {
		req, err := jsonRequest(http.MethodPatch, base+w.writePath(seq), w.write(seq))
		if err == nil {
			req.Header.Set("Authorization", benchToken)
		}
		return req, err
	}
}

// jsonRequest builds a request with a JSON body.
func jsonRequest(method, url string, body []byte) (*http.Request, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", method, url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
