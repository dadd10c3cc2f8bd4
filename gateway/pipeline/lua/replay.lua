-- ARGV 9..: id actor. Returns {outcome, detail, queues made ready}; outcome: queued | superseded | out_of_order |
-- missing | already (detail = the dead letter's status). A replayed letter is never replayed
-- again. The caller passes the letter's channel in ARGV 3..8.
local id, actor = ARGV[9], ARGV[10]
local dl = ns .. ':dl:' .. id
local status = redis.call('HGET', dl, 'status')
if not status then return {'missing', ''} end
if status ~= 'dead' then
  redis.call('XADD', ns .. ':audit', '*', 'at', now, 'actor', actor, 'action', 'replay',
    'target', id, 'outcome', 'already:' .. status)
  return {'already', status}
end
local rk = rec(id)
local f = redis.call('HMGET', rk, 'part', 'subj', 'ord', 'amb')
local part, s = f[1], f[2]
local sk = sub(ch, s)
local outcome = 'queued'
local woke = {}
local sent = tonumber(redis.call('HGET', sk, 'sent_ord') or '0')
if mode == 'append' and tonumber(f[3]) < sent then
  -- A later item already reached the peer: this one can no longer arrive in order. The letter
  -- stays dead for the operator to discard (or to re-enter with a new time).
  redis.call('XADD', ns .. ':audit', '*', 'at', now, 'actor', actor, 'action', 'replay',
    'target', id, 'outcome', 'out_of_order')
  return {'out_of_order', tostring(sent)}
end
if mode == 'append' then
  -- A later item on the wire now (or left there by a lapsed lease), or one that may have
  -- reached the peer in an attempt of unknown outcome, may already be there: the same.
  for _, other in ipairs(redis.call('ZRANGE', items(ch, s), 0, -1)) do
    local r = redis.call('HMGET', rec(other), 'state', 'ord', 'amb')
    if (r[1] == 'sending' or r[3] == '1') and tonumber(r[2]) > tonumber(f[3]) then
      redis.call('XADD', ns .. ':audit', '*', 'at', now, 'actor', actor, 'action', 'replay',
        'target', id, 'outcome', 'out_of_order')
      return {'out_of_order', r[2]}
    end
  end
end
if mode == 'latest' and redis.call('HGET', sk, 'last') ~= id then
  -- A newer state was accepted since: sending this one would move the peer backwards. The
  -- newer state is (or will be) delivered instead.
  outcome = 'superseded'
  redis.call('HSET', rk, 'state', 'superseded')
else
  redis.call('HSET', rk, 'state', 'queued', 'attempts', 0)
  redis.call('HDEL', rk, 'first_failed_at', 'next_at', 'dead_at')
  if mode == 'latest' then
    redis.call('HSET', sk, 'pending', id)
  else
    redis.call('ZADD', items(ch, s), f[3], id)
    -- Its last attempt may have had an unknown outcome: the flag (kept) is counted again.
    if f[4] == '1' then redis.call('HINCRBY', sk, 'amb', 1) end
  end
  redis.call('ZADD', ready(ch, part), 'NX', now, s)
  redis.call('SADD', ns .. ':queues', ch .. '|' .. part)
  notify_event(id, 'replayed', nil, woke)
end
redis.call('HSET', dl, 'status', 'replayed', 'replayed_at', now, 'replayed_by', actor,
  'outcome', outcome)
redis.call('ZREM', ns .. ':dl:index', id)
redis.call('XADD', ns .. ':audit', '*', 'at', now, 'actor', actor, 'action', 'replay',
  'target', id, 'outcome', outcome)
woke[#woke + 1] = ch .. '|' .. part
return {outcome, ch .. '|' .. part, woke}
