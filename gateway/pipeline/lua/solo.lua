-- ARGV 9..: partition token n {subject k ids}: isolate each subject for its next send (after
-- the peer refused a whole batch, so that one bad item does not sink the others). An isolated
-- subject of an append or event channel also sends one item per call until one is delivered.
local part, token = ARGV[9], ARGV[10]
each(11, function(s, ids)
  if not owns(s, token) then return end
  local sk = sub(ch, s)
  local pend = redis.call('HGET', sk, 'pending')
  for _, id in ipairs(ids) do
    if mode == 'latest' and pend ~= id then
      redis.call('HSET', rec(id), 'state', 'superseded', 'superseded_by', pend or '')
    else
      redis.call('HSET', rec(id), 'state', 'queued')
    end
  end
  release(part, s, token)
  redis.call('HSET', sk, 'solo', '1')
  redis.call('ZADD', ready(ch, part), now, s)
end)
return 1
