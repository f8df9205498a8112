// Package redisurl parses loopguard's Redis URLs. It is the one parser used
// both by `loopguard validate` (through configs) and by the Redis client
// (filters/redisconn), so a URL that validates is a URL that runs.
//
// Errors never contain the URL or any piece of it: a password may sit
// anywhere in a malformed URL (a bare password, "redis//:pw@host", a
// password with an unescaped '/'), so an error says what is wrong and where
// (which part, which host of a list), never what was written.
package redisurl

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Options is a parsed Redis URL: what a client needs, free of any client
// library's types.
type Options struct {
	// Addrs are host:port pairs: one node, a Cluster's seeds, or Sentinels.
	Addrs []string
	// Username and Password authenticate to the data nodes.
	Username, Password string
	// DB is the database number (0 for a Cluster).
	DB int
	// MasterName is set for Sentinel URLs.
	MasterName string
	// SentinelUsername and SentinelPassword authenticate to Sentinels.
	SentinelUsername, SentinelPassword string
	// TLS is set by the rediss schemes (TLS 1.2+).
	TLS bool
	// Cluster is set when several hosts are listed or cluster=true.
	Cluster bool
	// ClientName is the client_name option; "" when absent.
	ClientName string
	// PoolSize is the pool_size option; 0 when absent.
	PoolSize int
}

// URL schemes: redis/rediss address data nodes (one node, or a cluster when
// several are listed or cluster=true), the -sentinel forms address Sentinels.
const (
	SchemeRedis           = "redis"
	SchemeRedisTLS        = "rediss"
	SchemeSentinel        = "redis-sentinel"
	SchemeSentinelTLS     = "rediss-sentinel"
	SchemeSentinelPlus    = "redis+sentinel"
	SchemeSentinelPlusTLS = "rediss+sentinel"
)

// Query options and defaults.
const (
	queryMasterName       = "master_name"
	querySentinelUser     = "sentinel_username"
	querySentinelPassword = "sentinel_password"
	queryCluster          = "cluster"
	queryClientName       = "client_name"
	queryPoolSize         = "pool_size"
	defaultPort           = "6379"
	sentinelPort          = "26379"
	// redactedSecret replaces passwords in Redact's output.
	redactedSecret = "xxxxx"
	// Malformed is what Redact returns for a URL that does not parse: any
	// piece of it could be a password.
	Malformed = "[malformed redis URL]"
	// hostPlaceholder stands in for a host list while net/url parses the
	// rest.
	hostPlaceholder = "hostlist.invalid"
)

// errPrefix starts every error; the caller adds the field ("redis.url: …").
const errPrefix = "parse redis URL: "

// Help lists the accepted forms, for errors shown to people.
const Help = "want redis://[user:password@]host[:port][/db], rediss://… for TLS, " +
	"a comma-separated host list for a Cluster, or redis-sentinel://[user:password@]s1,s2/master"

func fail(format string, a ...any) error {
	return fmt.Errorf(errPrefix+format, a...)
}

// Parse parses raw. Accepted forms:
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
// user and password authenticate to the data nodes; Sentinels take the
// sentinel_username and sentinel_password options. Other options:
// client_name, pool_size. Unknown options are rejected. Errors never contain
// any part of raw.
func Parse(raw string) (*Options, error) {
	list := splitURLList(strings.TrimSpace(raw))
	if len(list) == 0 || list[0] == "" {
		return nil, fail("empty")
	}
	o := &Options{}
	var first *url.URL
	for i, s := range list {
		u, hostList, err := parseWithHostList(s)
		if err != nil && len(list) > 1 {
			return nil, fail("URL %d of the list: %v", i+1, err)
		}
		if err != nil {
			return nil, fail("%v", err)
		}
		if i == 0 {
			first = u
		} else if u.Scheme != first.Scheme || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fail("in a list of URLs only the first may carry credentials, a path or options, and all share its scheme")
		}
		hosts, err := splitHosts(hostList, defaultPortFor(first.Scheme))
		if err != nil {
			return nil, fail("%v", err)
		}
		o.Addrs = append(o.Addrs, hosts...)
	}
	if err := apply(o, first); err != nil {
		return nil, fail("%v", err)
	}
	return o, nil
}

