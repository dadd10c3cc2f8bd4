-- ARGV 9..: partition client allowed cid n {meta body}*n, meta = "subject fp status order flags"
-- (status and flags '-' when none; flags a comma list of intake rules the record raised; cid the
-- request's correlation id, '' when none, stored with each new item in the same write).
-- allowed: ",old>new,…," legal status changes, then "|,old>new:rule,…," changes accepted only
-- as a quirk (the rule joins the item's flags), or '*' for a channel without a life cycle.
-- Returns one string, a line per item "code id extra" (one bulk reply parses far faster than
-- nested arrays on the client). Codes: new, dup, order (older than an accepted item of an
-- append channel), stale (older than the accepted state of a latest-state channel),
-- transition (a status change the life cycle forbids).
local part, client, allowed, cid = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local n = tonumber(ARGV[13])
local rq = ready(ch, part)
local out = {}
-- true (and the quirk, for a pair accepted only as one) when new may follow old
local function legal(old, new)
  if allowed == '*' or new == '-' or (not old) or old == new
      or string.find(allowed, ',' .. old .. '>' .. new .. ',', 1, true) then
    return true, nil
  end
  -- Statuses are digits, so the pattern holds no magic characters; ':' ends the pair.
  local rule = string.match(allowed, ',' .. old .. '>' .. new .. ':([%w_]+)')
  return rule ~= nil, rule
end
local function with_flag(flags, rule)
  if not rule then return flags end
  if flags == '-' then return rule end
  return flags .. ',' .. rule
end
-- Ids are handed out from a local copy of the counter, written back once at the end: the script
-- is atomic, so this equals one INCR per item (nothing else runs in between).
local seq = tonumber(redis.call('GET', ns .. ':seq') or '0')
local function new_item(s, fp, status, ord, flags, body)
  seq = seq + 1
  local id = string.format('%012d', seq)
  local fields = {'ch', ch, 'part', part, 'subj', s, 'fp', fp, 'status', status, 'ord', ord,
    'body', body, 'state', 'queued', 'accepted_at', now, 'client', client, 'attempts', 0}
  if cid ~= '' then
    fields[#fields + 1] = 'cid'
    fields[#fields + 1] = cid
  end
  if flags ~= '-' then
    fields[#fields + 1] = 'flags'
    fields[#fields + 1] = flags
    for rule in string.gmatch(flags, '[^,]+') do metric('flagged|' .. ch .. '|' .. rule) end
  end
  redis.call('HSET', rec(id), unpack(fields))
  return id
end
local accepted, dups = 0, 0
local readied = {}  -- score, subject pairs for the ready set: one ZADD at the end (see batched)
for i = 0, n - 1 do
  local b = 14 + i * 2
  local s, fp, status, ord, flags = string.match(ARGV[b], '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  local body = ARGV[b + 1]
  local sk = sub(ch, s)
  if mode == 'latest' then
    local cur = redis.call('HMGET', sk, 'fp', 'last', 'status', 'pending', 'sending', 'ord')
    local ok, rule = legal(cur[3], status)
    if cur[1] == fp then
      out[#out + 1] = 'dup ' .. cur[2] .. ' -'
      dups = dups + 1
    elseif cur[6] and tonumber(ord) < tonumber(cur[6]) then
      out[#out + 1] = 'stale - ' .. cur[6]
    elseif not ok then
      out[#out + 1] = 'transition - ' .. cur[3]
    else
      flags = with_flag(flags, rule)
      local id = new_item(s, fp, status, ord, flags, body)
      local prev = cur[4]
      if prev and prev ~= '' and prev ~= cur[5] then
        -- Not on the wire: the newer state replaces it, and is what the peer will hold.
        redis.call('HSET', rec(prev), 'state', 'superseded', 'superseded_by', id)
      end
      redis.call('HSET', sk, 'fp', fp, 'last', id, 'status', status, 'pending', id, 'ord', ord,
        'part', part)
      readied[#readied + 1] = now
      readied[#readied + 1] = s
      out[#out + 1] = 'new ' .. id .. ' ' .. flags
      accepted = accepted + 1
    end
  else
    local fk = fps(ch, s)
    local seen = redis.call('HGET', fk, fp)
    if seen then
      out[#out + 1] = 'dup ' .. seen .. ' -'
      dups = dups + 1
    else
      local cur = redis.call('HMGET', sk, 'ord', 'status')
      local ok, rule = legal(cur[2], status)
      if mode ~= 'append' then ok, rule = true, nil end
      if mode == 'append' and cur[1] and tonumber(ord) < tonumber(cur[1]) then
        out[#out + 1] = 'order - ' .. cur[1]
      elseif not ok then
        out[#out + 1] = 'transition - ' .. cur[2]
      else
        flags = with_flag(flags, rule)
        local id = new_item(s, fp, status, ord, flags, body)
        redis.call('ZADD', items(ch, s), ord, id)
        redis.call('HSET', fk, fp, id)
        redis.call('HSET', sk, 'ord', ord, 'status', status, 'part', part)
        readied[#readied + 1] = now
      readied[#readied + 1] = s
        out[#out + 1] = 'new ' .. id .. ' ' .. flags
        accepted = accepted + 1
      end
    end
  end
end
if #readied > 0 then batched('ZADD', rq, 'NX', readied) end
if accepted > 0 then
  redis.call('SET', ns .. ':seq', string.format('%d', seq))  -- no %.14g rounding
  redis.call('SADD', ns .. ':queues', ch .. '|' .. part)
  redis.call('HINCRBY', ns .. ':metrics', 'accepted|' .. ch, accepted)
end
if dups > 0 then redis.call('HINCRBY', ns .. ':metrics', 'duplicate|' .. ch, dups) end
return table.concat(out, '\n')
