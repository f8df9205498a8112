package redisq

// Lua scripts keep the counters consistent with the streams: every change
// of an item and of the counters it affects is one atomic script. All keys
// share the {spool} hash tag, so the scripts also run on a Cluster.
//
// Keys: meta (hash: seq, items, bytes), queues (hash: n:<id> queue name,
// c:<id> item count, b:<id> bytes, per queue id = HashID(queue)), and per
// queue: the stream, the info hash (seq → "<size> <attempts>") and the
// replay lease (string: owner, with a TTL).

// scriptNum reads a hash field as a number (absent: 0); scriptDec
// decrements one without going below zero and returns the new value.
const scriptNum = `
local function num(key, field) return tonumber(redis.call('HGET', key, field) or '0') or 0 end
local function dec(key, field, by)
  local v = num(key, field) - by
  if v < 0 then v = 0 end
  redis.call('HSET', key, field, string.format('%d', v))
  return v
end
`

// scriptInfo parses a queue info value "<size> <attempts>[ u]"; the class
// is "u" for an item counted against the unverified budget, "" otherwise.
const scriptInfo = `
local function parseInfo(info)
  local size, attempts, class = string.match(info, '^(%d+) (%d+) ?(%a*)$')
  return tonumber(size), tonumber(attempts), class
end
`

// appendScript: KEYS meta, queues, stream, info; ARGV[1] MaxItems,
// ARGV[2] MaxBytes, ARGV[3] item size, ARGV[4] queue id, ARGV[5] queue
// name, ARGV[6] attempts, ARGV[7] "1" when the item is untrusted, ARGV[8]
// UnverifiedMaxItems, ARGV[9] UnverifiedMaxBytes, then the entry's
// field/value pairs. The main budget counts queued and dead trusted items
// (items + d_items - u_items); the unverified one u_items/u_bytes. Returns
// {1, seq}, or {0, items held} / {-1, bytes held} of the budget that is
// full (no seq used).
const appendScript = scriptNum + `
local items, bytes = num(KEYS[1], 'items'), num(KEYS[1], 'bytes')
local ui, ub = num(KEYS[1], 'u_items'), num(KEYS[1], 'u_bytes')
local size = tonumber(ARGV[3])
local untrusted = ARGV[7] == '1'
if untrusted then
  if ui + 1 > tonumber(ARGV[8]) then return {0, ui} end
  if ub + size > tonumber(ARGV[9]) then return {-1, ub} end
else
  local ti = math.max(items + num(KEYS[1], 'd_items') - ui, 0)
  local tb = math.max(bytes + num(KEYS[1], 'd_bytes') - ub, 0)
  if ti + 1 > tonumber(ARGV[1]) then return {0, ti} end
  if tb + size > tonumber(ARGV[2]) then return {-1, tb} end
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[3], string.format('%d-0', seq), unpack(ARGV, 10, #ARGV))
local info = ARGV[3] .. ' ' .. ARGV[6]
if untrusted then
  info = info .. ' u'
  redis.call('HINCRBY', KEYS[1], 'u_items', 1)
  redis.call('HINCRBY', KEYS[1], 'u_bytes', size)
end
redis.call('HSET', KEYS[4], seq, info)
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

// scriptTake removes one item (by its info value) from its queue: the
// stream entry, its info, the queued counters (items, bytes), and the
// queue itself when it empties. KEYS[1] meta, KEYS[2] queues, KEYS[3]
// stream, KEYS[4] info, KEYS[5] lease; ARGV[3] seq, ARGV[4] queue id.
// Returns 2 when the queue emptied (its keys and lease are gone), else 1.
const scriptTake = `
local function take(size)
  redis.call('XDEL', KEYS[3], ARGV[3] .. '-0')
  redis.call('HDEL', KEYS[4], ARGV[3])
  dec(KEYS[1], 'items', 1)
  dec(KEYS[1], 'bytes', size)
  local id = ARGV[4]
  if dec(KEYS[2], 'c:' .. id, 1) == 0 or redis.call('XLEN', KEYS[3]) == 0 then
    redis.call('HDEL', KEYS[2], 'n:' .. id, 'c:' .. id, 'b:' .. id)
    redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
    return 2
  end
  dec(KEYS[2], 'b:' .. id, size)
  renew(KEYS[5])
  return 1
end
`

// removeScript: KEYS meta, queues, stream, info, lease; ARGV[1] owner,
// ARGV[2] lease ms, ARGV[3] seq, ARGV[4] queue id. Returns 0 when the item
// is unknown, 2 when it was the last one: an emptied queue disappears with
// its keys and lease.
const removeScript = scriptRenewLease + scriptNum + scriptInfo + scriptTake + `
local info = redis.call('HGET', KEYS[4], ARGV[3])
if not info then return 0 end
local size, _, class = parseInfo(info)
size = size or 0
if class == 'u' then
  dec(KEYS[1], 'u_items', 1)
  dec(KEYS[1], 'u_bytes', size)
end
return take(size)
`

// markAttemptScript: KEYS info, lease; ARGV[1] owner, ARGV[2] lease ms,
// ARGV[3] seq, ARGV[4] attempts cap. Returns 0 when the item is unknown.
const markAttemptScript = scriptRenewLease + scriptInfo + `
local info = redis.call('HGET', KEYS[1], ARGV[3])
if not info then return 0 end
local size, attempts, class = parseInfo(info)
if not size then return redis.error_reply('corrupt info ' .. info) end
if attempts < tonumber(ARGV[4]) then attempts = attempts + 1 end
local v = string.format('%d %d', size, attempts)
if class == 'u' then v = v .. ' u' end
redis.call('HSET', KEYS[1], ARGV[3], v)
renew(KEYS[2])
return 1
`

// releaseScript: KEYS lease; ARGV[1] owner. Drops the lease if held.
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`
