-- Shared by every script. ARGV: 1 ns, 2 now (ms), 3 channel id, 4 mode (latest|append|event),
-- 5 the channel this one waits for ('' none), 6 channels that wait for this one (comma list),
-- 7 the event channel that notifies clients ('' none), 8 ",client,…," of subscribed clients.
-- Key names are built here and nowhere else in Lua; gateway/pipeline/keys.py documents them.
local ns, now, ch, mode, after, deps = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local notify, subscribers = ARGV[7] or '', ARGV[8] or ''
local function rec(id) return ns .. ':rec:' .. id end
local function sub(c, s) return ns .. ':sub:' .. c .. ':' .. s end
local function items(c, s) return ns .. ':items:' .. c .. ':' .. s end
local function fps(c, s) return ns .. ':fps:' .. c .. ':' .. s end
local function done(c, s) return ns .. ':done:' .. c .. ':' .. s end
local function ready(c, p) return ns .. ':ready:' .. c .. ':' .. p end
local function metric(name) redis.call('HINCRBY', ns .. ':metrics', name, 1) end
-- Sorted-set writes gathered over a script's loop and issued at its end, many members per
-- command instead of one command each. A script is atomic: nobody sees the keys in between, and
-- all of its effects reach the AOF together before the reply, so when within the script they
-- run changes nothing outside it (the callers never read those keys again in the same run).
-- Chunks stay well under Lua's limit on unpacked arguments.
local function batched(cmd, key, head, args)
  local chunk = 4000
  for i = 1, #args, chunk do
    local part = {}
    for j = i, math.min(i + chunk - 1, #args) do part[#part + 1] = args[j] end
    if head then
      redis.call(cmd, key, head, unpack(part))
    else
      redis.call(cmd, key, unpack(part))
    end
  end
end
local function owns(s, token) return redis.call('HGET', sub(ch, s), 'token') == token end
local function release(p, s, token)
  local key = sub(ch, s)
  if redis.call('HGET', key, 'token') == token then
    redis.call('HDEL', key, 'lease', 'token', 'sending')
    redis.call('ZREM', ns .. ':leases', ch .. '|' .. p .. '|' .. s)
    return true
  end
  return false
end
-- An item that was on the wire in an attempt whose outcome is unknown: never sent again until
-- the peer has been asked. The subject counts its flagged items, so a claim knows to look.
-- The count covers only items still waiting (in the subject's items): a dead-lettered item
-- keeps its flag but left the count, and a late worker's completion of it must not take it out
-- a second time (a negative count hides the extras of a later partial claim).
local function counted(id, s)
  return mode ~= 'latest' and redis.call('ZSCORE', items(ch, s), id) ~= false
end
local function flag_ambiguous(id, s)
  if redis.call('HGET', rec(id), 'amb') ~= '1' then
    redis.call('HSET', rec(id), 'amb', '1')
    if counted(id, s) then redis.call('HINCRBY', sub(ch, s), 'amb', 1) end
  end
end
local function clear_ambiguous(id, s)
  if redis.call('HGET', rec(id), 'amb') == '1' then
    redis.call('HDEL', rec(id), 'amb')
    if counted(id, s) then redis.call('HINCRBY', sub(ch, s), 'amb', -1) end
  end
end
-- A lease that lapsed (its worker died or hung mid-send): whatever it had on the wire may have
-- reached the peer, so each such item is flagged ambiguous (asked about before it is sent
-- again) and the lease is dropped. Used by the sweep (recover) and by a claim that finds the
-- lapsed lease before the sweep did.
local function lapse(c, s)
  local sk = sub(c, s)
  local sending = redis.call('HGET', sk, 'sending')
  if sending and sending ~= '' then
    redis.call('HSET', rec(sending), 'amb', '1')
    if redis.call('HGET', rec(sending), 'state') == 'sending' then
      -- Nobody sends it any more: it waits again, or a newer state accepted meanwhile
      -- replaced it (not "sending" for ever).
      local pend = redis.call('HGET', sk, 'pending') or ''
      if pend == sending then
        redis.call('HSET', rec(sending), 'state', 'queued')
      else
        redis.call('HSET', rec(sending), 'state', 'superseded', 'superseded_by', pend)
      end
    end
  end
  for _, id in ipairs(redis.call('ZRANGE', items(c, s), 0, -1)) do
    local r = redis.call('HMGET', rec(id), 'state', 'amb')
    if r[1] == 'sending' then
      redis.call('HSET', rec(id), 'state', 'queued')
      if r[2] ~= '1' then
        redis.call('HSET', rec(id), 'amb', '1')
        redis.call('HINCRBY', sk, 'amb', 1)
      end
    end
  end
  redis.call('HDEL', sk, 'lease', 'token', 'sending')
end
-- Work of other channels that waited for this subject may go once it is settled here; and more
-- items of this subject may wait on this channel.
local function wake(s, p, woke)
  if deps ~= '' then
    for dep in string.gmatch(deps, '[^,]+') do
      local dp = redis.call('HGET', sub(dep, s), 'part')
      if dp and redis.call('EXISTS', items(dep, s)) == 1 then
        redis.call('ZADD', ready(dep, dp), 'NX', now, s)
        woke[#woke + 1] = dep .. '|' .. dp
      end
    end
  end
  if mode ~= 'latest' and redis.call('EXISTS', items(ch, s)) == 1 then
    redis.call('ZADD', ready(ch, p), 'NX', now, s)
  end
end
-- Tell the item's client what happened to it, through the event channel, in the same atomic
-- step as the change itself: no crash between the two can lose or invent a notification. The
-- event's id is its idempotency key (the webhook-id), the same on every retry and replay.
local function notify_event(id, kind, reason, woke)
  if notify == '' or ch == notify then return end
  local r = redis.call('HMGET', rec(id), 'client', 'part', 'subj', 'cid')
  local client = r[1]
  if not client or not string.find(subscribers, ',' .. client .. ',', 1, true) then return end
  local eid = string.format('%012d', redis.call('INCR', ns .. ':seq'))
  local es = 'msg_' .. eid
  local body = cjson.encode({type = 'delivery.' .. kind, at = tonumber(now), delivery_id = id,
    channel = ch, subject = r[3], partition = r[2], reason = reason})
  -- The event carries the correlation id of the delivery it reports, so its send reads it
  -- with its claim (gateway/observability/delivery.py).
  redis.call('HSET', rec(eid), 'ch', notify, 'part', client, 'subj', es, 'fp', es,
    'status', '-', 'ord', now, 'body', body, 'state', 'queued', 'accepted_at', now,
    'client', client, 'attempts', 0, 'cid', r[4] or '')
  redis.call('ZADD', items(notify, es), now, eid)
  redis.call('HSET', fps(notify, es), es, eid)
  redis.call('HSET', sub(notify, es), 'part', client)
  redis.call('ZADD', ready(notify, client), 'NX', now, es)
  redis.call('SADD', ns .. ':queues', notify .. '|' .. client)
  redis.call('HINCRBY', ns .. ':metrics', 'accepted|' .. notify, 1)
  woke[#woke + 1] = notify .. '|' .. client
end
-- Mark one item delivered (complete and resolve both do it). Counted in `out` and notified on
-- its first delivery only: a state sent again after a late older one was delivered before, and
-- its client was told so then. A hung worker's send of an item dead-lettered meanwhile did
-- arrive: the letter is settled, so that a replay cannot send the item a second time. Append
-- items move from the waiting set to the delivered one; returns the highest delivered order.
local function mark_delivered(s, id, top, out, woke)
  -- One read and (usually) one write per item: this runs for every delivered item.
  local r = redis.call('HMGET', rec(id), 'state', 'accepted_at', 'ord', 'delivered_at', 'amb',
    'next_at')
  if r[1] ~= 'delivered' and not r[4] then
    out[#out + 1] = r[2]
    notify_event(id, 'delivered', nil, woke)
  end
  if r[1] == 'dead' then
    redis.call('HSET', ns .. ':dl:' .. id, 'status', 'delivered', 'delivered_at', now)
    redis.call('ZREM', ns .. ':dl:index', id)
  end
  redis.call('HSET', rec(id), 'state', 'delivered', 'delivered_at', now)
  if r[6] then redis.call('HDEL', rec(id), 'next_at') end
  -- clear_ambiguous, from the flag read above; before the item leaves the subject's items
  -- (see counted()).
  if r[5] == '1' then
    redis.call('HDEL', rec(id), 'amb')
    if counted(id, s) then redis.call('HINCRBY', sub(ch, s), 'amb', -1) end
  end
  if mode ~= 'latest' then
    redis.call('ZREM', items(ch, s), id)
    redis.call('ZADD', done(ch, s), r[3] or 0, id)
    local o = tonumber(r[3] or '0')
    if o > top then top = o end
  end
  return top
end
