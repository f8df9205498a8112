package proxy

// Every metric loopguard exports, by name: the one place names are
// written (Metrics, the collectors and gauges registered beside it, the
// status command and the load harness use these constants).
// TestMetricNamesDefinedOnce keeps other files free of literal names, and
// TestReadmeListsEmittedMetrics keeps README.md's table equal to what a
// sidecar registers. Besides these, /metrics carries client_golang's go_*
// and process_* collectors.
const (
	// Decisions and deliveries (counters unless noted).
	MetricDecisions         = "loopguard_decisions_total"
	MetricDeliveries        = "loopguard_inbound_deliveries_total"
	MetricInboundDuration   = "loopguard_inbound_duration_seconds" // histogram
	MetricDoubts            = "loopguard_doubts_total"
	MetricSignatureFailures = "loopguard_signature_failures_total"
	MetricUnsignedTrusted   = "loopguard_unsigned_trusted" // gauge
	MetricPullResponses     = "loopguard_pull_responses_total"

	// Outbound.
	MetricOutboundRequests = "loopguard_outbound_requests_total"
	MetricOutboundDuration = "loopguard_outbound_duration_seconds" // histogram
	MetricUntagged         = "loopguard_outbound_untagged_total"
	MetricBatchRecords     = "loopguard_batch_records_total"
	MetricWritesRecorded   = "loopguard_writes_recorded_total"
	MetricRedundantWrites  = "loopguard_redundant_writes_total"
	MetricEgressDenied     = "loopguard_egress_denied_total"
	// MetricTransparentConnections is registered only with
	// listen.transparent.
	MetricTransparentConnections = "loopguard_transparent_connections_total"

	// Limits.
	MetricRejected          = "loopguard_rejected_total"
	MetricConnectionsOpen   = "loopguard_connections_open" // gauge
	MetricIdleClosed        = "loopguard_connections_idle_closed_total"
	MetricInflightBodyBytes = "loopguard_inflight_body_bytes" // gauge

	// Breakers and the loop detector.
	MetricBreakerTransitions = "loopguard_breaker_transitions_total"
	MetricThrottled          = "loopguard_outbound_throttled_total"
	MetricQuarantines        = "loopguard_quarantines_total"
	MetricQuarantinedRecords = "loopguard_quarantined_records" // gauge
	// Per (provider, account) gauges, read from the breakers at scrape time.
	MetricQuotaLimit     = "loopguard_quota_limit"
	MetricQuotaRemaining = "loopguard_quota_remaining"
	MetricQuotaUsedRatio = "loopguard_quota_used_ratio"
	MetricQuotaReset     = "loopguard_quota_reset_timestamp_seconds"
	MetricCallsPerMinute = "loopguard_calls_per_minute"
	MetricCallsBaseline  = "loopguard_calls_per_minute_baseline"
	MetricBreakerState   = "loopguard_breaker_state"

	// Hold, spool and replay.
	MetricHeld                 = "loopguard_held_total"
	MetricHeldUnverified       = "loopguard_held_unverified_total"
	MetricReplayed             = "loopguard_replayed_total"
	MetricDeadLettered         = "loopguard_dead_lettered_total"
	MetricDeadLetters          = "loopguard_dead_letters"           // gauge
	MetricSpoolItems           = "loopguard_spool_items"            // gauge
	MetricSpoolBytes           = "loopguard_spool_bytes"            // gauge
	MetricSpoolUnverifiedItems = "loopguard_spool_unverified_items" // gauge
	MetricSpoolUnverifiedBytes = "loopguard_spool_unverified_bytes" // gauge
	MetricSpoolCapacityBytes   = "loopguard_spool_capacity_bytes"   // gauge
	MetricSpoolCapacityItems   = "loopguard_spool_capacity_items"   // gauge

	// State store.
	MetricStoreUp         = "loopguard_store_up"               // gauge
	MetricLedgerEntries   = "loopguard_ledger_entries"         // gauge
	MetricLedgerEvictions = "loopguard_ledger_evictions_total" // counter read from the store
	MetricDedupEntries    = "loopguard_dedup_entries"          // gauge
)
