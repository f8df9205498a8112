package proxy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/loopguard/loopguard/configs"
	"github.com/loopguard/loopguard/filters"
	"github.com/loopguard/loopguard/filters/spool"
	"github.com/rs/zerolog"
)

// holder keeps deliveries in the durable spool and replays them to the app.
type holder struct {
	spool    spool.Queue
	replayer *spool.Replayer
	inbound  *Inbound
	app      *url.URL
	client   *http.Client
	m        *Metrics
	log      zerolog.Logger

	// waiting counts this instance's held items per queue, so a new event
	// for a queue that still holds older ones is held behind them instead
	// of overtaking them (the app would apply an older state last).
	mu      sync.Mutex
	waiting map[string]int
	// stuck counts consecutive failed replays per queue: a queue the app
	// keeps refusing no longer holds newer events back (order yields to
	// flow; nothing is lost either way).
	stuck map[string]int
	// answers keeps the app's last answers to items it did not accept, so
	// a dead letter shows them (bounded: see keepAnswer).
	answers map[itemKey][]spool.Answer

	// spillDir holds the bodies of oversize deliveries while they stream
	// to the app; maxItem bounds one held delivery's body.
	spillDir string
	maxItem  int64
	// big admits one oversize delivery at a time into the spool: holding
	// one copies its body a few times (read back, encoded, committed), so
	// memory stays bounded by a few spool.max_item_bytes.
	big chan struct{}
}

var _ filters.Backlog = (*holder)(nil)

type itemKey struct {
	queue string
	seq   uint64
}

// maxAnswered bounds the items whose answers are kept; replay stops at a
// queue's first failure, so it is about one per failing queue.
const maxAnswered = 1024

// maxBehindFailures is how many failed replays in a row make a queue stop
// holding newer events behind it.
const maxBehindFailures = 3

// deadPolicy is the replayer's dead-letter policy from the spool section
// (-1 in the configuration: never).
func deadPolicy(c configs.DeadLetter) spool.DeadPolicy {
	return spool.DeadPolicy{MaxAttempts: c.MaxAttempts, MaxAge: c.MaxAge.D()}
}

func newHolder(q spool.Queue, in *Inbound, app *url.URL, tr http.RoundTripper, ready func(string) bool,
	c configs.Spool, m *Metrics, log zerolog.Logger) *holder {
	h := &holder{spool: q, inbound: in, app: app, client: &http.Client{Transport: tr}, m: m, log: log,
		waiting: map[string]int{}, stuck: map[string]int{}, answers: map[itemKey][]spool.Answer{},
		spillDir: c.Dir, maxItem: int64(c.MaxItemBytes), big: make(chan struct{}, 1)}
	if qs, err := q.Queues(); err == nil {
		for _, st := range qs {
			h.waiting[st.Queue] = st.Count
		}
	}
	removeStaleSpills(c.Dir, log)
	h.replayer = spool.NewReplayer(q, h, ready, spool.ReplayOptions{
		Interval:   c.ReplayInterval.D(),
		Backoff:    c.ReplayBackoff.D(),
		MaxBackoff: c.ReplayMaxBackoff.D(),
		Dead:       deadPolicy(c.DeadLetter),
		OnDead:     h.buried,
		Now:        in.engine.Now,
		OnError: func(queue string, err error) {
			log.Warn().Err(err).Str("queue", queue).Msg("replay of held deliveries failed; will retry")
		},
	})
	return h
}

