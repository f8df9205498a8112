package configs

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

// Profile is a provider's declarative behaviour: which requests are writes,
// how to tag them, how webhooks are split into events, how deliveries are
// signed, and how the API reports its rate limits. Built-in profiles live in
// configs/providers/*.yaml; a deployment may override any field, per
// provider entry and per account.
type Profile struct {
	// Name identifies the provider in routes, logs and metrics.
	Name string `yaml:"name"`
	// Description is free text shown by `loopguard validate`.
	Description string `yaml:"description"`
	// Docs lists the provider documentation the profile follows.
	Docs []string `yaml:"docs"`

	// Hosts are the API hosts the forward proxy intercepts (MITM) for this
	// provider, as "host" or "host:port". Every other host is tunnelled.
	Hosts []string `yaml:"hosts"`
	// BaseURL is the real API base URL used by gateway mode, e.g.
	// "https://api.hubapi.com". Gateway mode is off when empty.
	BaseURL string `yaml:"base_url"`
	// GatewayPrefix is the path prefix that gateway mode serves this provider
	// under. Default "/<name>".
	GatewayPrefix string `yaml:"gateway_prefix"`

	// Account says how to find the account (tenant) a request belongs to.
	Account AccountSpec `yaml:"account"`
	// Objects maps object names as they appear in write paths and in events
	// (e.g. "contacts" and "contact.propertyChange") to one canonical name,
	// so a write and its echo share a ledger key. Unmapped names are used
	// as they are.
	Objects map[string]string `yaml:"objects"`

	// TrackedFields are the record fields whose values make up the
	// fingerprint (dotted paths relative to the record). Volatile fields such
	// as updated_at must not be listed. Required when the profile has write
	// or webhook routes.
	TrackedFields []string `yaml:"tracked_fields"`
	// Normalize lists per-field normalisations applied before fingerprinting:
	// "trim", "lower", "number". The key "*" applies to every field.
	Normalize map[string]StringList `yaml:"normalize"`
	// Compound maps a field path as webhook events carry it to the tracked
	// field it stands for, where the two differ: Salesforce change events
	// nest compound fields ("BillingAddress.City") that writes and queries
	// name flat ("BillingCity"). Applied to webhook records only.
	Compound map[string]string `yaml:"compound"`

	// Tagging says how our writes are stamped.
	Tagging Tagging `yaml:"tagging"`
	// Writes are the routes whose requests are writes to records.
	Writes []WriteRoute `yaml:"writes"`
	// Webhooks are the inbound routes whose deliveries carry events.
	Webhooks []WebhookRoute `yaml:"webhooks"`
	// Reads are the outbound reads (list, search, query) whose responses
	// hold changed records: sync engines poll as well as listen, and the
	// app's own writes come back in those responses too.
	Reads []ReadRoute `yaml:"reads"`
	// Handshakes are verification requests (subscription challenges) that
	// always pass straight to the app, never filtered or held.
	Handshakes []Handshake `yaml:"handshakes"`

	// IntegrationUsers are the actor ids of the integration's own API user:
	// an event whose actor is one of them is our echo.
	IntegrationUsers []string `yaml:"integration_users"`
	// Signature verifies deliveries and re-signs rewritten bodies.
	Signature SignatureSpec `yaml:"signature"`
	// RateLimit selects the rate-limit header family.
	RateLimit RateLimitSpec `yaml:"rate_limit"`
	// HoldPolicy is what happens to inbound events that cannot be delivered
	// now: "hold" (durable spool, answer 200) for providers that never
	// redeliver, or "reject" (503 + Retry-After) where the provider retries.
	// Default "reject".
	HoldPolicy string `yaml:"hold_policy"`

	// Layers switches echo layers on or off by name: dedup, actor, marker,
	// sentinel, fingerprint, skinny. Default: all on except skinny.
	Layers map[string]bool `yaml:"layers"`
	// SkinnyWindow is the correlation window of the (lossy, off by default)
	// skinny layer. Default "5s".
	SkinnyWindow Duration `yaml:"skinny_window"`
	// Observe evaluates and reports but forwards everything, for this
	// provider. Default false (the global observe flag also applies).
	Observe bool `yaml:"observe"`
}

