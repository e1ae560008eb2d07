"""Lua scripts of the Redis quota backend. Each runs atomically in Redis, so a balance and
its pending delta (and the queued log row) always move together.

Keys (prefix P = "oneproxy:q:"): P.."bal:t:<id>" / P.."bal:u:<id>" live balances,
P.."live" the pending-deltas hash, P.."logs" the queued rows, P.."batches" the set of taken
batch ids, P.."batch:<id>:d" / ":l" a taken batch, P.."gen" bumped whenever the set of
batches changes or a balance is dropped (seeding checks it), P.."lock" the flush lock,
P.."res" the open reservations (id -> "token, user, amount, limited, ms, note"), so those
of a process that died can be given back (`release_stale`).
Integers stay exact: Lua numbers are doubles, exact up to 2^53, far above any quota.
"""

# KEYS: token balance, user balance, live hash, reservations hash.
# ARGV: amount, limited ("1"/""), token remain field, user quota field, reservation id,
#       reservation entry.
RESERVE = """
local amount = tonumber(ARGV[1])
local limited = ARGV[2] == '1'
local tb = false
if limited then tb = redis.call('GET', KEYS[1]) end
local ub = redis.call('GET', KEYS[2])
if (limited and not tb) or not ub then
  return {'seed', limited and not tb and 1 or 0, ub and 0 or 1}
end
if limited and tonumber(tb) < amount then return {'short', 'token', tonumber(tb)} end
if tonumber(ub) < amount then return {'short', 'user', tonumber(ub)} end
if amount > 0 then
  if limited then
    redis.call('DECRBY', KEYS[1], amount)
    redis.call('HINCRBY', KEYS[3], ARGV[3], -amount)
  end
  redis.call('DECRBY', KEYS[2], amount)
  redis.call('HINCRBY', KEYS[3], ARGV[4], -amount)
end
redis.call('HSET', KEYS[4], ARGV[5], ARGV[6])
return {'ok'}
"""

# KEYS: token balance, user balance, live hash, logs list, reservations hash.
# ARGV: reserved, actual, limited, token remain f, user quota f, token used f, user used f,
#       user count f, token seen f, user seen f, channel used f ("" = none), now ms, row,
#       reservation id.
# A reservation already given back (release_stale) counts as 0: the whole charge is new.
SETTLE = """
local reserved, actual = tonumber(ARGV[1]), tonumber(ARGV[2])
local limited = ARGV[3] == '1'
local tb = false
if limited then tb = redis.call('GET', KEYS[1]) end
local ub = redis.call('GET', KEYS[2])
if (limited and not tb) or not ub then
  return {'seed', limited and not tb and 1 or 0, ub and 0 or 1}
end
if redis.call('HDEL', KEYS[5], ARGV[14]) == 0 then reserved = 0 end
local charged = actual
if actual > reserved then
  local room = tonumber(ub)
  if limited and tonumber(tb) < room then room = tonumber(tb) end
  if room < 0 then room = 0 end
  charged = reserved + math.min(actual - reserved, room)
end
local back = reserved - charged
if back ~= 0 then
  if limited then
    redis.call('INCRBY', KEYS[1], back)
    redis.call('HINCRBY', KEYS[3], ARGV[4], back)
  end
  redis.call('INCRBY', KEYS[2], back)
  redis.call('HINCRBY', KEYS[3], ARGV[5], back)
end
redis.call('HINCRBY', KEYS[3], ARGV[6], charged)
redis.call('HINCRBY', KEYS[3], ARGV[7], charged)
redis.call('HINCRBY', KEYS[3], ARGV[8], 1)
if ARGV[11] ~= '' then redis.call('HINCRBY', KEYS[3], ARGV[11], charged) end
redis.call('HSET', KEYS[3], ARGV[9], ARGV[12], ARGV[10], ARGV[12])
redis.call('RPUSH', KEYS[4], string.format('%d', charged) .. '\\t' .. ARGV[13])
return {'ok', charged}
"""

# KEYS: token balance, user balance, live hash, logs list, reservations hash.
# ARGV: amount, limited, token remain f, user quota f, token seen f, user seen f, now, row,
#       reservation id. A reservation given back already is not given back twice.
REFUND = """
if redis.call('HDEL', KEYS[5], ARGV[9]) == 0 then return 0 end
local amount = tonumber(ARGV[1])
if amount > 0 then
  if ARGV[2] == '1' then
    if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], amount) end
    redis.call('HINCRBY', KEYS[3], ARGV[3], amount)
  end
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], amount) end
  redis.call('HINCRBY', KEYS[3], ARGV[4], amount)
end
redis.call('HSET', KEYS[3], ARGV[5], ARGV[7], ARGV[6], ARGV[7])
redis.call('RPUSH', KEYS[4], '0\\t' .. ARGV[8])
return 1
"""

# KEYS: gen, live hash. ARGV: expected gen, key prefix, ttl seconds, then per seed:
# balance key, counter field, db value ("" = no such row), n, n unapplied batch ids.
INSTALL = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
local i = 4
while i <= #ARGV do
  local n = tonumber(ARGV[i + 3])
  local total = 0
  if ARGV[i + 2] ~= '' then
    total = tonumber(ARGV[i + 2]) + tonumber(redis.call('HGET', KEYS[2], ARGV[i + 1]) or '0')
    for j = 1, n do
      local batch = ARGV[2] .. 'batch:' .. ARGV[i + 3 + j] .. ':d'
      total = total + tonumber(redis.call('HGET', batch, ARGV[i + 1]) or '0')
    end
  end
  redis.call('SET', ARGV[i], string.format('%d', total), 'EX', ARGV[3], 'NX')
  i = i + 4 + n
end
return 1
"""

# KEYS: gen, live hash. ARGV: expected gen, key prefix, field, batch ids...
PENDING_SUM = """
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return false end
local total = tonumber(redis.call('HGET', KEYS[2], ARGV[3]) or '0')
for j = 4, #ARGV do
  local batch = ARGV[2] .. 'batch:' .. ARGV[j] .. ':d'
  total = total + tonumber(redis.call('HGET', batch, ARGV[3]) or '0')
end
return string.format('%d', total)
"""

# KEYS: balance key, gen.
FORGET = """
redis.call('DEL', KEYS[1])
return redis.call('INCR', KEYS[2])
"""

# KEYS: live hash, logs list, batches set, gen. ARGV: batch id, key prefix.
CUT = """
local has_d = redis.call('EXISTS', KEYS[1]) == 1
local has_l = redis.call('EXISTS', KEYS[2]) == 1
if not has_d and not has_l then return 0 end
local base = ARGV[2] .. 'batch:' .. ARGV[1]
if has_d then redis.call('RENAME', KEYS[1], base .. ':d') end
if has_l then redis.call('RENAME', KEYS[2], base .. ':l') end
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('INCR', KEYS[4])
return 1
"""

# KEYS: batch hash, batch list, batches set, gen. ARGV: batch id.
FINISH = """
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('INCR', KEYS[4])
return 1
"""

# KEYS: lock. ARGV: owner token.
UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
