package proxy

import (
	"fmt"
	"io"
	"net/http"

	"github.com/loopguard/loopguard/filters"
)

// answerSelf answers the provider in the app's place (every event of the
// delivery dropped or held): with the route's ack when its profile sets one
// (Salesforce Outbound Messages retry for 24 hours until they read a SOAP
// Ack), else with loopguard's JSON summary. word is "dropped" or "held".
func answerSelf(w http.ResponseWriter, route *filters.WebhookRoute, word string, events int) {
	if a := route.Ack(); a != nil {
		w.Header().Set("Content-Type", a.ContentType)
		w.WriteHeader(a.Status)
		_, _ = io.WriteString(w, a.Body)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprintf(w, `{"loopguard":"%s","events":%d}`+"\n", word, events)
}
