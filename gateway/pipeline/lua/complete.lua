-- ARGV 9..: partition token n {subject k ids}
-- Marks the items delivered. Returns {accepted_at (ms) of each, for the latency histogram;
-- queues "channel|partition" this made ready (work that waited for the subject)}.
-- A caller whose lease lapsed (a hung worker) still sent what it sent: its items are marked
-- delivered, but it touches nothing else of the subject, and a late state that may have landed
-- after a newer one makes the newest state go out again.
local part, token = ARGV[9], ARGV[10]
local out, woke = {}, {}
local released = {}  -- lease set members: one ZREM at the end (see batched)
each(11, function(s, ids)
  local sk = sub(ch, s)
  -- The subject is read once, before its items are marked: marking changes none of these
  -- fields (mark_delivered writes the items, the event channel's keys and, off latest-state
  -- channels, the subject's amb count, which is not read here).
  local f = redis.call('HMGET', sk, 'token', 'sent_ord', 'pending', 'last', 'resend', 'sending')
  local mine = f[1] == token
  local top = tonumber(f[2] or '0')
  for _, id in ipairs(ids) do top = mark_delivered(s, id, top, out, woke) end
  if mode ~= 'latest' then redis.call('HSET', sk, 'sent_ord', top) end
  if mine then
    -- release() with the token checked above, and the isolation mark with it
    redis.call('HDEL', sk, 'lease', 'token', 'sending', 'solo')
    released[#released + 1] = ch .. '|' .. part .. '|' .. s
  end
  if mode == 'latest' then
    local pend, last = f[3], f[4]
    if pend == ids[1] then
      if mine and f[5] == '1' then
        -- A late older state completed while this one was on the wire, and may have landed
        -- after it: send this one again rather than leave the older one at the peer.
        redis.call('HDEL', sk, 'resend')
        redis.call('HSET', sk, 'exists', '1')
        redis.call('HSET', rec(pend), 'state', 'queued')
        redis.call('ZADD', ready(ch, part), 'NX', now, s)
      else
        redis.call('HSET', sk, 'exists', '1', 'pending', '')
      end
    elseif pend and pend ~= '' then
      redis.call('HSET', sk, 'exists', '1')
      -- f[6] is still the subject's "sending": only the holder's release (mine) drops it.
      if not mine and f[6] == pend then
        -- The newer state is on the wire under another lease: its holder sends it again.
        redis.call('HSET', sk, 'resend', '1')
      end
      redis.call('ZADD', ready(ch, part), 'NX', now, s)
    elseif not mine and last and last ~= ids[1] then
      -- The late state may now sit at the peer over the newest one: send the newest again.
      redis.call('HSET', sk, 'exists', '1', 'pending', last)
      redis.call('HSET', rec(last), 'state', 'queued')
      redis.call('ZADD', ready(ch, part), 'NX', now, s)
    else
      redis.call('HSET', sk, 'exists', '1')
    end
  end
  wake(s, part, woke)
  if mine and ch == notify and redis.call('EXISTS', items(ch, s)) == 0 then
    -- A notification is its own subject (msg_<id>), minted once by notify_event and never
    -- accepted from outside: once delivered, nothing reads its subject keys again (its hash
    -- keeps the state for the status endpoint), so they go instead of staying for ever. Only
    -- the lease holder's completion does it: a lapsed holder's must not drop a new lease.
    redis.call('DEL', sub(ch, s), fps(ch, s), done(ch, s))
  end
end)
if #released > 0 then batched('ZREM', ns .. ':leases', nil, released) end
redis.call('HINCRBY', ns .. ':metrics', 'delivered|' .. ch, #out)
return {out, woke}
