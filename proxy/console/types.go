package console

import (
	"encoding/json"
	"fmt"
	"time"
)

// The admin API's answers, as the console reads them. Fields the console
// does not know are kept where a page shows them (decision explanations).

type decision struct {
	Seq      uint64      `json:"seq"`
	Time     time.Time   `json:"time"`
	Source   string      `json:"source"`
	Action   string      `json:"action"`
	Observed bool        `json:"observed"`
	Layer    string      `json:"layer"`
	Reason   string      `json:"reason"`
	Detail   string      `json:"detail"`
	Provider string      `json:"provider"`
	Account  string      `json:"account"`
	Object   string      `json:"object"`
	Record   string      `json:"record"`
	EventID  string      `json:"event_id"`
	Delivery string      `json:"delivery"`
	Trace    []traceStep `json:"trace"`
}

// traceStep is one layer's verdict in a decision's trace (chain order).
type traceStep struct {
	Layer   string `json:"layer"`
	Verdict string `json:"verdict"`
	Reason  string `json:"reason"`
	Detail  string `json:"detail"`
}

type decisionList struct {
	Decisions []decision `json:"decisions"`
	Total     uint64     `json:"total"`
}

type overview struct {
	Version       string    `json:"version"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Observe       bool      `json:"observe"`
	Store         struct {
		Kind          string `json:"kind"`
		Up            bool   `json:"up"`
		LedgerEntries int    `json:"ledger_entries"`
		Evictions     uint64 `json:"ledger_evictions"`
		DedupEntries  int    `json:"dedup_entries"`
	} `json:"store"`
	Decisions uint64 `json:"decisions_total"`
	Spool     struct {
		Items int   `json:"items"`
		Bytes int64 `json:"bytes"`
	} `json:"spool"`
	Quarantined int `json:"quarantined"`
	Breakers    struct {
		Total    int `json:"total"`
		Open     int `json:"open"`
		HalfOpen int `json:"half_open"`
	} `json:"breakers"`
	Providers []struct {
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Hosts       []string          `json:"hosts"`
		Profile     string            `json:"profile"`
		Accounts    map[string]string `json:"accounts"`
	} `json:"providers"`
	Series struct {
		StepSeconds float64       `json:"step_seconds"`
		Points      []seriesPoint `json:"points"`
	} `json:"series"`
}

type seriesPoint struct {
	At         time.Time          `json:"at"`
	Seconds    float64            `json:"seconds"`
	Deliveries map[string]float64 `json:"deliveries"`
	Decisions  map[string]float64 `json:"decisions"`
	EchoRate   *float64           `json:"echo_rate"`
	Partial    bool               `json:"partial"`
}

type record struct {
	Key        string     `json:"key"`
	Known      bool       `json:"known"`
	StoreError string     `json:"store_error"`
	LastWrite  *time.Time `json:"last_write"`
	LastSeen   *time.Time `json:"last_seen"`
	// Writes are our unsettled writes, oldest first, with the state each
	// should leave; App is what the app holds.
	Writes []struct {
		Seq      uint32    `json:"seq"`
		At       time.Time `json:"at"`
		Expected []struct {
			Name    string `json:"name"`
			Hash    string `json:"hash"`
			Written bool   `json:"written"`
		} `json:"expected"`
		NoOp     bool `json:"noop"`
		Sentinel bool `json:"sentinel"`
		Created  bool `json:"created"`
	} `json:"writes"`
	App []struct {
		Name       string `json:"name"`
		Hash       string `json:"hash"`
		ProviderAt int64  `json:"provider_at"`
	} `json:"app"`
	Quarantined bool `json:"quarantined"`
	Quarantine  *struct {
		Since      time.Time `json:"since"`
		Until      time.Time `json:"until"`
		RoundTrips int       `json:"round_trips"`
		Reason     string    `json:"reason"`
	} `json:"quarantine"`
	Release   string     `json:"release"`
	Decisions []decision `json:"decisions"`
}

type quarantined struct {
	Key string `json:"key"`
	// Parts is the key as an object: GET /quarantine sends both "key" and
	// "Key", and without this field the object would be decoded into Key.
	Parts   json.RawMessage `json:"Key"`
	Release string          `json:"release"`
	Since   time.Time       `json:"Since"`
	Until   time.Time       `json:"Until"`
	Count   int             `json:"Count"`
	Reason  string          `json:"Reason"`
}

// breakerStatus is breaker.Status as GET /breakers encodes it.
type breakerStatus struct {
	Key struct {
		Provider string `json:"Provider"`
		Account  string `json:"Account"`
	} `json:"Key"`
	State          string    `json:"State"`
	Reason         string    `json:"Reason"`
	Detail         string    `json:"Detail"`
	Limit          int64     `json:"Limit"`
	Remaining      int64     `json:"Remaining"`
	UsedFraction   float64   `json:"UsedFraction"`
	Reset          time.Time `json:"Reset"`
	OpenUntil      time.Time `json:"OpenUntil"`
	CallsPerMin    float64   `json:"CallsPerMin"`
	BaselinePerMin float64   `json:"BaselinePerMin"`
	Since          time.Time `json:"Since"`
}

type spoolList struct {
	Items           int   `json:"items"`
	Bytes           int64 `json:"bytes"`
	DeadItems       int   `json:"dead_items"`
	DeadBytes       int64 `json:"dead_bytes"`
	UnverifiedItems int   `json:"unverified_items"`
	Queues          []struct {
		Queue string `json:"queue"`
		// Count or Items is the number of items (the API has named it both).
		Count  int       `json:"Count"`
		Items  int       `json:"items"`
		Bytes  int64     `json:"bytes"`
		Oldest time.Time `json:"oldest"`
	} `json:"queues"`
}

// deadLetter is a delivery the spool gave up on, as GET /spool/dead lists
// it.
type deadLetter struct {
	ID         deadLetterID `json:"id"`
	Queue      string       `json:"queue"`
	Provider   string       `json:"provider"`
	Reason     string       `json:"reason"`
	ReceivedAt time.Time    `json:"received_at"`
	DeadAt     time.Time    `json:"dead_at"`
	Attempts   int          `json:"attempts"`
	LastStatus int          `json:"last_status"`
	LastError  string       `json:"last_error"`
	Size       int64        `json:"size"`
	Verified   bool         `json:"verified"`
	// How the signature was judged (verified, unsigned, unverified), why
	// the delivery was held, and what it was.
	Verification string `json:"verification"`
	HeldReason   string `json:"held_reason"`
	Method       string `json:"method"`
	Path         string `json:"path"`
	Account      string `json:"account"`
	Record       string `json:"record"`
}

// deadLetterID names a dead letter: the spool numbers them; a string id is
// taken as well.
type deadLetterID string

// UnmarshalJSON takes a number or a string.
func (id *deadLetterID) UnmarshalJSON(b []byte) error {
	var n json.Number
	if err := json.Unmarshal(b, &n); err == nil {
		*id = deadLetterID(n.String())
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("dead letter id: %w", err)
	}
	*id = deadLetterID(s)
	return nil
}

// deadLetterDetail is GET /spool/dead/{id}: the item with its request
// (headers as lists or single values, body as text or base64) and the
// app's answers.
type deadLetterDetail struct {
	deadLetter
	Headers    json.RawMessage `json:"headers"`
	Body       string          `json:"body"`
	BodyBase64 string          `json:"body_base64"`
	Answers    []answer        `json:"answers"`
}

// answer is one of the app's answers to a replay.
type answer struct {
	At         time.Time `json:"at"`
	Status     int       `json:"status"`
	Body       string    `json:"body"`
	BodyBase64 string    `json:"body_base64"`
	Error      string    `json:"error"`
}