// AccountSpec locates the account a request or event belongs to.
type AccountSpec struct {
	// From is "header" (the header value, hashed), "host", "path" (a path
	// template parameter), "query" (a query parameter) or "static".
	// Default "static".
	From string `yaml:"from"`
	// Header names the header for From=header, e.g. "Authorization".
	Header string `yaml:"header"`
	// Param names the path or query parameter for From=path or From=query.
	Param string `yaml:"param"`
	// Value is the account for From=static. Default "default".
	Value string `yaml:"value"`
}

// Tagging configures how matched writes are stamped.
type Tagging struct {
	// Headers are set on every matched write; "{agent}" in a value is replaced
	// by the agent name. An existing header of the same name is appended to
	// with ", " unless it already carries the value.
	Headers map[string]string `yaml:"headers"`
	// SentinelField is where the self-verifying sentinel "<agent>:<fp>" is
	// written, as a dotted path relative to the record's fields (for form
	// bodies "metadata.sync" becomes the key "metadata[sync]"). Empty: no
	// sentinel.
	SentinelField string `yaml:"sentinel_field"`
	// IdempotencyKey adds a key with our prefix when the app sent none.
	IdempotencyKey IdempotencySpec `yaml:"idempotency_key"`
}

// IdempotencySpec configures Idempotency-Key stamping.
type IdempotencySpec struct {
	// Header is the header name, e.g. "Idempotency-Key". Empty: off.
	Header string `yaml:"header"`
	// Prefix starts our keys. Default "<agent>-".
	Prefix string `yaml:"prefix"`
}

// WriteRoute matches write requests.
type WriteRoute struct {
	// Methods are the HTTP methods that write. Default [PATCH, PUT, POST].
	Methods StringList `yaml:"methods"`
	// Path is a template such as "/crm/v3/objects/{object}/{id}"; "{name}"
	// matches one segment and "{name...}" the rest of the path.
	Path string `yaml:"path"`
	// Object is the object type: a literal, or "{param}" from the path.
	// Default "{object}" when the path has it, else the route's path.
	Object string `yaml:"object"`
	// RecordID is the record id: "{param}" from the path, or a template in
	// which every "{param}" is replaced, e.g. "{owner}/{repo}:{id}" to build
	// the same composite id a webhook's record_id list does. Default "{id}"
	// when the path has it; a route without one is a create (POST) whose id
	// comes from CreateID — on a create, "{id}" in the template stands for
	// that created id.
	RecordID string `yaml:"record_id"`
	// Fields is the body path holding the record's fields ("" = body root).
	Fields string `yaml:"fields"`
	// CreateID is the response body path holding a created record's id.
	// Default "id".
	CreateID string `yaml:"create_id"`
	// Response is the response body path holding the written record, whose
	// tracked fields are the state the write left (most APIs return the
	// record): "" = the same path as Fields; "-" = the response does not
	// hold the record (the expected state is then the written fields over
	// the last known state).
	Response string `yaml:"response"`
	// ResponseTime is a value spec in the response record for the
	// provider's time or version of the written state (e.g. "updatedAt"),
	// matched against webhooks' occurred_at. Default none.
	ResponseTime string `yaml:"response_time"`
	// TagOnly stamps the headers and idempotency key only: the body is left
	// as sent and the write is not recorded. For bulk endpoints whose body
	// is not one record (e.g. Smartsheet's row arrays); their echoes must be
	// recognised by a marker or the actor. Default false.
	TagOnly bool `yaml:"tag_only"`
	// Batch makes the route a batch write: the body holds a list of
	// records, each tagged and recorded on its own (see BatchSpec).
	Batch *BatchSpec `yaml:"batch,omitempty"`
	// GraphQL makes the route a GraphQL mutation, matched by its root
	// field (see GraphQLWrite).
	GraphQL *GraphQLWrite `yaml:"graphql,omitempty"`
}

