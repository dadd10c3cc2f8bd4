-- ARGV 9..: partition token next_at error ambiguous n {subject k ids}
-- A transient failure: the subjects are ready again at next_at. With ambiguous = '1' the items
-- were on the wire in an attempt whose outcome is unknown, and are flagged so.
local part, token, next_at, err, amb = ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local count = 0
each(14, function(s, ids)
  -- Only the lease holder settles: a hung worker's verdict on items that someone else now
  -- holds (or delivered) is void.
  if not owns(s, token) then return end
  local sk = sub(ch, s)
  local pend = redis.call('HGET', sk, 'pending')
  for _, id in ipairs(ids) do
    local rk = rec(id)
    if redis.call('HGET', rk, 'state') ~= 'delivered' then
      redis.call('HINCRBY', rk, 'attempts', 1)
      redis.call('HSETNX', rk, 'first_failed_at', now)
      redis.call('RPUSH', rk .. ':log', now .. ' ' .. err)
      if amb == '1' then flag_ambiguous(id, s) end
      if mode == 'latest' and pend ~= id then
        redis.call('HSET', rk, 'state', 'superseded', 'superseded_by', pend or '',
          'last_error', err)
      else
        redis.call('HSET', rk, 'state', 'retrying', 'last_error', err, 'next_at', next_at)
      end
      count = count + 1
    end
  end
  release(part, s, token)
  redis.call('ZADD', ready(ch, part), next_at, s)
end)
redis.call('HINCRBY', ns .. ':metrics', 'retried|' .. ch, count)
return count
