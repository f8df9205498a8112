package redisstore

// A record is one string: its ledger.State in the ledger's own encoding
// (ledger.Encode), so both stores share one codec and one set of rules
// (State.ApplyWrite, ApplyAccept, Prune). An update reads the record,
// applies the rule in Go and writes it back with casScript, which replaces
// the value only if it is still the one read — concurrent replicas never
// lose an update; the loser reads again and retries.

// casScript: KEYS[1] the record; ARGV[1] the value read ("" when absent),
// ARGV[2] the new value, ARGV[3] its TTL in ms. Returns 1 when set, 0 when
// the record changed in between. A key of another type is replaced.
const casScript = `
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'string' and kind ~= 'none' then redis.call('DEL', KEYS[1]) end
local cur = redis.call('GET', KEYS[1])
if cur == false then cur = '' end
if cur ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`
