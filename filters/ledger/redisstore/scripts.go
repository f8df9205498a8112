package redisstore

// Lua scripts make each ledger update one atomic round trip: the
// read-prune-merge-write cycle that ledger.Memory does under a stripe lock
// happens inside Redis, so concurrent replicas never lose an update.
//
// Record hash layout (see doc.go): "w" last write time, "s" last seen time
// (both 20-digit order-preserving stamps, see encTime), "f" write
// fingerprint (8 bytes), "p:<field>" pending value hashes (8 bytes each,
// oldest first, at most ledger.MaxPending), "v:<field>" seen value hash.
//
// Times are compared as strings split into two 10-digit halves because Lua
// numbers are doubles and would round nanosecond stamps.

// scriptPrelude drops a key of the wrong type and prunes what expired by
// the caller's clock. KEYS[1] is the record; ARGV[1] and ARGV[2] are the
// write and seen cut-offs (a stamp older than its cut-off has expired).
const scriptPrelude = `
local k = KEYS[1]
local kind = redis.call('TYPE', k)['ok']
if kind ~= 'hash' and kind ~= 'none' then redis.call('DEL', k) end
local function older(a, b)
  local ah, bh = tonumber(string.sub(a, 1, 10)), tonumber(string.sub(b, 1, 10))
  if ah ~= bh then return ah < bh end
  return tonumber(string.sub(a, 11)) < tonumber(string.sub(b, 11))
end
local function expired(stamp, cutoff)
  if #stamp ~= 20 or string.find(stamp, '%D') then return true end
  return older(stamp, cutoff)
end
local function dropFields(prefix)
  for _, f in ipairs(redis.call('HKEYS', k)) do
    if string.sub(f, 1, 2) == prefix then redis.call('HDEL', k, f) end
  end
end
local stamps = redis.call('HMGET', k, 'w', 's')
if stamps[1] and expired(stamps[1], ARGV[1]) then
  dropFields('p:')
  redis.call('HDEL', k, 'w', 'f')
end
if stamps[2] and expired(stamps[2], ARGV[2]) then
  dropFields('v:')
  redis.call('HDEL', k, 's')
end
`

// scriptExtendTTL lengthens the record's TTL to ARGV[4] ms when shorter:
// the key lives as long as its longest-lived part.
const scriptExtendTTL = `
local ttl = tonumber(ARGV[4])
if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
return 1
`

// recordWriteScript: ARGV[3] write stamp, ARGV[4] TTL ms, ARGV[5] write
// fingerprint, ARGV[6] max pending bytes, then field name / value hash
// pairs. A value equal to the newest pending one is not added twice.
const recordWriteScript = scriptPrelude + `
local maxp = tonumber(ARGV[6])
for i = 7, #ARGV, 2 do
  local f = 'p:' .. ARGV[i]
  local h = ARGV[i + 1]
  local p = redis.call('HGET', k, f) or ''
  if #p % 8 ~= 0 then p = '' end
  if string.sub(p, -8) ~= h then
    p = p .. h
    if #p > maxp then p = string.sub(p, -maxp) end
    redis.call('HSET', k, f, p)
  end
end
redis.call('HSET', k, 'w', ARGV[3], 'f', ARGV[5])
` + scriptExtendTTL

// recordSeenScript: ARGV[3] seen stamp, ARGV[4] TTL ms, ARGV[5] unused,
// then field name / value hash pairs. Each field's seen value is set and
// its pending writes are cleared.
const recordSeenScript = scriptPrelude + `
for i = 6, #ARGV, 2 do
  redis.call('HSET', k, 'v:' .. ARGV[i], ARGV[i + 1])
  redis.call('HDEL', k, 'p:' .. ARGV[i])
end
redis.call('HSET', k, 's', ARGV[3])
` + scriptExtendTTL
