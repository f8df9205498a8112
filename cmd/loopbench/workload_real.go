package main

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The realistic workload (issue 19): an issue tracker shaped like Linear.
// Every inbound delivery is a distinct genuine change of an issue (no event
// id, no echo): the path most deliveries take, forwarded and recorded. The
// outbound writes PATCH 2 of the 5 tracked fields (partial) or all 5 (full)
// of an issue, and the API answers with the record, so loopguard records
// the state the response shows.
const (
	// realWebhookPath is the tracker's webhook route in loopguard's config.
	realWebhookPath = "/webhooks/tracker"
	// realWritePath is the tracker API's issue path (+ id).
	realWritePath = "/v1/issues/"
	// realGatewayPath is the tracker's gateway prefix (the default "/<name>").
	realGatewayPath = "/tracker"
	// realDescriptionChars is the description's length in a webhook.
	realDescriptionChars = 500
	// realEpoch is the provider time of the first change (ms since 1970:
	// 2026-11-27T10:00:00Z).
	realEpoch = 1795773600000
	// realTimeLayout is the tracker's ISO 8601 form, with milliseconds.
	realTimeLayout = "2006-01-02T15:04:05.000Z07:00"
)

// Tracked fields the PATCHes leave alone keep these values in the API's
// answer (the fake API keeps no state: a partial write always sets the same
// two fields).
const (
	realDefaultPriority = "2"
	realDefaultState    = `"state_todo"`
	realDefaultAssignee = `"user_1"`
)

// realWorkload builds the requests of the realistic cases.
type realWorkload struct {
	// clock numbers the inbound changes: one counter for every connection,
	// case and round. Change n is of issue n mod records at provider time
	// realEpoch + n ms, so the changes of an issue only move forward (an
	// event older than the state the app holds is dropped as stale), and
	// consecutive changes of an issue are records deliveries apart
	// (concurrent clients never race two changes of one issue).
	clock atomic.Uint64
	// records is how many issues the inbound changes cycle through.
	records uint64
	// description is the 500-character description text after its prefix
	// (JSON-escaped).
	description string
	// partialPad and fullPad grow the PATCH bodies' descriptions to ~1 KB.
	partialPad, fullPad string
}

func newRealWorkload(o Options) *realWorkload {
	w := &realWorkload{records: uint64(o.RealRecords)}
	w.description = markdown(realDescriptionChars - len(w.descriptionPrefix(1<<40)))
	w.partialPad = markdownFitting(len(padFor(len(w.write(1<<40, false)), payloadBytes)))
	w.fullPad = markdownFitting(len(padFor(len(w.write(1<<40, true)), payloadBytes)))
	return w
}

// markdownLine is the text descriptions are made of: markdown lines, so
// the JSON carries escapes (\n) as real descriptions do.
const markdownLine = "- The sync writes the change back and the webhook comes again.\n"

// markdown is n characters of description text, JSON-escaped.
func markdown(n int) string {
	text := bytes.Repeat([]byte(markdownLine), n/len(markdownLine)+1)[:n]
	return strings.ReplaceAll(string(text), "\n", `\n`)
}

// markdownFitting is the longest description text whose escaped form fits
// in n bytes.
func markdownFitting(n int) string {
	for c := n; c > 0; c-- {
		if s := markdown(c); len(s) <= n {
			return s
		}
	}
	return ""
}

// descriptionPrefix makes every change's description distinct (a fixed
// width, so the description keeps its length).
func (w *realWorkload) descriptionPrefix(seq uint64) string {
	return fmt.Sprintf("Steps to reproduce (revision %015d): ", seq)
}

// webhook is a Linear-style "Issue update" delivery of change seq (~1 KB):
// an actor object, the six fields (five tracked; updatedAt the
// provider time), no event id.
func (w *realWorkload) webhook(seq uint64) []byte {
	b := make([]byte, 0, payloadBytes+128)
	rec := seq % w.records
	ms := realEpoch + int64(seq)
	at := time.UnixMilli(ms).UTC().AppendFormat(nil, realTimeLayout)
	b = append(b, `{"action":"update","type":"Issue","createdAt":"`...)
	b = append(b, at...)
	b = append(b, `","actor":{"id":"user_3f9c2a","type":"user","name":"Ada Lovelace","email":"ada@example.com"},`...)
	b = append(b, `"data":{"id":"i`...)
	b = strconv.AppendUint(b, rec, 10)
	b = append(b, `","title":"Sync drops the change of ENG-`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `","description":"`...)
	b = append(b, w.descriptionPrefix(seq)...)
	b = append(b, w.description...)
	b = append(b, `","priority":`...)
	b = strconv.AppendUint(b, seq%5, 10)
	b = append(b, `,"stateId":"state_`...)
	b = strconv.AppendUint(b, seq%4, 10)
	b = append(b, `","assigneeId":"user_`...)
	b = strconv.AppendUint(b, seq%7, 10)
	b = append(b, `","updatedAt":"`...)
	b = append(b, at...)
	b = append(b, `"},"url":"https://linear.app/acme/issue/ENG-`...)
	b = strconv.AppendUint(b, rec, 10)
	b = append(b, `","organizationId":"org_8d1e5b","webhookTimestamp":`...)
	b = strconv.AppendInt(b, ms, 10)
	return append(b, `,"webhookId":"8f2a6c1e-3b7d-4e9a-9c1f-2d5b7a0e4c63"}`...)
}

// write is a ~1 KB PATCH body: title and description (partial) or all five
// tracked fields (full), every one a distinct change.
func (w *realWorkload) write(seq uint64, full bool) []byte {
	pad := w.partialPad
	if full {
		pad = w.fullPad
	}
	b := make([]byte, 0, payloadBytes+64)
	b = append(b, `{"title":"Out of sync `...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `","description":"`...)
	b = append(b, w.descriptionPrefix(seq)...)
	b = append(b, pad...)
	b = append(b, '"')
	if full {
		b = append(b, `,"priority":`...)
		b = strconv.AppendUint(b, seq%5, 10)
		b = append(b, `,"stateId":"state_`...)
		b = strconv.AppendUint(b, seq%4, 10)
		b = append(b, `","assigneeId":"user_`...)
		b = strconv.AppendUint(b, seq%7, 10)
		b = append(b, '"')
	}
	return append(b, '}')
}

// webhookRequests posts tracker deliveries to base (scheme://host); the
// changes are numbered by the workload's clock, not the case's sequence.
func (w *realWorkload) webhookRequests(base string) requestFunc {
	u := base + realWebhookPath
	return func(uint64) (*http.Request, error) { return jsonRequest(http.MethodPost, u, w.webhook(w.clock.Add(1))) }
}

// writeRequests PATCHes issues at base+prefix: partial and full writes
// touch different issues (p…, f…), each cycling through records issues.
func (w *realWorkload) writeRequests(base string, full bool, records int) requestFunc {
	prefix := base + realWritePath + "p"
	if full {
		prefix = base + realWritePath + "f"
	}
	return func(seq uint64) (*http.Request, error) {
		req, err := jsonRequest(http.MethodPatch, prefix+strconv.FormatUint(seq%uint64(records), 10), w.write(seq, full))
		if err == nil {
			req.Header.Set("Authorization", benchToken)
		}
		return req, err
	}
}
