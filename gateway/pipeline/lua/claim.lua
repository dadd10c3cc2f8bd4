-- ARGV 9..: partition n lease_ms token room
-- Returns {{subject, exists, {ids}, {bodies}, {amb}, {extra ids}, {extra bodies}, {cids}}…}: at most n
-- subjects and `room` items, due now, not leased. `room` is the connector's batch size, so one
-- send is one peer call and a failure never hides a partial success; a subject with more items
-- than fit sends its oldest first. `amb` flags the claimed items that were on the wire in an
-- attempt whose outcome is unknown; the extras are the subject's other such items, so that one
-- look-up settles all of them even when this claim holds only some. `cids` are the claimed items'
-- correlation ids ('' when none), read with their bodies so the send needs no second look.
local part, n, token = ARGV[9], tonumber(ARGV[10]), ARGV[12]
local room = tonumber(ARGV[13])
local expiry = tonumber(now) + tonumber(ARGV[11])
local rq = ready(ch, part)
local cands = redis.call('ZRANGEBYSCORE', rq, '-inf', now, 'LIMIT', 0, n * 2 + 8)
local out = {}
-- Out of the ready set, and into the lease set: one command each at the end (see batched).
local unready, leased = {}, {}
for _, s in ipairs(cands) do
  if #out >= n or room <= 0 then break end
  local sk = sub(ch, s)
  local f = redis.call('HMGET', sk, 'lease', 'pending', 'solo', 'amb', 'exists')
  if f[1] and tonumber(f[1]) <= tonumber(now) then
    -- A lapsed lease the sweep has not seen yet: its holder's items may be at the peer, so
    -- flag them as the sweep would before anything of the subject is sent again.
    lapse(ch, s)
    f = redis.call('HMGET', sk, 'lease', 'pending', 'solo', 'amb', 'exists')
  end
  local blocked = false
  if after ~= '' then
    local a = redis.call('HMGET', sub(after, s), 'pending', 'exists')
    blocked = a[1] and a[1] ~= '' and a[2] ~= '1'
  end
  if f[1] and tonumber(f[1]) > tonumber(now) then
    unready[#unready + 1] = s  -- its holder re-adds it when done
  elseif blocked then
    unready[#unready + 1] = s  -- woken when the subject exists at the peer (see wake)
  else
    local ids
    if mode == 'latest' then
      if f[2] and f[2] ~= '' then ids = {f[2]} else ids = {} end
    else
      -- An isolated subject sends one item at a time until one is delivered (see solo.lua).
      local take = room
      if f[3] == '1' then take = 1 end
      ids = redis.call('ZRANGE', items(ch, s), 0, take - 1)
    end
    if #ids == 0 then
      unready[#unready + 1] = s
    elseif f[3] == '1' and #out > 0 then
      -- A subject isolated after a batch rejection travels alone: leave it for the next claim.
    else
      unready[#unready + 1] = s
      if mode == 'latest' then
        redis.call('HSET', sk, 'lease', expiry, 'token', token, 'sending', ids[1])
      else
        redis.call('HSET', sk, 'lease', expiry, 'token', token)
      end
      leased[#leased + 1] = expiry
      leased[#leased + 1] = ch .. '|' .. part .. '|' .. s
      local bodies, amb, cids, mine = {}, {}, {}, {}
      for j, id in ipairs(ids) do
        local r = redis.call('HMGET', rec(id), 'body', 'amb', 'cid')
        redis.call('HSET', rec(id), 'state', 'sending')
        bodies[j] = r[1]
        amb[j] = r[2] or ''
        cids[j] = r[3] or ''
        mine[id] = true
      end
      local xids, xbodies = {}, {}
      if mode ~= 'latest' and tonumber(f[4] or '0') > 0 then
        for _, id in ipairs(redis.call('ZRANGE', items(ch, s), 0, -1)) do
          if not mine[id] then
            local r = redis.call('HMGET', rec(id), 'body', 'amb')
            if r[2] == '1' then
              xids[#xids + 1] = id
              xbodies[#xbodies + 1] = r[1]
            end
          end
        end
      end
      out[#out + 1] = {s, f[5] or '', ids, bodies, amb, xids, xbodies, cids}
      room = room - #ids
      if f[3] == '1' then break end
    end
  end
end
if #unready > 0 then batched('ZREM', rq, nil, unready) end
if #leased > 0 then batched('ZADD', ns .. ':leases', nil, leased) end
return out
