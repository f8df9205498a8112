package configs

import "time"

// Defaults named once; field comments in Config repeat them.
const (
	defaultAgent        = "loopguard"
	defaultAppURL       = "http://127.0.0.1:3000"
	defaultOutboundAddr = "127.0.0.1:8080"
	defaultInboundAddr  = ":8081"
	defaultAdminAddr    = "127.0.0.1:9090"
	defaultCADir        = "./loopguard-ca"

	DefaultShutdownGrace         = 15 * time.Second
	DefaultDialTimeout           = 10 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 60 * time.Second
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultMaxIdleConnsPerHost   = 64
	DefaultOutboundMaxBody       = 10 << 20
	DefaultInboundMaxBody        = 5 << 20
	DefaultAppTimeout            = 30 * time.Second
	DefaultDedupWindow           = 24 * time.Hour
	DefaultDecisions             = 1000
	DefaultWriteTTL              = 10 * time.Minute
	DefaultEchoWindow            = 2 * time.Minute
	DefaultSeenTTL               = 24 * time.Hour
	DefaultLedgerMaxSizeMB       = 256
	DefaultLedgerShards          = 1024
	DefaultSkinnyWindow          = 5 * time.Second
	DefaultOutboundTunnel        = "public"
	DefaultInboundServer         = InboundServerFastHTTP
)

func setDur(d *Duration, v time.Duration) {
	if *d == 0 {
		*d = Duration(v)
	}
}

func setStr(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

func applyDefaults(c *Config) {
	setStr(&c.Agent, defaultAgent)
	setStr(&c.AppURL, defaultAppURL)
	setDur(&c.ShutdownGrace, DefaultShutdownGrace)
	setStr(&c.Listen.Outbound, defaultOutboundAddr)
	setStr(&c.Listen.Inbound, defaultInboundAddr)
	setStr(&c.Listen.Admin, defaultAdminAddr)
	setStr(&c.Log.Format, "json")
	setStr(&c.Log.Level, "info")
	if c.CA.CertFile == "" && c.CA.KeyFile == "" {
		setStr(&c.CA.Dir, defaultCADir)
	}
	o := &c.Outbound
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultOutboundMaxBody
	}
	setDur(&o.DialTimeout, DefaultDialTimeout)
	setDur(&o.TLSHandshakeTimeout, DefaultTLSHandshakeTimeout)
	setDur(&o.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
	setDur(&o.IdleConnTimeout, DefaultIdleConnTimeout)
	if o.MaxIdleConnsPerHost == 0 {
		o.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	setStr(&o.Tunnel, DefaultOutboundTunnel)
	in := &c.Inbound
	if in.MaxBodyBytes == 0 {
		in.MaxBodyBytes = DefaultInboundMaxBody
	}
	setDur(&in.AppTimeout, DefaultAppTimeout)
	setDur(&in.DedupWindow, DefaultDedupWindow)
	if in.Decisions == 0 {
		in.Decisions = DefaultDecisions
	}
	setStr(&in.Server, DefaultInboundServer)
	l := &c.Ledger
	setDur(&l.WriteTTL, DefaultWriteTTL)
	setDur(&l.EchoWindow, DefaultEchoWindow)
	setDur(&l.SeenTTL, DefaultSeenTTL)
	if l.MaxSizeMB == 0 {
		l.MaxSizeMB = DefaultLedgerMaxSizeMB
	}
	if l.Shards == 0 {
		l.Shards = DefaultLedgerShards
	}
	applyGuardDefaults(c)
	applyLimitsDefaults(c)
}

// LayerNames are the echo layers in chain order.
var LayerNames = []string{"dedup", "actor", "marker", "sentinel", "fingerprint", "skinny"}

// applyProfileDefaults fills a resolved profile's defaults.
func applyProfileDefaults(p *Profile, agent string) {
	setStr(&p.GatewayPrefix, "/"+p.Name)
	setStr(&p.Account.From, "static")
	if p.Account.From == "static" {
		setStr(&p.Account.Value, "default")
	}
	setStr(&p.HoldPolicy, "reject")
	setStr(&p.RateLimit.Family, "auto")
	setStr(&p.RateLimit.Reset, "auto")
	setDur(&p.SkinnyWindow, DefaultSkinnyWindow)
	if p.Tagging.IdempotencyKey.Header != "" {
		setStr(&p.Tagging.IdempotencyKey.Prefix, agent+"-")
	}
	layers := map[string]bool{}
	for _, n := range LayerNames {
		layers[n] = n != "skinny"
	}
	for k, v := range p.Layers {
		layers[k] = v
	}
	p.Layers = layers
	applyBatchDefaults(p)
	for i := range p.Writes {
		w := &p.Writes[i]
		if len(w.Methods) == 0 {
			w.Methods = StringList{"PATCH", "PUT", "POST"}
		}
		setStr(&w.CreateID, "id")
	}
	applyReadDefaults(p)
	for i := range p.Webhooks {
		h := &p.Webhooks[i]
		setStr(&h.Method, "POST")
		setStr(&h.Sentinel, p.Tagging.SentinelField)
		applyShapeDefaults(h)
		for j := range h.Markers {
			setStr(&h.Markers[j].Match, "equals")
			setStr(&h.Markers[j].Value, "{agent}")
			if h.Markers[j].Match == "list" {
				setStr(&h.Markers[j].Separator, ",")
			}
		}
	}
}