// WebhookRoute matches inbound deliveries and says how to split them into
// events. Value specs: a gjson path relative to the event, "header:Name" for
// a delivery header, "body:path" for a path relative to the whole delivery,
// or "=literal"; "a ?? b ?? c" tries each alternative in order and takes the
// first that has a value (not missing, null or "").
type WebhookRoute struct {
	// Method of the delivery. Default "POST".
	Method string `yaml:"method"`
	// Path of the delivery, a template like write paths.
	Path string `yaml:"path"`
	// When selects the events this route applies to, for providers that
	// send several event shapes to one URL (GitHub's X-GitHub-Event, Jira's
	// webhookEvent). Routes with the same method and path form a group that
	// must share one batch path; each event takes the first route of the
	// group whose condition holds (no condition: always). An event no route
	// of its group takes is forwarded without evaluation.
	When *Condition `yaml:"when,omitempty"`
	// Batch is the path of the events array: "@this" for a root array; empty
	// for one event per delivery.
	Batch string `yaml:"batch"`
	// Body says where a delivery's JSON is: "" (default) the body itself;
	// "form_field:NAME" also reads form-encoded deliveries
	// (application/x-www-form-urlencoded), whose JSON is the url-decoded
	// value of field NAME (GitHub's "payload" option); JSON deliveries are
	// still read as sent. Routes sharing a path share one body.
	Body string `yaml:"body"`
	// EventID is one or more value specs joined with ":" (composite ids for
	// providers whose event id alone is not unique).
	EventID StringList `yaml:"event_id"`
	// RecordID is one or more value specs joined with ":" (composite record
	// ids, e.g. [repository.full_name, issue.number], matching a write
	// route's record_id template "{owner}/{repo}:{id}"). A part whose value
	// is an array of several ids (Salesforce recordIds) yields one event per
	// id, all sharing the element's bytes and event id.
	RecordID StringList `yaml:"record_id"`
	// ObjectType, Account, Actor and OccurredAt are value specs.
	ObjectType string `yaml:"object_type"`
	Account    string `yaml:"account"`
	Actor      string `yaml:"actor"`
	OccurredAt string `yaml:"occurred_at"`
	// Record is the path of the record's current fields (full-record events),
	// relative to the event; alternatives "a ?? b" take the first that exists.
	Record string `yaml:"record"`
	// Partial says the record holds only the changed fields (e.g. Salesforce
	// UPDATE change events). Default false.
	Partial bool `yaml:"partial"`
	// Nulls says what a null tracked value in an event means: "value" (the
	// field was cleared; default) or "unchanged" (the provider sends null
	// for fields the change did not touch, as Salesforce change events do):
	// such fields are left out of the event.
	Nulls string `yaml:"nulls"`
	// Unordered says the provider may deliver a record's events out of
	// order (its docs promise no order). An event with a provider time is
	// then never taken for the echo of a write of ours that a later write
	// of ours set otherwise, unless that later write's provider time is
	// known (from its answer): the event may be the earlier write's echo
	// overtaking the later one's, or a person's return to the earlier
	// value after the later write. Default false (in order).
	Unordered bool `yaml:"unordered"`
	// EveryWrite says the provider sends an event for every write it
	// accepts, even one that changes nothing (its docs say so, or it was
	// observed): a write of ours that changed nothing for the app then has
	// an echo too, so it is matched like any write (in order, oldest
	// first; with unordered, once a later write of ours changed
	// something) — the app's stale write-back of an overtaken event (which
	// is a change on the provider) is then recognised instead of
	// ping-ponging. Without it such a write is never matched. Set it only
	// when true: on an API that sends nothing for a no-op write, a
	// person's later return to those values would be taken for its echo.
	// Default false.
	EveryWrite bool `yaml:"every_write"`
	// PropertyName and PropertyValue are value specs for per-property events
	// (HubSpot propertyName/propertyValue).
	PropertyName  string `yaml:"property_name"`
	PropertyValue string `yaml:"property_value"`
	// Sentinel is the sentinel's path relative to the record. Default: the
	// tagging sentinel_field.
	Sentinel string `yaml:"sentinel"`
	// Markers recognise our change-agent / origin marker in an event.
	Markers []Marker `yaml:"markers"`

	// Format is the delivery body's format: "json" (default) or "xml" (SOAP
	// notifications such as Salesforce Outbound Messages). An XML body is
	// read as JSON: an element is an object of its child elements by local
	// name (repeated names become arrays), a leaf is its text, xsi:nil is
	// null, and an attribute is "-name" (xsi:type without its prefix).
	Format string `yaml:"format"`
	// BatchOptional lets the batch path hold one event instead of an array
	// (or, with batch "@this", the body be one event object), for
	// providers that deliver either. Default false.
	BatchOptional bool `yaml:"batch_optional"`
	// ChangedFields, NulledFields and DiffFields are value specs of lists
	// of field paths, as Salesforce's ChangeEventHeader carries them. When
	// ChangedFields yields a non-empty list, the event carries only the
	// tracked fields it or NulledFields names (a null for a field the header
	// does not name is "unchanged", not a value); a field in NulledFields is
	// null; a field in DiffFields holds a diff, not a value, and is left out.
	ChangedFields string `yaml:"changed_fields"`
	NulledFields  string `yaml:"nulled_fields"`
	DiffFields    string `yaml:"diff_fields"`
	// Sequence is a value spec of the event's order among events sharing
	// one occurred_at (Salesforce sequenceNumber within a transaction); it
	// is added, in nanoseconds, to occurred_at for the history's ordering.
	Sequence string `yaml:"sequence"`
	// Ack is what loopguard answers the provider when it answers in the
	// app's place (every event dropped as an echo, or held): providers
	// that retry until they read an acknowledgement (Salesforce Outbound
	// Messages' SOAP Ack) need their own. Default: 200 with a JSON summary.
	Ack *Ack `yaml:"ack,omitempty"`
}

