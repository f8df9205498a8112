// Package benchload builds the bodies of cmd/loopbench's realistic
// workload for the in-process benchmarks of filters, proxy and tagging, so
// that they measure the delivery the harness sends. Only tests and
// benchmarks import it.
package benchload

import (
	"fmt"
	"strings"
	"time"
)

// TrackerWebhook is a delivery of the realistic workload's shape (~1 KB,
// Linear-style; cmd/loopbench/workload_real.go sends the same shape): change
// seq of issue seq%records, an actor object, five tracked fields (one a
// 500-character description), no event id, a provider time that only
// moves forward with seq.
func TrackerWebhook(seq, records int) []byte {
	at := time.UnixMilli(1795773600000 + int64(seq)).UTC().Format("2006-01-02T15:04:05.000Z07:00")
	desc := strings.Repeat(`- The sync writes the change back and the webhook comes again.\n`, 8)[:460]
	return fmt.Appendf(nil, `{"action":"update","type":"Issue","createdAt":%q,`+
		`"actor":{"id":"user_3f9c2a","type":"user","name":"Ada Lovelace","email":"ada@example.com"},`+
		`"data":{"id":"i%d","title":"Sync drops the change of ENG-%d","description":"Steps (revision %015d): %s",`+
		`"priority":%d,"stateId":"state_%d","assigneeId":"user_%d","updatedAt":%q},`+
		`"url":"https://linear.app/acme/issue/ENG-%d","organizationId":"org_8d1e5b","webhookTimestamp":%d,`+
		`"webhookId":"8f2a6c1e-3b7d-4e9a-9c1f-2d5b7a0e4c63"}`,
		at, seq%records, seq, seq, desc, seq%5, seq%4, seq%7, at, seq%records, 1795773600000+int64(seq))
}
