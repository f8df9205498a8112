package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loopguard/loopguard/proxy"
)

// errUnauthorized: the admin API refused the token (401 without one, 403
// for a wrong one).
var errUnauthorized = errors.New("the admin API refused the token: pass --token or set LOOPGUARD_ADMIN_TOKEN to admin.token")

// errNotFound: the admin API has no such endpoint.
var errNotFound = errors.New("not found")

// maxAdminBody bounds what is read from one admin answer.
const maxAdminBody = 16 << 20

// adminClient reads loopguard's admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func newAdminClient(base, token string, timeout time.Duration) (*adminClient, error) {
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	if u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%q is not an http(s) URL with a host", base)
	}
	return &adminClient{base: strings.TrimSuffix(u.String(), "/"), token: token, http: &http.Client{Timeout: timeout}}, nil
}

// get fetches path; a non-2xx answer is an error naming it, except that
// /readyz's 503 is a valid answer (returned with its status).
func (c *adminClient) get(ctx context.Context, path string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s%s: %w", c.base, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminBody))
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s%s: %w", c.base, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return resp.StatusCode, nil, fmt.Errorf("GET %s%s: %s: %w", c.base, path, resp.Status, errUnauthorized)
	case resp.StatusCode == http.StatusNotFound:
		return resp.StatusCode, nil, fmt.Errorf("GET %s%s: %w", c.base, path, errNotFound)
	case resp.StatusCode/100 != 2 && path != "/readyz":
		return resp.StatusCode, nil, fmt.Errorf("GET %s%s: %s: %s", c.base, path, resp.Status, strings.TrimSpace(string(body)))
	}
	return resp.StatusCode, body, nil
}

func (c *adminClient) getJSON(ctx context.Context, path string, v any) error {
	_, body, err := c.get(ctx, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s%s: decode: %w", c.base, path, err)
	}
	return nil
}

// overview reads every part of the overview. The token is checked first
// (on /metrics), so a wrong one gives one clear error.
func (c *adminClient) overview(ctx context.Context, limit, top int) (*overview, error) {
	ov := &overview{Admin: c.base, Time: time.Now().UTC()}
	_, metrics, err := c.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	ov.fromMetrics(metrics)
	status, body, err := c.get(ctx, "/readyz")
	if err != nil {
		return nil, err
	}
	ov.Store = storeFromReadyz(status, string(body))

	var br struct {
		Breakers []breakerRow `json:"breakers"`
	}
	if err := c.getJSON(ctx, "/breakers", &br); err != nil {
		return nil, err
	}
	ov.Breakers = br.Breakers
	sort.Slice(ov.Breakers, func(i, j int) bool { return ov.Breakers[i].Key.String() < ov.Breakers[j].Key.String() })

	var q struct {
		Quarantined []quarantineRow `json:"quarantined"`
	}
	if err := c.getJSON(ctx, "/quarantine", &q); err != nil {
		return nil, err
	}
	ov.Quarantined = q.Quarantined

	var sp struct {
		Items  int        `json:"items"`
		Bytes  int64      `json:"bytes"`
		Queues []queueRow `json:"queues"`
	}
	if err := c.getJSON(ctx, "/spool", &sp); err != nil {
		return nil, err
	}
	ov.Spool.Items, ov.Spool.Bytes, ov.Spool.Queues = sp.Items, sp.Bytes, sp.Queues

	_, dead, err := c.get(ctx, "/spool/dead")
	switch {
	case errors.Is(err, errNotFound):
		ov.DeadLetters = nil // n/a: this loopguard keeps no dead letters
	case err != nil:
		return nil, err
	default:
		ov.DeadLetters = countDead(dead)
	}

	var ds struct {
		Decisions []decisionRow `json:"decisions"`
	}
	if err := c.getJSON(ctx, "/decisions?limit="+strconv.Itoa(limit), &ds); err != nil {
		return nil, err
	}
	ov.Decisions = topReasons(ds.Decisions, top)
	return ov, nil
}

func storeFromReadyz(status int, body string) storeHealth {
	body = strings.TrimSpace(body)
	switch {
	case status != http.StatusOK:
		return storeHealth{Status: "not ready", Detail: fmt.Sprintf("/readyz %d %s", status, body)}
	case strings.HasPrefix(body, "degraded"):
		return storeHealth{Status: "degraded", Detail: strings.TrimSpace(strings.TrimPrefix(body, "degraded:"))}
	}
	return storeHealth{Status: "ready"}
}

// countDead counts dead letters by provider from GET /spool/dead, whose
// answer is a list of items, or an object holding one ({"dead": […]}).
func countDead(body []byte) *deadLetters {
	var list []map[string]any
	if err := json.Unmarshal(body, &list); err != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(body, &obj) == nil {
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if json.Unmarshal(obj[k], &list) == nil && list != nil {
					break
				}
			}
		}
	}
	d := &deadLetters{Total: len(list), ByProvider: map[string]int{}}
	for _, it := range list {
		p, _ := it["provider"].(string)
		if p == "" {
			p, _ = it["Provider"].(string)
		}
		if p != "" {
			d.ByProvider[p]++
		}
	}
	return d
}

// fromMetrics takes the spool's capacity and the deliveries by outcome from
// the Prometheus text exposition.
func (ov *overview) fromMetrics(text []byte) {
	ov.Spool.CapacityBytes, ov.Spool.CapacityItems = -1, -1
	ov.Deliveries = map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(text)))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		name, labels, v, ok := parseSample(sc.Text())
		if !ok {
			continue
		}
		switch name {
		case proxy.MetricSpoolCapacityBytes:
			ov.Spool.CapacityBytes = int64(v)
		case proxy.MetricSpoolCapacityItems:
			ov.Spool.CapacityItems = int64(v)
		case proxy.MetricDeliveries:
			ov.Deliveries[labels["outcome"]] += v
		}
	}
}

// parseSample parses one sample line, `name{k="v",…} value [timestamp]`;
// comments and malformed lines are not samples.
func parseSample(line string) (name string, labels map[string]string, v float64, ok bool) {
	if line == "" || line[0] == '#' {
		return "", nil, 0, false
	}
	labels = map[string]string{}
	rest := line
	if i := strings.IndexAny(line, "{ "); i > 0 && line[i] == '{' {
		name, rest = line[:i], line[i+1:]
		for {
			rest = strings.TrimLeft(rest, ", ")
			if strings.HasPrefix(rest, "}") {
				rest = rest[1:]
				break
			}
			k, after, found := strings.Cut(rest, `="`)
			if !found {
				return "", nil, 0, false
			}
			var val strings.Builder
			j := 0
			for ; j < len(after) && after[j] != '"'; j++ {
				if after[j] == '\\' && j+1 < len(after) {
					j++
					if after[j] == 'n' {
						val.WriteByte('\n')
						continue
					}
				}
				val.WriteByte(after[j])
			}
			if j >= len(after) {
				return "", nil, 0, false
			}
			labels[k] = val.String()
			rest = after[j+1:]
		}
	} else if i > 0 {
		name, rest = line[:i], line[i:]
	} else {
		return "", nil, 0, false
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "", nil, 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return name, labels, v, err == nil
}
