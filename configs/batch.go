package configs

// Batch and GraphQL writes: a request that writes many records (a batch
// endpoint, a composite request, a GraphQL mutation) is many versions, one
// per record. These blocks say where the records are in the request and how
// the response reports each one; the route's other keys (path, methods,
// object) keep their meaning.

// BatchSpec makes a write route a batch write: its body holds a list of
// records, each tagged (its own sentinel, where the profile uses one) and
// recorded as its own write — only when the response reports it written.
type BatchSpec struct {
	// List is the request body path of the records array ("@this": a root
	// array), a plain dotted path. Required unless IDsQuery is set.
	List string `yaml:"list"`
	// RecordID is a value spec, relative to a list element, of the record's
	// id (Salesforce "id ?? Id"). An element without one is a create,
	// whose id comes from its result (response.id). Empty: every element
	// is a create (HubSpot batch/upsert, whose ids are unique property
	// values, not record ids).
	RecordID string `yaml:"record_id"`
	// Fields is the path, relative to a list element, of the record's
	// fields ("" = the element itself). The sentinel goes into this object.
	Fields string `yaml:"fields"`
	// Object is a value spec, relative to a list element, of the record's
	// object type (Salesforce attributes.type). Default: the route's object.
	Object string `yaml:"object"`
	// IDsQuery names a query parameter holding comma-separated record ids
	// (Zendesk update_many?ids=1,2): when the request carries it, the one
	// record at Shared is written to every id. Such a body gets no
	// sentinel (one value cannot be bound to several records): headers and
	// the ledger only.
	IDsQuery string `yaml:"ids_query"`
	// Shared is the body path of the one record IDsQuery applies to every
	// id ("ticket"). Required with IDsQuery.
	Shared string `yaml:"shared"`
	// Subrequests says each list element is an HTTP sub-request (Salesforce
	// composite), matched against the profile's own single-record write
	// routes by method and URL path: the sub-route says where the record's
	// id, object and fields are. Sub-requests no write route matches (GETs,
	// DELETEs, unknown paths) are left as sent.
	Subrequests *SubrequestSpec `yaml:"subrequests,omitempty"`
	// Response says which records the response reports as written.
	Response BatchResponse `yaml:"response"`
}

// SubrequestSpec locates a sub-request's parts, relative to a list element.
type SubrequestSpec struct {
	// Method is the path of the sub-request's HTTP method. Default "method".
	Method string `yaml:"method"`
	// URL is the path of the sub-request's URL (a path, optionally with a
	// query). Default "url".
	URL string `yaml:"url"`
	// Body is the path of the sub-request's body. Default "body".
	Body string `yaml:"body"`
}

// BatchResponse says how a batch response reports each record.
type BatchResponse struct {
	// List is the response body path of the per-record results ("@this":
	// a root array). Empty: the response reports nothing per record (an
	// asynchronous job, Zendesk's job_status), and every record of a 2xx
	// answer counts as written.
	List string `yaml:"list"`
	// Match says how a result finds its record, tried in order for each
	// record: "id" (the result's id equals the record's id), "key" (Key
	// yields the same value on the request element and on the result),
	// "position" (the i-th result is the i-th record; only when the
	// response lists as many results as the request has records). A record
	// no result matches is not recorded. Default [position].
	Match StringList `yaml:"match"`
	// Key is a value spec read on the request element (after tagging, so
	// a sentinel can serve) and on the result; each alternative of
	// "a ?? b" is tried on its own (HubSpot "objectWriteTraceId ??
	// properties.loopguard_sync", Salesforce composite "referenceId").
	Key string `yaml:"key"`
	// ID is a value spec, relative to a result, of the record's id: a
	// create's id, and what match "id" compares. Default "id".
	ID string `yaml:"id"`
	// Success is a value spec, relative to a result: the record counts as
	// written only when it is true or a number from 200 to 299
	// (Salesforce "success", composite "httpStatusCode"). Empty: a result
	// that is present counts as written.
	Success string `yaml:"success"`
	// Record is the path, relative to a result, of the record as the
	// write left it, whose tracked fields are the state its echo will
	// carry ("-": the result holds no record). Default: batch.fields.
	Record string `yaml:"record"`
	// Time is a value spec, relative to the result, of the provider's time
	// or version of the written state (HubSpot "updatedAt"). Default none.
	Time string `yaml:"time"`
}

