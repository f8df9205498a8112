package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Client defaults. Per-operation deadlines come from the caller's context
// (every store wraps each operation in its own Timeout), so these only
// bound what has no deadline, such as a pub/sub connection.
const (
	// DefaultDialTimeout bounds one connection attempt.
	DefaultDialTimeout = time.Second
	// DefaultSocketTimeout bounds one socket read or write when the
	// context has no earlier deadline.
	DefaultSocketTimeout = 3 * time.Second
	// defaultMaxRetries lets a command be retried once on a fresh
	// connection, so a pooled connection broken by a Redis restart costs
	// no error; the context deadline still bounds the whole operation.
	defaultMaxRetries = 1
	// dialerRetries is 1 so that an unreachable Redis fails within the
	// operation's budget instead of after go-redis's default five dials;
	// recovery comes from the next operation or go-redis's background
	// probe, once a second.
	dialerRetries   = 1
	minRetryBackoff = time.Millisecond
	maxRetryBackoff = 10 * time.Millisecond
	clientName      = "loopguard"
	defaultPort     = "6379"
	sentinelPort    = "26379"
	redactedSecret  = "xxxxx"
)

// URL schemes: redis/rediss address data nodes (one node, or a cluster when
// several are listed or cluster=true), the -sentinel forms address Sentinels.
const (
	schemeRedis           = "redis"
	schemeRedisTLS        = "rediss"
	schemeSentinel        = "redis-sentinel"
	schemeSentinelTLS     = "rediss-sentinel"
	schemeSentinelPlus    = "redis+sentinel"
	schemeSentinelPlusTLS = "rediss+sentinel"
	queryMasterName       = "master_name"
	querySentinelUser     = "sentinel_username"
	querySentinelPassword = "sentinel_password"
	queryCluster          = "cluster"
	queryClientName       = "client_name"
	queryPoolSize         = "pool_size"
	malformedURLHelp      = "malformed URL (check the escaping of user, password and host)"
)

// ParseURL turns a loopguard Redis URL into go-redis options. Accepted forms:
//
//	redis://[user:password@]host[:port][/db]          one node
//	rediss://…                                        the same over TLS (1.2+)
//	redis://[user:password@]h1:p1,h2:p2,h3:p3         a Cluster (seed list)
//	redis://a:p@h1:p1,redis://h2:p2                   the same as a list of URLs
//	redis://…host:port?cluster=true                   a Cluster behind one endpoint
//	redis-sentinel://[user:password@]s1:26379,s2:26379/master[/db]
//	                                                  Sentinel (also rediss-sentinel,
//	                                                  redis+sentinel, ?master_name=)
//
// user and password authenticate to the data nodes (ACL user or
// requirepass); Sentinels take sentinel_username and sentinel_password
// query options. Other options: client_name, pool_size. Unknown options are
// rejected. Errors never contain the password.
func ParseURL(raw string) (*redis.UniversalOptions, error) {
	list := splitURLList(strings.TrimSpace(raw))
	if len(list) == 0 || list[0] == "" {
		return nil, errors.New("redisstore: parse URL: empty")
	}
	o := &redis.UniversalOptions{ClientName: clientName}
	var first *url.URL
	for i, s := range list {
		u, hostList, err := parseWithHostList(s)
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse URL %s: %s", Redact(s), malformedURLHelp)
		}
		if i == 0 {
			first = u
		} else if u.Scheme != first.Scheme || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("redisstore: parse URL %s: in a list of URLs only the first may carry credentials, a path or options, and all share its scheme", Redact(raw))
		}
		hosts, err := splitHosts(hostList, defaultPortFor(first.Scheme))
		if err != nil {
			return nil, fmt.Errorf("redisstore: parse URL %s: %w", Redact(raw), err)
		}
		o.Addrs = append(o.Addrs, hosts...)
	}
	if err := applyURL(o, first); err != nil {
		return nil, fmt.Errorf("redisstore: parse URL %s: %w", Redact(raw), err)
	}
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = DefaultDialTimeout, DefaultSocketTimeout, DefaultSocketTimeout
	o.ContextTimeoutEnabled = true
	o.MaxRetries, o.MinRetryBackoff, o.MaxRetryBackoff = defaultMaxRetries, minRetryBackoff, maxRetryBackoff
	o.DialerRetries = dialerRetries
	return o, nil
}

// NewClient parses raw (see ParseURL) and returns a client for it: a
// single-node, Cluster or Sentinel-backed client. It does not connect yet,
// so a Redis that is down at startup is not an error here.
func NewClient(raw string) (redis.UniversalClient, error) {
	o, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	return redis.NewUniversalClient(o), nil
}

// Redact returns raw with its passwords (user info and sentinel_password)
// replaced, for logs and errors. A URL that does not parse keeps only its
// scheme and what follows the last '@'.
func Redact(raw string) string {
	list := splitURLList(strings.TrimSpace(raw))
	for i, s := range list {
		u, err := url.Parse(s)
		if err != nil {
			list[i] = redactUnparsed(s)
			continue
		}
		if q := u.Query(); q.Has(querySentinelPassword) {
			q.Set(querySentinelPassword, redactedSecret)
			u.RawQuery = q.Encode()
		}
		list[i] = u.Redacted()
	}
	return strings.Join(list, ",")
}

