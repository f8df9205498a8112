package redisq

// Dead letters on Redis:
//
//	<prefix>{spool}:dead      sorted set: member and score = the item's seq (its id)
//	<prefix>{spool}:d:<seq>   hash: the stream entry's fields (t p a r w m u h b v),
//	                          q queue name, s size, k "u" when counted as
//	                          unverified, x reason, z dead-at (Unix ns), n attempts,
//	                          ls last status, le last error, an answers (JSON)
//	<prefix>{spool}:deadp     hash: provider → dead letters
//
// meta gains d_items/d_bytes (dead letters) and u_items/u_bytes (untrusted
// items, queued and dead). Like every spool key they have no TTL.

// Fields of a dead letter's hash beyond the stream entry's.
const (
	deadQueue    = "q"
	deadSize     = "s"
	deadClass    = "k"
	deadReason   = "x"
	deadAt       = "z"
	deadAttempts = "n"
	deadStatus   = "ls"
	deadError    = "le"
	deadAnswers  = "an"
)

// buryScript: KEYS meta, queues, stream, info, lease, dead set, dead hash,
// dead per provider; ARGV[1] owner, ARGV[2] lease ms, ARGV[3] seq, ARGV[4]
// queue id, ARGV[5] queue name, ARGV[6] reason, ARGV[7] dead-at, ARGV[8]
// attempts, ARGV[9] last status, ARGV[10] last error, ARGV[11] answers.
// Moves the item out of its queue into the dead letters in one step.
// Returns 0 when the item is unknown, else take's answer (1, or 2 when its
// queue emptied).
const buryScript = scriptRenewLease + scriptNum + scriptInfo + scriptTake + `
local info = redis.call('HGET', KEYS[4], ARGV[3])
if not info then return 0 end
local size, _, class = parseInfo(info)
if not size then return redis.error_reply('corrupt info ' .. info) end
local es = redis.call('XRANGE', KEYS[3], ARGV[3] .. '-0', ARGV[3] .. '-0')
if #es == 0 then return 0 end
local kv = es[1][2]
local provider = ''
for i = 1, #kv, 2 do
  if kv[i] == 'p' then provider = kv[i + 1] end
end
redis.call('HSET', KEYS[7], unpack(kv))
redis.call('HSET', KEYS[7], 'q', ARGV[5], 's', size, 'k', class, 'x', ARGV[6], 'z', ARGV[7],
  'n', ARGV[8], 'ls', ARGV[9], 'le', ARGV[10], 'an', ARGV[11])
redis.call('ZADD', KEYS[6], ARGV[3], ARGV[3])
redis.call('HINCRBY', KEYS[8], provider, 1)
redis.call('HINCRBY', KEYS[1], 'd_items', 1)
redis.call('HINCRBY', KEYS[1], 'd_bytes', size)
return take(size)
`

// requeueScript: KEYS meta, queues, stream, info, dead set, dead hash, dead
// per provider; ARGV[1] id, ARGV[2] queue id, ARGV[3] queue name, ARGV[4]
// now (the new held-at). Appends the dead letter at the end of its queue
// with attempts 0 and removes it from the dead letters. Returns {1, seq},
// {0} when unknown, {-1} when its queue is not ARGV[3] (read it again).
const requeueScript = scriptNum + `
local h = redis.call('HGETALL', KEYS[6])
if #h == 0 then return {0} end
local m = {}
for i = 1, #h, 2 do m[h[i]] = h[i + 1] end
if m['q'] ~= ARGV[3] then return {-1} end
local size = tonumber(m['s']) or 0
local fields = {}
for _, f in ipairs({'t', 'p', 'a', 'r', 'w', 'm', 'u', 'h', 'b', 'v'}) do
  if m[f] then
    local v = m[f]
    if f == 't' then v = ARGV[4] end
    table.insert(fields, f)
    table.insert(fields, v)
  end
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[3], string.format('%d-0', seq), unpack(fields))
local info = string.format('%d 0', size)
if m['k'] == 'u' then info = info .. ' u' end
redis.call('HSET', KEYS[4], seq, info)
redis.call('HINCRBY', KEYS[1], 'items', 1)
redis.call('HINCRBY', KEYS[1], 'bytes', size)
dec(KEYS[1], 'd_items', 1)
dec(KEYS[1], 'd_bytes', size)
redis.call('HSET', KEYS[2], 'n:' .. ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[2], 'c:' .. ARGV[2], 1)
redis.call('HINCRBY', KEYS[2], 'b:' .. ARGV[2], size)
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('DEL', KEYS[6])
if dec(KEYS[7], m['p'] or '', 1) == 0 then redis.call('HDEL', KEYS[7], m['p'] or '') end
return {1, seq}
`

// deleteDeadScript: KEYS meta, dead set, dead hash, dead per provider;
// ARGV[1] id. Discards a dead letter and frees its space. Returns 0 when
// unknown.
const deleteDeadScript = scriptNum + `
local h = redis.call('HMGET', KEYS[3], 's', 'k', 'p')
local inSet = redis.call('ZREM', KEYS[2], ARGV[1])
if not h[1] and inSet == 0 then return 0 end
local size = tonumber(h[1]) or 0
redis.call('DEL', KEYS[3])
dec(KEYS[1], 'd_items', 1)
dec(KEYS[1], 'd_bytes', size)
if h[2] == 'u' then
  dec(KEYS[1], 'u_items', 1)
  dec(KEYS[1], 'u_bytes', size)
end
if h[3] and dec(KEYS[4], h[3], 1) == 0 then redis.call('HDEL', KEYS[4], h[3]) end
return 1
`