// hold appends one delivery (body as it should reach the app) to queue,
// with its verification: an untrusted one counts against the unverified
// budget and is replayed untouched. A failure (spool full, too large,
// unavailable) is returned for the caller to answer and log.
func (h *holder) hold(r *http.Request, p *filters.Provider, queue, account, record string, reason filters.Reason,
	body []byte, trust spool.Verification) error {
	hdr := r.Header.Clone()
	hdr.Set("Host", r.Host)
	if r.TLS != nil && hdr.Get("X-Forwarded-Proto") == "" {
		hdr.Set("X-Forwarded-Proto", "https")
	}
	for _, k := range []string{"Content-Length", "Connection", "Keep-Alive", "Transfer-Encoding", "Te", "Trailer", "Upgrade", "Proxy-Connection"} {
		hdr.Del(k)
	}
	_, err := h.spool.Append(spool.Item{
		Queue: queue, Provider: p.Name, Account: account, Record: record, Reason: reason.String(),
		Method: r.Method, Path: r.URL.RequestURI(), Header: hdr, Body: body, Verification: trust,
	})
	if err != nil {
		return fmt.Errorf("hold in queue %q: %w", queue, err)
	}
	h.m.Held.WithLabelValues(p.Name, reason.String()).Inc()
	if !trust.Trusted() {
		h.m.HeldUnverified.WithLabelValues(p.Name).Inc()
	}
	h.mu.Lock()
	h.waiting[queue]++
	h.mu.Unlock()
	return nil
}

// Idle reports that this instance holds nothing (the usual case): callers
// skip naming queues at all (filters.Backlog).
func (h *holder) Idle() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiting) == 0
}

// Behind returns the first of queues that still holds items
// (filters.Backlog): a queue the app keeps refusing no longer does.
func (h *holder) Behind(queues ...string) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, q := range queues {
		if h.waiting[q] > 0 && h.stuck[q] < maxBehindFailures {
			return q, true
		}
	}
	return "", false
}

// delivered notes one held item of queue delivered to the app.
func (h *holder) delivered(it spool.Item) {
	h.mu.Lock()
	h.left(it.Queue)
	delete(h.stuck, it.Queue)
	delete(h.answers, itemKey{it.Queue, it.Seq})
	h.mu.Unlock()
}

// left counts one item out of queue. Caller holds mu.
func (h *holder) left(queue string) {
	if h.waiting[queue] > 1 {
		h.waiting[queue]--
	} else {
		delete(h.waiting, queue)
	}
}

// refused notes a failed replay of queue's head item and keeps the app's
// answer for its dead letter.
func (h *holder) refused(it spool.Item, a spool.Answer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stuck[it.Queue]++
	k := itemKey{it.Queue, it.Seq}
	as, ok := h.answers[k]
	if !ok && len(h.answers) >= maxAnswered {
		return
	}
	if len(as) >= spool.MaxAnswers {
		as = slices.Delete(as, 0, 1)
	}
	h.answers[k] = append(as, a)
}

// Answers returns the app's last answers to it (spool.AnswerKeeper).
func (h *holder) Answers(it spool.Item) []spool.Answer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.answers[itemKey{it.Queue, it.Seq}])
}

// buried notes an item moved to the dead letters: its queue goes on (and
// stops holding newer events back), and one log line and the metrics say
// so.
func (h *holder) buried(d spool.DeadLetter) {
	h.mu.Lock()
	h.left(d.Queue)
	delete(h.stuck, d.Queue)
	delete(h.answers, itemKey{d.Queue, d.Seq})
	h.mu.Unlock()
	h.m.DeadLettered.WithLabelValues(d.Provider, string(d.Info.Reason)).Inc()
	h.log.Error().Uint64("id", d.Seq).Str("queue", d.Queue).Str("provider", d.Provider).Str("reason", string(d.Info.Reason)).
		Int("attempts", d.Info.Attempts).Int("last_status", d.Info.LastStatus).Str("last_error", d.Info.LastError).
		Str("verification", d.Verification.String()).Time("received_at", d.HeldAt).
		Msg("held delivery moved to dead letters: the app keeps refusing it; its queue goes on (GET /spool/dead/{id}, retry or delete it)")
}

// requeued notes a dead letter put back at the end of queue.
func (h *holder) requeued(queue string) {
	h.mu.Lock()
	h.waiting[queue]++
	h.mu.Unlock()
	h.replayer.Kick()
}

