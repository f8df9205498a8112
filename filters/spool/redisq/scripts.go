package redisq

// Lua scripts keep the counters consistent with the streams: every change
// of an item and of the counters it affects is one atomic script. All keys
// share the {spool} hash tag, so the scripts also run on a Cluster.
//
// Keys: meta (hash: seq, items, bytes), queues (hash: n:<id> queue name,
// c:<id> item count, b:<id> bytes, per queue id = HashID(queue)), and per
// queue: the stream, the info hash (seq → "<size> <attempts>") and the
// replay lease (string: owner, with a TTL).

// appendScript: KEYS meta, queues, stream, info; ARGV[1] MaxItems,
// ARGV[2] MaxBytes, ARGV[3] item size, ARGV[4] queue id, ARGV[5] queue
// name, ARGV[6] attempts, then the entry's field/value pairs. Returns
// {1, seq}, or {0, items held} / {-1, bytes held} when full (no seq used).
const appendScript = `
local items = tonumber(redis.call('HGET', KEYS[1], 'items') or '0')
local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')
local size = tonumber(ARGV[3])
if items + 1 > tonumber(ARGV[1]) then return {0, items} end
if bytes + size > tonumber(ARGV[2]) then return {-1, bytes} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[3], string.format('%d-0', seq), unpack(ARGV, 7, #ARGV))
redis.call('HSET', KEYS[4], seq, ARGV[3] .. ' ' .. ARGV[6])
redis.call('HINCRBY', KEYS[1], 'items', 1)
redis.call('HINCRBY', KEYS[1], 'bytes', size)
redis.call('HSET', KEYS[2], 'n:' .. ARGV[4], ARGV[5])
redis.call('HINCRBY', KEYS[2], 'c:' .. ARGV[4], 1)
redis.call('HINCRBY', KEYS[2], 'b:' .. ARGV[4], size)
return {1, seq}
`

// peekScript: KEYS stream, info, lease; ARGV[1] n, ARGV[2] owner, ARGV[3]
// lease ms, ARGV[4] "1" to claim the queue for replay. Returns {0} when
// another owner holds the lease, else {1, entries, infos}.
const peekScript = `
if ARGV[4] == '1' then
  local holder = redis.call('GET', KEYS[3])
  if holder and holder ~= ARGV[2] then return {0} end
end
local es = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', ARGV[1])
if #es == 0 then return {1, {}, {}} end
if ARGV[4] == '1' then redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3]) end
local infos = {}
for i, e in ipairs(es) do
  infos[i] = redis.call('HGET', KEYS[2], string.match(e[1], '^(%d+)')) or ''
end
return {1, es, infos}
`

// scriptRenewLease extends the lease when ARGV[1..3] (owner, lease ms) say
// the caller holds it; KEYS[lease] is given by the including script.
const scriptRenewLease = `
local function renew(lease)
  if redis.call('GET', lease) == ARGV[1] then redis.call('PEXPIRE', lease, ARGV[2]) end
end
`

// removeScript: KEYS meta, queues, stream, info, lease; ARGV[1] owner,
// ARGV[2] lease ms, ARGV[3] seq, ARGV[4] queue id. Returns 0 when the item
// is unknown, 2 when it was the last one: an emptied queue disappears with
// its keys and lease.
const removeScript = scriptRenewLease + `
local info = redis.call('HGET', KEYS[4], ARGV[3])
if not info then return 0 end
local size = tonumber(string.match(info, '^(%d+)')) or 0
redis.call('XDEL', KEYS[3], ARGV[3] .. '-0')
redis.call('HDEL', KEYS[4], ARGV[3])
local function dec(key, field, by)
  local v = (tonumber(redis.call('HGET', key, field) or '0') or 0) - by
  if v < 0 then v = 0 end
  redis.call('HSET', key, field, string.format('%d', v))
  return v
end
dec(KEYS[1], 'items', 1)
dec(KEYS[1], 'bytes', size)
local id = ARGV[4]
if dec(KEYS[2], 'c:' .. id, 1) == 0 or redis.call('XLEN', KEYS[3]) == 0 then
  redis.call('HDEL', KEYS[2], 'n:' .. id, 'c:' .. id, 'b:' .. id)
  redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
  return 2
else
  dec(KEYS[2], 'b:' .. id, size)
  renew(KEYS[5])
end
return 1
`

// markAttemptScript: KEYS info, lease; ARGV[1] owner, ARGV[2] lease ms,
// ARGV[3] seq, ARGV[4] attempts cap. Returns 0 when the item is unknown.
const markAttemptScript = scriptRenewLease + `
local info = redis.call('HGET', KEYS[1], ARGV[3])
if not info then return 0 end
local size, attempts = string.match(info, '^(%d+) (%d+)$')
if not size then return redis.error_reply('corrupt info ' .. info) end
attempts = tonumber(attempts)
if attempts < tonumber(ARGV[4]) then attempts = attempts + 1 end
redis.call('HSET', KEYS[1], ARGV[3], size .. ' ' .. string.format('%d', attempts))
renew(KEYS[2])
return 1
`

// releaseScript: KEYS lease; ARGV[1] owner. Drops the lease if held.
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`