// Ack is a fixed answer to a delivery.
type Ack struct {
	// Status is the HTTP status. Default 200.
	Status int `yaml:"status"`
	// ContentType of Body. Default "text/plain; charset=utf-8".
	ContentType string `yaml:"content_type"`
	// Body is sent as written.
	Body string `yaml:"body"`
}

// ReadRoute matches an outbound read whose response lists changed records
// (a delta poll, a search, a SOQL query) and says where they are. It is a
// webhook route seen from the other side: each record of the list is an
// event, read with the same value specs, relative to the record ("body:"
// reads the whole response, "header:" a response header). Records proven to
// be echoes of our own writes are removed from the list; everything else in
// the response is kept as sent.
type ReadRoute struct {
	// Method of the request. Default "GET"; searches are often "POST".
	Method string `yaml:"method"`
	// Path is the request path template, like write paths.
	Path string `yaml:"path"`
	// List is the path of the records array in the response body, "@this"
	// for a root array. Required: only records in a list can be removed.
	List string `yaml:"list"`
	// RecordID is one or more value specs joined with ":", matching the
	// record id our writes are recorded under.
	RecordID StringList `yaml:"record_id"`
	// ObjectType is a value spec, or "{param}" for a parameter of the path
	// (HubSpot's /crm/v3/objects/{object}). Default "{object}" when the path
	// has it.
	ObjectType string `yaml:"object_type"`
	// Actor is a value spec of the record's last modifier (Salesforce
	// LastModifiedById): a record last modified by an integration user is
	// our write.
	Actor string `yaml:"actor"`
	// ModifiedAt is a value spec of the record's last-modified time. It is
	// reported, never used to remove a record: clocks differ.
	ModifiedAt string `yaml:"modified_at"`
	// Record is the path of the record's fields, relative to the list
	// element. Default "@this" (the element itself); "-" when the elements
	// carry no values to compare (they are judged by actor and markers).
	Record string `yaml:"record"`
	// Sentinel is the sentinel's path relative to the record. Default: the
	// tagging sentinel_field.
	Sentinel string `yaml:"sentinel"`
	// Markers recognise our change-agent / origin marker in a record.
	Markers []Marker `yaml:"markers"`
	// GraphQL makes the route a GraphQL query matched by its root field;
	// List and Record are then relative to the field's result (see
	// GraphQLRead). Method defaults to POST.
	GraphQL *GraphQLRead `yaml:"graphql,omitempty"`
}

// Marker recognises our own change agent or origin in an event.
type Marker struct {
	// From is a value spec, e.g. "changeAgent", "header:X-Change-Agent",
	// "ChangeEventHeader.changeOrigin", "request.idempotency_key".
	From string `yaml:"from"`
	// Match is "equals", "contains", "prefix" or "list" (a list, split at
	// Separator, one of whose trimmed items equals the value). Default
	// "equals".
	Match string `yaml:"match"`
	// Value is what to look for; "{agent}" and "{idempotency_prefix}" are
	// replaced. Default "{agent}".
	Value string `yaml:"value"`
	// Separator splits the value for Match "list", e.g. ";" for Salesforce's
	// changeOrigin "com/salesforce/api/rest/60.0;client=<agent>". Default ",".
	Separator string `yaml:"separator"`
}