// coalesceLookahead is how many held items after the one being replayed
// are read to see whether a newer whole state of its record follows.
const coalesceLookahead = 16

// heldAfter returns the items held after it in its queue (up to
// coalesceLookahead; none when the spool cannot say).
func (h *holder) heldAfter(it spool.Item) []spool.Item {
	items, err := h.spool.Peek(it.Queue, coalesceLookahead+1)
	if err != nil {
		return nil
	}
	out := items[:0]
	for _, x := range items {
		if x.Seq > it.Seq {
			out = append(out, x)
		}
	}
	return out
}

// Send replays one held delivery to the app (spool.Sender). A trusted
// delivery is re-signed with the current time, since the original
// signature's timestamp may be past the app's tolerance by now, and once
// the app accepts it its events count as accepted (dedup, last genuine
// state). An untrusted one (signature failed, or held before verification
// was recorded) goes with its original headers untouched — the app's own
// verification judges it — and is never recorded as accepted.
func (h *holder) Send(ctx context.Context, it spool.Item) (int, error) {
	// Only a quarantined record's queue is coalesced (filters.Judge.
	// Superseded): other queues replay without reading ahead.
	if strings.HasPrefix(it.Queue, filters.QueueRecord+":") && h.inbound.superseded(ctx, it, h.heldAfter(it)) {
		// A newer state of the record replaced it at the app: handing
		// the app the older one would restart what the hold stopped.
		h.delivered(it)
		h.m.Decisions.WithLabelValues(it.Provider, string(filters.SourceWebhook), "loop", filters.ReasonSuperseded.String(), filters.Drop.String()).Inc()
		h.log.Info().Str("provider", it.Provider).Str("queue", it.Queue).Uint64("seq", it.Seq).Str("record", it.Record).
			Time("held_at", it.HeldAt).Str("reason", filters.ReasonSuperseded.String()).
			Msg("held delivery not replayed: a newer whole state of its record replaced it (decided after it was held, or held after it and replayed next)")
		return http.StatusNoContent, nil
	}
	u := *h.app
	path, query, _ := strings.Cut(it.Path, "?")
	u.Path = strings.TrimSuffix(h.app.Path, "/") + path
	u.RawQuery = query
	req, err := http.NewRequestWithContext(ctx, it.Method, u.String(), bytes.NewReader(it.Body))
	if err != nil {
		return 0, fmt.Errorf("replay: build request: %w", err)
	}
	req.Header = it.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Host = req.Header.Get("Host")
	req.Header.Del("Host")
	req.Header.Set("X-Loopguard-Replay", it.Reason)
	ip := h.inbound.byName(it.Provider)
	trusted := it.Verification.Trusted()
	if ip != nil && ip.scheme != nil && trusted {
		scheme := "http"
		if p := req.Header.Get("X-Forwarded-Proto"); p != "" {
			scheme = p
		}
		uri := scheme + "://" + req.Host + it.Path
		if err := ip.scheme.Sign(signRequest(it.Method, uri, req.Header), it.Body, h.inbound.engine.Now(), req.Header); err != nil {
			h.log.Warn().Err(err).Str("provider", it.Provider).Msg("re-sign of a replayed delivery failed; sending the original signature")
		}
	}
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			h.refused(it, spool.Answer{At: h.inbound.engine.Now(), Error: err.Error()})
		}
		return 0, err
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, spool.MaxAnswerBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		h.delivered(it)
		h.m.Replayed.WithLabelValues(it.Provider).Inc()
		h.log.Info().Str("provider", it.Provider).Str("queue", it.Queue).Uint64("seq", it.Seq).Int("status", resp.StatusCode).
			Str("verification", it.Verification.String()).Msg("held delivery replayed")
		if ip != nil {
			h.inbound.acceptReplayed(ctx, ip, it)
		}
	} else {
		h.refused(it, spool.Answer{At: h.inbound.engine.Now(), Status: resp.StatusCode, Body: head})
	}
	return resp.StatusCode, nil
}
