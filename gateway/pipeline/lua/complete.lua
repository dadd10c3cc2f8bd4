-- ARGV 9..: partition token n {subject k ids}
-- Marks the items delivered. Returns {accepted_at (ms) of each, for the latency histogram;
-- queues "channel|partition" this made ready (work that waited for the subject)}.
-- A caller whose lease lapsed (a hung worker) still sent what it sent: its items are marked
-- delivered, but it touches nothing else of the subject, and a late state that may have landed
-- after a newer one makes the newest state go out again.
local part, token = ARGV[9], ARGV[10]
local out, woke = {}, {}
local function delivered(s, id, top)
  local r = redis.call('HMGET', rec(id), 'state', 'accepted_at', 'ord', 'delivered_at')
  -- Counted and notified on its first delivery only: a state sent again after a late older one
  -- (below) was delivered before, and its client was told so then.
  if r[1] ~= 'delivered' and not r[4] then
    out[#out + 1] = r[2]
    notify_event(id, 'delivered', nil, woke)
  end
  if r[1] == 'dead' then
    -- A hung worker's send of an item dead-lettered meanwhile did arrive: the letter is
    -- settled, so that a replay cannot send the item a second time.
    redis.call('HSET', ns .. ':dl:' .. id, 'status', 'delivered', 'delivered_at', now)
    redis.call('ZREM', ns .. ':dl:index', id)
  end
  redis.call('HSET', rec(id), 'state', 'delivered', 'delivered_at', now)
  redis.call('HDEL', rec(id), 'next_at')
  clear_ambiguous(id, s)
  if mode ~= 'latest' then
    redis.call('ZREM', items(ch, s), id)
    redis.call('ZADD', done(ch, s), r[3] or 0, id)
    local o = tonumber(r[3] or '0')
    if o > top then top = o end
  end
  return top
end
each(11, function(s, ids)
  local sk = sub(ch, s)
  local mine = owns(s, token)
  local top = tonumber(redis.call('HGET', sk, 'sent_ord') or '0')
  for _, id in ipairs(ids) do top = delivered(s, id, top) end
  if mode ~= 'latest' then redis.call('HSET', sk, 'sent_ord', top) end
  if mine then
    release(part, s, token)
    redis.call('HDEL', sk, 'solo')
  end
  if mode == 'latest' then
    redis.call('HSET', sk, 'exists', '1')
    local pend = redis.call('HGET', sk, 'pending')
    local last = redis.call('HGET', sk, 'last')
    if pend == ids[1] then
      if mine and redis.call('HGET', sk, 'resend') == '1' then
        -- A late older state completed while this one was on the wire, and may have landed
        -- after it: send this one again rather than leave the older one at the peer.
        redis.call('HDEL', sk, 'resend')
        redis.call('HSET', rec(pend), 'state', 'queued')
        redis.call('ZADD', ready(ch, part), 'NX', now, s)
      else
        redis.call('HSET', sk, 'pending', '')
      end
    elseif pend and pend ~= '' then
      if not mine and redis.call('HGET', sk, 'sending') == pend then
        -- The newer state is on the wire under another lease: its holder sends it again.
        redis.call('HSET', sk, 'resend', '1')
      end
      redis.call('ZADD', ready(ch, part), 'NX', now, s)
    elseif not mine and last and last ~= ids[1] then
      -- The late state may now sit at the peer over the newest one: send the newest again.
      redis.call('HSET', sk, 'pending', last)
      redis.call('HSET', rec(last), 'state', 'queued')
      redis.call('ZADD', ready(ch, part), 'NX', now, s)
    end
  end
  wake(s, part, woke)
end)
redis.call('HINCRBY', ns .. ':metrics', 'delivered|' .. ch, #out)
return {out, woke}