// redactUnparsed blanks everything between "://" and the last '@' and drops
// the query, where a sentinel password may sit.
func redactUnparsed(s string) string {
	s, _, _ = strings.Cut(s, "?")
	at := strings.LastIndex(s, "@")
	if at < 0 {
		return s
	}
	scheme, _, ok := strings.Cut(s, "://")
	if !ok {
		return redactedSecret + s[at:]
	}
	return scheme + "://" + redactedSecret + s[at:]
}

// hostPlaceholder stands in for a host list while net/url parses the rest:
// it rejects lists like "a:1,b:2,c" whose last "port" is not a number.
const hostPlaceholder = "hostlist.invalid"

// parseWithHostList parses one URL whose authority may hold a
// comma-separated host list, returned separately.
func parseWithHostList(s string) (*url.URL, string, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, "", errors.New("no scheme")
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	hosts := authority[strings.LastIndex(authority, "@")+1:]
	u, err := url.Parse(scheme + "://" + authority[:len(authority)-len(hosts)] + hostPlaceholder + rest[end:])
	if err != nil {
		return nil, "", err
	}
	return u, hosts, nil
}

// splitURLList splits "redis://a,redis://b" into URLs; a single URL with a
// comma-separated host list stays whole.
func splitURLList(raw string) []string {
	parts := strings.Split(raw, ",")
	out := []string{parts[0]}
	for _, p := range parts[1:] {
		if strings.Contains(p, "://") {
			out = append(out, p)
		} else {
			out[len(out)-1] += "," + p
		}
	}
	return out
}

// splitHosts splits a comma-separated host list, adding the default port.
func splitHosts(hostList, port string) ([]string, error) {
	var out []string
	for h := range strings.SplitSeq(hostList, ",") {
		if h == "" {
			return nil, errors.New("empty host")
		}
		host, p, err := net.SplitHostPort(h)
		if err != nil {
			host, p = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), port
		}
		if host == "" {
			return nil, fmt.Errorf("host %q has no name", h)
		}
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("host %q has an invalid port", h)
		}
		out = append(out, net.JoinHostPort(host, p))
	}
	return out, nil
}

func isSentinel(scheme string) bool {
	switch scheme {
	case schemeSentinel, schemeSentinelTLS, schemeSentinelPlus, schemeSentinelPlusTLS:
		return true
	}
	return false
}

func defaultPortFor(scheme string) string {
	if isSentinel(scheme) {
		return sentinelPort
	}
	return defaultPort
}

// applyURL sets mode, credentials, TLS, database and options from u.
func applyURL(o *redis.UniversalOptions, u *url.URL) error {
	switch u.Scheme {
	case schemeRedisTLS, schemeSentinelTLS, schemeSentinelPlusTLS:
		// ServerName stays empty: crypto/tls takes it from each node's
		// address, which a Cluster or Sentinel setup needs.
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	case schemeRedis, schemeSentinel, schemeSentinelPlus:
	default:
		return fmt.Errorf("unsupported scheme %q (want redis, rediss, redis-sentinel or rediss-sentinel)", u.Scheme)
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	path := strings.Trim(u.Path, "/")
	var segs []string
	if path != "" {
		segs = strings.Split(path, "/")
	}
	q := u.Query()
	if isSentinel(u.Scheme) || q.Has(queryMasterName) {
		if len(segs) > 0 && isSentinel(u.Scheme) {
			o.MasterName, segs = segs[0], segs[1:]
		}
		if m := q.Get(queryMasterName); m != "" {
			o.MasterName = m
		}
		if o.MasterName == "" {
			return errors.New("sentinel URL names no master (use /<master> or master_name=)")
		}
	}
	switch len(segs) {
	case 0:
	case 1:
		db, err := strconv.Atoi(segs[0])
		if err != nil || db < 0 {
			return fmt.Errorf("invalid database number %q", segs[0])
		}
		o.DB = db
	default:
		return errors.New("URL path has too many segments (want /db, or /master/db for Sentinel)")
	}
	return applyQuery(o, q)
}

// applyQuery applies the allowed query options and rejects the rest.
func applyQuery(o *redis.UniversalOptions, q url.Values) error {
	for name := range q {
		v := q.Get(name)
		switch name {
		case queryMasterName:
		case querySentinelUser:
			o.SentinelUsername = v
		case querySentinelPassword:
			o.SentinelPassword = v
		case queryClientName:
			o.ClientName = v
		case queryCluster:
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("option %s: want true or false", queryCluster)
			}
			o.IsClusterMode = b
		case queryPoolSize:
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("option %s: want a positive integer", queryPoolSize)
			}
			o.PoolSize = n
		default:
			return fmt.Errorf("unknown URL option %q", name)
		}
	}
	if o.MasterName == "" && (len(o.Addrs) > 1 || o.IsClusterMode) {
		o.IsClusterMode = true
		if o.DB != 0 {
			return fmt.Errorf("a Cluster has only database 0, URL names %d", o.DB)
		}
	}
	return nil
}