// Redact returns raw with its passwords (user info and sentinel_password)
// replaced, for logs. A URL that Parse rejects is returned as Malformed.
func Redact(raw string) string {
	if _, err := Parse(raw); err != nil {
		return Malformed
	}
	list := splitURLList(strings.TrimSpace(raw))
	for i, s := range list {
		u, hostList, err := parseWithHostList(s)
		if err != nil {
			return Malformed
		}
		if q := u.Query(); q.Has(querySentinelPassword) {
			q.Set(querySentinelPassword, redactedSecret)
			u.RawQuery = q.Encode()
		}
		list[i] = strings.Replace(u.Redacted(), hostPlaceholder, hostList, 1)
	}
	return strings.Join(list, ",")
}

// parseWithHostList parses one URL whose authority may hold a
// comma-separated host list, returned separately. Its errors name no part
// of s.
func parseWithHostList(s string) (*url.URL, string, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return nil, "", errors.New("no scheme (" + Help + ")")
	}
	if !knownScheme(scheme) {
		return nil, "", errors.New("unsupported scheme (want redis, rediss, redis-sentinel or rediss-sentinel)")
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	hosts := authority[strings.LastIndex(authority, "@")+1:]
	u, err := url.Parse(scheme + "://" + authority[:len(authority)-len(hosts)] + hostPlaceholder + rest[end:])
	if err != nil {
		// url.Error quotes the input: keep only that it failed.
		return nil, "", errors.New("malformed URL (check the escaping of user, password and host: '@', '/', ':', '?', '#' and '%' must be percent-encoded)")
	}
	if u.Fragment != "" || strings.Contains(rest[end:], "#") {
		return nil, "", errors.New("a fragment ('#') is not allowed: percent-encode it in a password")
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
// Errors name a host by its position, not its text.
func splitHosts(hostList, port string) ([]string, error) {
	var out []string
	i := 0
	for h := range strings.SplitSeq(hostList, ",") {
		i++
		if h == "" {
			return nil, fmt.Errorf("host %d: missing (an empty host)", i)
		}
		host, p, err := net.SplitHostPort(h)
		if err != nil {
			if strings.Count(h, ":") == 1 || (strings.HasPrefix(h, "[") && !strings.HasSuffix(h, "]")) {
				return nil, fmt.Errorf("host %d: invalid host:port", i)
			}
			host, p = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), port
		}
		if host == "" {
			return nil, fmt.Errorf("host %d: has no name", i)
		}
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("host %d: invalid port (want 1-65535)", i)
		}
		out = append(out, net.JoinHostPort(host, p))
	}
	return out, nil
}

func knownScheme(s string) bool {
	switch s {
	case SchemeRedis, SchemeRedisTLS, SchemeSentinel, SchemeSentinelTLS, SchemeSentinelPlus, SchemeSentinelPlusTLS:
		return true
	}
	return false
}

func isSentinel(scheme string) bool {
	switch scheme {
	case SchemeSentinel, SchemeSentinelTLS, SchemeSentinelPlus, SchemeSentinelPlusTLS:
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

// apply sets mode, credentials, TLS, database and options from u.
func apply(o *Options, u *url.URL) error {
	switch u.Scheme {
	case SchemeRedisTLS, SchemeSentinelTLS, SchemeSentinelPlusTLS:
		o.TLS = true
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
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return errors.New("malformed options (the part after '?')")
	}
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
			return errors.New("invalid database number (want /0, /1, …)")
		}
		o.DB = db
	default:
		return errors.New("URL path has too many segments (want /db, or /master/db for Sentinel)")
	}
	return applyQuery(o, q)
}

// applyQuery applies the allowed query options and rejects the rest.
func applyQuery(o *Options, q url.Values) error {
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
			o.Cluster = b
		case queryPoolSize:
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("option %s: want a positive integer", queryPoolSize)
			}
			o.PoolSize = n
		default:
			// The name is not quoted: with an unescaped '?' in a password,
			// it would be a piece of the password.
			return fmt.Errorf("unknown URL option (known: %s, %s, %s, %s, %s, %s)",
				queryMasterName, querySentinelUser, querySentinelPassword, queryCluster, queryClientName, queryPoolSize)
		}
	}
	if o.MasterName == "" && (len(o.Addrs) > 1 || o.Cluster) {
		o.Cluster = true
		if o.DB != 0 {
			return errors.New("a Cluster has only database 0, the URL names another")
		}
	}
	return nil
}