// Condition holds when a value spec's value equals one of In or starts with
// one of Prefix (at least one of them is required).
type Condition struct {
	// From is a value spec, e.g. "header:X-GitHub-Event" or "webhookEvent".
	From string `yaml:"from"`
	// In lists exact values.
	In StringList `yaml:"in"`
	// Prefix lists value prefixes, e.g. "zen:event-type:ticket.".
	Prefix StringList `yaml:"prefix"`
}

// Handshake is a verification request that passes straight to the app.
type Handshake struct {
	// Header matches a request carrying this header (e.g.
	// "Smartsheet-Hook-Challenge", "X-Hook-Secret").
	Header string `yaml:"header"`
	// Query matches a request carrying this query parameter (e.g.
	// "validationToken").
	Query string `yaml:"query"`
}

// SignatureSpec configures delivery signatures.
type SignatureSpec struct {
	// Scheme: "", "hmac-sha256", "hubspot-v3", "stripe", "github", "jira",
	// "shopify", "zendesk", "smartsheet", "linear", "asana", "airtable".
	// Empty: deliveries are not signed.
	Scheme string `yaml:"scheme"`
	// Secret is the webhook secret. Required when Scheme is set, unless
	// TrustUnsigned says otherwise.
	Secret Secret `yaml:"secret"`
	// TrustUnsigned lets a provider whose profile names a Scheme start
	// without a Secret: its deliveries are then not verified, and anyone
	// who reaches the inbound listener can forge events and markers. Each
	// start warns, and loopguard_unsigned_trusted{provider} is 1. Default
	// false (no secret: loopguard refuses to start).
	TrustUnsigned bool `yaml:"trust_unsigned"`
	// Header, Encoding, Prefix, TimestampHeader and Payload parameterise the
	// generic hmac-sha256 scheme.
	Header          string `yaml:"header"`
	Encoding        string `yaml:"encoding"`
	Prefix          string `yaml:"prefix"`
	TimestampHeader string `yaml:"timestamp_header"`
	Payload         string `yaml:"payload"`
	// Tolerance is the maximum age of a timestamped signature. Default: the
	// scheme's documented value.
	Tolerance Duration `yaml:"tolerance"`
	// Require drops nothing from a delivery whose signature is not verified
	// (the default and only behaviour); kept for clarity in profiles.
}

// RateLimitSpec selects how upstream rate-limit headers are read.
type RateLimitSpec struct {
	// Family: auto, ietf, x-ratelimit, salesforce, hubspot, shopify, zendesk.
	// Default "auto".
	Family string `yaml:"family"`
	// Reset says how X-RateLimit-Reset is expressed: auto, epoch, delta,
	// iso8601. Default "auto".
	Reset string `yaml:"reset"`
}

// ProviderEntry is one provider of a deployment: a profile to use plus
// overrides of any profile field, and per-account overrides.
type ProviderEntry struct {
	// Use names the base profile (built-in or from provider_files). Default:
	// the entry's name.
	Use string
	// Name of this provider instance. Default: Use.
	Name string
	// Accounts maps an account id to profile-field overrides for it.
	Accounts map[string]*yaml.Node
	// node is the entry itself; its fields overlay the base profile.
	node *yaml.Node
}

// Read route defaults.
const (
	// DefaultReadMethod is a read route's method: lists and queries are GETs.
	DefaultReadMethod = "GET"
	// DefaultReadRecord reads a record's fields from the list element itself.
	DefaultReadRecord = "@this"
)

// applyReadDefaults fills the read routes' defaults, as webhook routes get
// theirs: the same marker defaults, and the object from the path's {object}.
func applyReadDefaults(p *Profile) {
	for i := range p.Reads {
		r := &p.Reads[i]
		setStr(&r.Method, DefaultReadMethod)
		setStr(&r.Record, DefaultReadRecord)
		setStr(&r.Sentinel, p.Tagging.SentinelField)
		if params, err := TemplateParams(r.Path); err == nil && slices.Contains(params, "object") {
			setStr(&r.ObjectType, "{object}")
		}
		for j := range r.Markers {
			setStr(&r.Markers[j].Match, "equals")
			setStr(&r.Markers[j].Value, "{agent}")
			if r.Markers[j].Match == "list" {
				setStr(&r.Markers[j].Separator, ",")
			}
		}
	}
}