// GraphQLWrite makes a write route a GraphQL mutation: the request is
// recognised by a mutation's root field, and every selection of that field
// in the operation (aliases included) is one record.
type GraphQLWrite struct {
	// Mutation is the root field of the mutation, e.g. "issueUpdate",
	// "productUpdate". Required.
	Mutation string `yaml:"mutation"`
	// RecordID is the path, in the field's arguments, of the record id:
	// "id" for issueUpdate(id:, input:), "product.id" for Shopify's
	// productUpdate(product:); alternatives "product.id ?? input.id" take
	// the first that has a value. Arguments given as variables are read
	// from the request's variables, inline ones from the query. Empty: the
	// mutation creates; the id comes from CreateID.
	RecordID string `yaml:"record_id"`
	// Fields is the path, in the field's arguments, of the record's fields
	// ("input", "product"; alternatives "product ?? input" take the first
	// that is an object). Required.
	Fields string `yaml:"fields"`
	// SentinelField is where, in the fields object, the sentinel is
	// written — only when that object is passed as a variable (the
	// variables JSON is edited in place; the query text never is).
	// GraphQL input types reject unknown fields, so there is no default:
	// name a field the input type has (a custom field) or leave it empty
	// for headers and the ledger only.
	SentinelField string `yaml:"sentinel_field"`
	// Response is the path, under the field's result (data.<alias>), of
	// the written object whose tracked fields are the state the write left
	// ("issue", "product"); "-": the result holds none.
	Response string `yaml:"response"`
	// ResponseTime is a value spec, relative to that object, of the
	// provider's time of the written state (e.g. "updatedAt").
	ResponseTime string `yaml:"response_time"`
	// CreateID is the path, under the field's result, of a created
	// record's id. Default "<response>.id".
	CreateID string `yaml:"create_id"`
	// Success is a value spec, under the field's result, that must be true
	// for the record to count as written (Linear's "success"). Empty: not
	// checked.
	Success string `yaml:"success"`
	// UserErrors is the path, under the field's result, of a list that
	// must be empty for the record to count as written (Shopify's
	// "userErrors"). Empty: not checked. A null result, or an entry of the
	// response's errors whose path starts at the field, always means not
	// written.
	UserErrors string `yaml:"user_errors"`
}

// GraphQLRead makes a read route a GraphQL query: a query whose root field
// is Query has its list (the route's list, relative to the field's result:
// "nodes", "edges" with record "node") filtered like a REST list; pageInfo
// and everything else is kept as sent.
type GraphQLRead struct {
	// Query is the query's root field, e.g. "issues", "products".
	Query string `yaml:"query"`
}

// Batch and GraphQL defaults.
const (
	// DefaultBatchMatch is how batch results are matched to records.
	DefaultBatchMatch = "position"
	// DefaultBatchResultID is a result's record id path.
	DefaultBatchResultID = "id"
	// DefaultGraphQLMethod is the method of GraphQL routes.
	DefaultGraphQLMethod = "POST"
)

// BatchMatches are the ways a batch result finds its record.
var BatchMatches = []string{"id", "key", "position"}

// applyBatchDefaults fills batch and GraphQL route defaults; it runs before
// the generic route defaults (GraphQL routes are POSTs).
func applyBatchDefaults(p *Profile) {
	for i := range p.Writes {
		w := &p.Writes[i]
		if w.GraphQL != nil && len(w.Methods) == 0 {
			w.Methods = StringList{DefaultGraphQLMethod}
		}
		if b := w.Batch; b != nil {
			if len(b.Response.Match) == 0 {
				b.Response.Match = StringList{DefaultBatchMatch}
			}
			setStr(&b.Response.ID, DefaultBatchResultID)
			if b.Response.Record == "" {
				b.Response.Record = b.Fields
				if b.Response.Record == "" {
					b.Response.Record = "@this"
				}
			}
			if s := b.Subrequests; s != nil {
				setStr(&s.Method, "method")
				setStr(&s.URL, "url")
				setStr(&s.Body, "body")
			}
		}
		if g := w.GraphQL; g != nil {
			if g.CreateID == "" && g.Response != "" && g.Response != "-" {
				g.CreateID = g.Response + ".id"
			}
		}
	}
	for i := range p.Reads {
		if r := &p.Reads[i]; r.GraphQL != nil {
			setStr(&r.Method, DefaultGraphQLMethod)
		}
	}
}
