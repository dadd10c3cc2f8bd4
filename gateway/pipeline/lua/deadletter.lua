-- ARGV 9..: partition token peer reason message ambiguous n {subject k ids}
-- Moves items to the dead-letter queue. With ambiguous = '1' the last attempt's outcome is
-- unknown: the item keeps that flag, so a replay asks the peer before sending it again.
local part, token, peer, reason, msg, amb = ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13],
  ARGV[14]
local count, woke = 0, {}
each(15, function(s, ids)
  if not owns(s, token) then return end
  local sk = sub(ch, s)
  for _, id in ipairs(ids) do
    local rk = rec(id)
    if redis.call('HGET', rk, 'state') ~= 'delivered' then
      redis.call('HINCRBY', rk, 'attempts', 1)
      redis.call('HSETNX', rk, 'first_failed_at', now)
      redis.call('RPUSH', rk .. ':log', now .. ' ' .. msg)
      redis.call('HSET', rk, 'state', 'dead', 'dead_at', now, 'last_error', msg)
      -- delivered_at too: the client is told "dead_lettered" now, so a delivery after a replay
      -- is a first delivery again, counted and notified (see complete.lua).
      redis.call('HDEL', rk, 'next_at', 'delivered_at')
      -- Out of the subject's waiting items, so out of its count. The record keeps the flag
      -- (an earlier unknown outcome stays unknown), so a replay asks the peer first.
      local was = redis.call('HGET', rk, 'amb') == '1'
      if was and mode ~= 'latest' then redis.call('HINCRBY', sk, 'amb', -1) end
      if amb == '1' or was then redis.call('HSET', rk, 'amb', '1') end
      redis.call('HSET', ns .. ':dl:' .. id, 'id', id, 'ch', ch, 'part', part, 'subj', s,
        'peer', peer, 'reason', reason, 'message', msg, 'dead_at', now, 'status', 'dead')
      redis.call('ZADD', ns .. ':dl:index', now, id)
      if mode ~= 'latest' then redis.call('ZREM', items(ch, s), id) end
      if mode == 'latest' and redis.call('HGET', sk, 'pending') == id then
        redis.call('HSET', sk, 'pending', '')
      end
      count = count + 1
      metric('dead|' .. ch .. '|' .. reason)
      notify_event(id, 'dead_lettered', reason, woke)
    end
  end
  release(part, s, token)
  redis.call('HDEL', sk, 'solo')
  -- Whatever else waits for this subject must not wait forever behind a dead letter.
  if mode == 'latest' and (redis.call('HGET', sk, 'pending') or '') ~= '' then
    redis.call('ZADD', ready(ch, part), 'NX', now, s)
  end
  wake(s, part, woke)
end)
return {count, woke}
