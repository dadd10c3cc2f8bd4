"""The outbox's Lua scripts: every state change of a delivery is one atomic Redis call.

Keys (``ns`` is the configured namespace, ``S`` the service letter, D = DongBoHoSoMC,
P = CapNhatTienDoHoSoMC)::

    ns:seq                        counter for record ids (zero-padded, so lexical = numeric order)
    ns:rec:<id>                   hash: one accepted record (its delivery): body, state, attempts …
    ns:rec:<id>:log               list: "<ms> <error>" per failed attempt
    ns:dos:<MaHoSo>               hash: per-dossier state (last status, pending record, leases …)
    ns:steps:<MaHoSo>             zset: undelivered progress steps, score = ThoiDiemXuLy
    ns:stepfp:<MaHoSo>            hash: step fingerprint -> record id (a step is accepted once)
    ns:ready:S:<agency>           zset: dossiers with work, score = not-before time (ms)
    ns:queues                     set: "S:<agency>" of every ready zset ever used
    ns:leases                     zset: "S|<agency>|<MaHoSo>" -> lease expiry (ms)
    ns:dl:<id> / ns:dl:index      dead letters: hash, and zset by time dead
    ns:audit                      stream: operator actions
    ns:metrics                    hash: cluster-wide counters

A dossier record (D) is a full-state upsert, so only the newest accepted state needs sending:
accepting a newer one supersedes an older one that is not on the wire. Steps (P) are appended
at the portal, so each is kept until delivered and sent in ThoiDiemXuLy order. A lease per dossier
and service keeps two workers from sending the same dossier at once (which could land an older
state after a newer one).
"""

from __future__ import annotations

__all__ = [
    "ACCEPT",
    "CLAIM",
    "COMPLETE",
    "DEADLETTER",
    "DISCARD",
    "RECOVER",
    "REPLAY",
    "RESCHEDULE",
    "SOLO",
]

# Shared helpers, prepended to every script.
_PRELUDE = r"""
local ns = ARGV[1]
local now = ARGV[2]
local function rec(id) return ns .. ':rec:' .. id end
local function dos(d) return ns .. ':dos:' .. d end
local function ready(s, a) return ns .. ':ready:' .. s .. ':' .. a end
-- Steps wait until the portal holds their dossier; once a dossier is settled they may go.
local function wake_steps(d, s, a, woke)
  if s == 'D' then
    local pa = redis.call('HGET', dos(d), 'agency_P')
    if pa and redis.call('EXISTS', ns .. ':steps:' .. d) == 1 then
      redis.call('ZADD', ready('P', pa), 'NX', now, d)
      woke[#woke + 1] = 'P:' .. pa
    end
  elseif redis.call('EXISTS', ns .. ':steps:' .. d) == 1 then
    redis.call('ZADD', ready('P', a), 'NX', now, d)
  end
end
local function owns(s, d, token)
  return redis.call('HGET', dos(d), 'token_' .. s) == token
end
local function release(s, a, d, token)
  local key = dos(d)
  if redis.call('HGET', key, 'token_' .. s) == token then
    redis.call('HDEL', key, 'lease_' .. s, 'token_' .. s, 'sending_' .. s)
    redis.call('ZREM', ns .. ':leases', s .. '|' .. a .. '|' .. d)
    return true
  end
  return false
end
"""

ACCEPT = (
    _PRELUDE
    + r"""
-- ARGV: ns now svc agency client allowed n {meta body}*n, meta = "dossier fp status ts"
-- allowed: ",old>new,old>new," pairs of legal status transitions.
-- Returns one string, a line per record "code id extra" (one bulk reply parses far faster than
-- nested arrays on the client).
local svc, agency, client, allowed = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local n = tonumber(ARGV[7])
local rq = ready(svc, agency)
local out = {}
local function legal(old, new)
  return (not old) or old == new or string.find(allowed, ',' .. old .. '>' .. new .. ',', 1, true)
end
local function new_record(dossier, fp, status, ts, body)
  local id = string.format('%012d', redis.call('INCR', ns .. ':seq'))
  redis.call('HSET', rec(id), 'svc', svc, 'agency', agency, 'dossier', dossier, 'fp', fp,
    'status', status, 'ts', ts, 'body', body, 'state', 'queued', 'accepted_at', now,
    'client', client, 'attempts', 0)
  return id
end
local accepted, dups = 0, 0
for i = 0, n - 1 do
  local b = 8 + i * 2
  local dossier, fp, status, ts = string.match(ARGV[b], '^(%S+) (%S+) (%S+) (%S+)$')
  local body = ARGV[b + 1]
  local dk = dos(dossier)
  if svc == 'D' then
    local cur = redis.call('HMGET', dk, 'fp', 'last', 'status', 'pending', 'sending_D')
    if cur[1] == fp then
      out[#out + 1] = 'dup ' .. cur[2] .. ' -'
      dups = dups + 1
    elseif not legal(cur[3], status) then
      out[#out + 1] = 'transition - ' .. cur[3]
    else
      local id = new_record(dossier, fp, status, ts, body)
      local prev = cur[4]
      if prev and prev ~= '' and prev ~= cur[5] then
        -- Not on the wire: the newer state replaces it, and is what the portal will hold.
        redis.call('HSET', rec(prev), 'state', 'superseded', 'superseded_by', id)
      end
      redis.call('HSET', dk, 'fp', fp, 'last', id, 'status', status, 'pending', id,
        'agency_D', agency)
      redis.call('ZADD', rq, 'NX', now, dossier)
      out[#out + 1] = 'new ' .. id .. ' -'
      accepted = accepted + 1
    end
  else
    local fk = ns .. ':stepfp:' .. dossier
    local seen = redis.call('HGET', fk, fp)
    if seen then
      out[#out + 1] = 'dup ' .. seen .. ' -'
      dups = dups + 1
    else
      local cur = redis.call('HMGET', dk, 'step_ts', 'step_status')
      if cur[1] and tonumber(ts) < tonumber(cur[1]) then
        out[#out + 1] = 'order - ' .. cur[1]
      elseif not legal(cur[2], status) then
        out[#out + 1] = 'transition - ' .. cur[2]
      else
        local id = new_record(dossier, fp, status, ts, body)
        redis.call('ZADD', ns .. ':steps:' .. dossier, ts, id)
        redis.call('HSET', fk, fp, id)
        redis.call('HSET', dk, 'step_ts', ts, 'step_status', status, 'agency_P', agency)
        redis.call('ZADD', rq, 'NX', now, dossier)
        out[#out + 1] = 'new ' .. id .. ' -'
        accepted = accepted + 1
      end
    end
  end
end
if accepted > 0 then
  redis.call('SADD', ns .. ':queues', svc .. ':' .. agency)
  redis.call('HINCRBY', ns .. ':metrics', 'accepted|' .. svc, accepted)
end
if dups > 0 then redis.call('HINCRBY', ns .. ':metrics', 'duplicate|' .. svc, dups) end
return table.concat(out, '\n')
"""
)

CLAIM = (
    _PRELUDE
    + r"""
-- ARGV: ns now svc agency n lease_ms token max_records
-- Returns {{dossier, ambiguous, created, {ids}, {bodies}}...}: at most n dossiers and max_records
-- records, due now, not leased, with the stored records (saving the worker a round trip). The
-- record cap is the connector's batch size, so one send is one portal call and a failure can
-- never hide a partial success. A dossier with more steps than fit sends its oldest ones first.
local svc, agency, n, token = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[7]
local room = tonumber(ARGV[8])
local expiry = tonumber(now) + tonumber(ARGV[6])
local rq = ready(svc, agency)
local cands = redis.call('ZRANGEBYSCORE', rq, '-inf', now, 'LIMIT', 0, n * 2 + 8)
local out = {}
for _, d in ipairs(cands) do
  if #out >= n or room <= 0 then break end
  local dk = dos(d)
  local f = redis.call('HMGET', dk, 'lease_' .. svc, 'pending', 'created', 'amb_' .. svc,
    'solo_' .. svc)
  if f[1] and tonumber(f[1]) > tonumber(now) then
    redis.call('ZREM', rq, d)  -- its holder re-adds it when done
  elseif svc == 'P' and f[2] and f[2] ~= '' and f[3] ~= '1' then
    redis.call('ZREM', rq, d)  -- steps wait until the portal has the dossier itself
  else
    local ids
    if svc == 'D' then
      if f[2] and f[2] ~= '' then ids = {f[2]} else ids = {} end
    else
      ids = redis.call('ZRANGE', ns .. ':steps:' .. d, 0, room - 1)
    end
    if #ids == 0 then
      redis.call('ZREM', rq, d)
    elseif f[5] == '1' and #out > 0 then
      -- A dossier isolated after a batch rejection travels alone: leave it for the next claim.
    else
      redis.call('ZREM', rq, d)
      redis.call('HSET', dk, 'lease_' .. svc, expiry, 'token_' .. svc, token)
      if svc == 'D' then redis.call('HSET', dk, 'sending_D', ids[1]) end
      redis.call('ZADD', ns .. ':leases', expiry, svc .. '|' .. agency .. '|' .. d)
      local bodies = {}
      for j, id in ipairs(ids) do
        redis.call('HSET', rec(id), 'state', 'sending')
        bodies[j] = redis.call('HGET', rec(id), 'body')
      end
      out[#out + 1] = {d, f[4] or '', f[3] or '', ids, bodies}
      room = room - #ids
      if f[5] == '1' then break end
    end
  end
end
return out
"""
)

# Shared by the scripts that settle a claimed batch: ARGV tail {dossier k id*k}*n from index i.
_EACH = r"""
local function each(i, fn)
  local n = tonumber(ARGV[i])
  local p = i + 1
  for _ = 1, n do
    local d, k = ARGV[p], tonumber(ARGV[p + 1])
    local ids = {}
    for j = 1, k do ids[j] = ARGV[p + 1 + j] end
    fn(d, ids)
    p = p + 2 + k
  end
end
"""

COMPLETE = (
    _PRELUDE
    + _EACH
    + r"""
-- ARGV: ns now svc agency token n {dossier k ids}
-- Marks the records delivered. Returns {accepted_at (ms) of each, for the latency histogram;
-- queues "S:agency" this made ready (steps that waited for their dossier)}.
-- A caller whose lease lapsed (a hung worker) still sent what it sent: its records are marked
-- delivered, but it touches nothing else of the dossier, and a late dossier state that may have
-- landed after a newer one makes the newest state go out again.
local svc, agency, token = ARGV[3], ARGV[4], ARGV[5]
local out, woke = {}, {}
each(6, function(d, ids)
  local dk = dos(d)
  local mine = owns(svc, d, token)
  local top = tonumber(redis.call('HGET', dk, 'step_sent_ts') or '0')
  for _, id in ipairs(ids) do
    if redis.call('HGET', rec(id), 'state') ~= 'delivered' then
      out[#out + 1] = redis.call('HGET', rec(id), 'accepted_at')
    end
    redis.call('HSET', rec(id), 'state', 'delivered', 'delivered_at', now)
    redis.call('HDEL', rec(id), 'next_at')
    if svc == 'P' then
      redis.call('ZREM', ns .. ':steps:' .. d, id)
      local ts = tonumber(redis.call('HGET', rec(id), 'ts') or '0')
      if ts > top then top = ts end
    end
  end
  if svc == 'P' then redis.call('HSET', dk, 'step_sent_ts', top) end
  if mine then
    release(svc, agency, d, token)
    redis.call('HDEL', dk, 'amb_' .. svc, 'solo_' .. svc)
  end
  if svc == 'D' then
    redis.call('HSET', dk, 'created', '1')
    local pend = redis.call('HGET', dk, 'pending')
    local last = redis.call('HGET', dk, 'last')
    if pend == ids[1] then
      redis.call('HSET', dk, 'pending', '')
    elseif pend and pend ~= '' then
      redis.call('ZADD', ready('D', agency), 'NX', now, d)
    elseif not mine and last and last ~= ids[1] then
      -- The late state may now sit at the portal over the newest one: send the newest again.
      redis.call('HSET', dk, 'pending', last)
      redis.call('HSET', rec(last), 'state', 'queued')
      redis.call('ZADD', ready('D', agency), 'NX', now, d)
    end
  end
  wake_steps(d, svc, agency, woke)
end)
redis.call('HINCRBY', ns .. ':metrics', 'delivered|' .. svc, #out)
return {out, woke}
"""
)

RESCHEDULE = (
    _PRELUDE
    + _EACH
    + r"""
-- ARGV: ns now svc agency token next_at error ambiguous n {dossier k ids}
local svc, agency, token, next_at, err, amb = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local count = 0
each(9, function(d, ids)
  -- Only the lease holder settles: a hung worker's verdict on records that someone else now
  -- holds (or delivered) is void.
  if not owns(svc, d, token) then return end
  local dk = dos(d)
  local pend = redis.call('HGET', dk, 'pending')
  for _, id in ipairs(ids) do
    local rk = rec(id)
    if redis.call('HGET', rk, 'state') ~= 'delivered' then
      redis.call('HINCRBY', rk, 'attempts', 1)
      redis.call('HSETNX', rk, 'first_failed_at', now)
      redis.call('RPUSH', rk .. ':log', now .. ' ' .. err)
      if svc == 'D' and pend ~= id then
        redis.call('HSET', rk, 'state', 'superseded', 'superseded_by', pend or '',
          'last_error', err)
      else
        redis.call('HSET', rk, 'state', 'retrying', 'last_error', err, 'next_at', next_at)
    end
    count = count + 1
    end
  end
  if release(svc, agency, d, token) and amb == '1' then
    redis.call('HSET', dk, 'amb_' .. svc, '1')
  end
  redis.call('ZADD', ready(svc, agency), next_at, d)
end)
redis.call('HINCRBY', ns .. ':metrics', 'retried|' .. svc, count)
return count
"""
)

DEADLETTER = (
    _PRELUDE
    + _EACH
    + r"""
-- ARGV: ns now svc agency token peer reason message n {dossier k ids}
local svc, agency, token, peer, reason, msg = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local count, woke = 0, {}
each(9, function(d, ids)
  if not owns(svc, d, token) then return end
  local dk = dos(d)
  for _, id in ipairs(ids) do
    local rk = rec(id)
    if redis.call('HGET', rk, 'state') ~= 'delivered' then
      redis.call('HINCRBY', rk, 'attempts', 1)
      redis.call('HSETNX', rk, 'first_failed_at', now)
      redis.call('RPUSH', rk .. ':log', now .. ' ' .. msg)
      redis.call('HSET', rk, 'state', 'dead', 'dead_at', now, 'last_error', msg)
      redis.call('HDEL', rk, 'next_at')
      redis.call('HSET', ns .. ':dl:' .. id, 'id', id, 'svc', svc, 'agency', agency, 'dossier', d,
        'peer', peer, 'reason', reason, 'message', msg, 'dead_at', now, 'status', 'dead')
      redis.call('ZADD', ns .. ':dl:index', now, id)
      if svc == 'P' then redis.call('ZREM', ns .. ':steps:' .. d, id) end
      if svc == 'D' and redis.call('HGET', dk, 'pending') == id then
        redis.call('HSET', dk, 'pending', '')
      end
      count = count + 1
      redis.call('HINCRBY', ns .. ':metrics', 'dead|' .. svc .. '|' .. peer .. '|' .. reason, 1)
    end
  end
  release(svc, agency, d, token)
  redis.call('HDEL', dk, 'solo_' .. svc)
  -- Whatever else waits for this dossier must not wait forever behind a dead letter.
  if svc == 'D' then
    if (redis.call('HGET', dk, 'pending') or '') ~= '' then
      redis.call('ZADD', ready('D', agency), 'NX', now, d)
    end
  end
  wake_steps(d, svc, agency, woke)
end)
return {count, woke}
"""
)

SOLO = (
    _PRELUDE
    + _EACH
    + r"""
-- ARGV: ns now svc agency token n {dossier k ids}: isolate each dossier for its next send.
local svc, agency, token = ARGV[3], ARGV[4], ARGV[5]
each(6, function(d, ids)
  if not owns(svc, d, token) then return end
  local pend = redis.call('HGET', dos(d), 'pending')
  for _, id in ipairs(ids) do
    if svc == 'D' and pend ~= id then
      redis.call('HSET', rec(id), 'state', 'superseded', 'superseded_by', pend or '')
    else
      redis.call('HSET', rec(id), 'state', 'queued')
    end
  end
  release(svc, agency, d, token)
  redis.call('HSET', dos(d), 'solo_' .. svc, '1')
  redis.call('ZADD', ready(svc, agency), now, d)
end)
return 1
"""
)

RECOVER = (
    _PRELUDE
    + r"""
-- ARGV: ns now. Expired leases: the worker died or hung mid-send. Its send may have reached the
-- portal, so the dossier is flagged ambiguous (look up before resending) and made ready again.
local out = {}
local expired = redis.call('ZRANGEBYSCORE', ns .. ':leases', '-inf', now)
for _, m in ipairs(expired) do
  local s, a, d = string.match(m, '^(%a)|([^|]*)|(.*)$')
  local dk = dos(d)
  local lease = redis.call('HGET', dk, 'lease_' .. s)
  if (not lease) or tonumber(lease) <= tonumber(now) then
    redis.call('HDEL', dk, 'lease_' .. s, 'token_' .. s, 'sending_' .. s)
    redis.call('HSET', dk, 'amb_' .. s, '1')
    redis.call('ZADD', ready(s, a), now, d)
    out[#out + 1] = s .. ':' .. a
  end
  redis.call('ZREM', ns .. ':leases', m)
end
return out
"""
)

REPLAY = (
    _PRELUDE
    + r"""
-- ARGV: ns now id actor. Returns {outcome, detail}; outcome: queued | superseded | missing |
-- already (detail = the dead letter's status). A replayed letter is never replayed again.
local id, actor = ARGV[3], ARGV[4]
local dl = ns .. ':dl:' .. id
local status = redis.call('HGET', dl, 'status')
if not status then return {'missing', ''} end
if status ~= 'dead' then
  redis.call('XADD', ns .. ':audit', '*', 'at', now, 'actor', actor, 'action', 'replay',
    'target', id, 'outcome', 'already:' .. status)
  return {'already', status}
end
local rk = rec(id)
local f = redis.call('HMGET', rk, 'svc', 'agency', 'dossier', 'ts')
local svc, agency, d = f[1], f[2], f[3]
local dk = dos(d)
local outcome = 'queued'
local sent = tonumber(redis.call('HGET', dk, 'step_sent_ts') or '0')
if svc == 'P' and tonumber(f[4]) < sent then
  -- A later step already reached the portal: this one can no longer arrive in time order.
  -- The letter stays dead for the operator to discard (or to re-enter with a new time).
  redis.call('XADD', ns .. ':audit', '*', 'at', now, 'actor', actor, 'action', 'replay',
    'target', id, 'outcome', 'out_of_order')
  return {'out_of_order', tostring(sent)}
end
if svc == 'D' and redis.call('HGET', dk, 'last') ~= id then
  -- A newer state of this dossier was accepted since: sending this one would move the portal
  -- backwards. The newer state is (or will be) delivered instead.
  outcome = 'superseded'
  redis.call('HSET', rk, 'state', 'superseded')
else
  redis.call('HSET', rk, 'state', 'queued', 'attempts', 0)
  redis.call('HDEL', rk, 'first_failed_at', 'next_at', 'dead_at')
  if svc == 'D' then
    redis.call('HSET', dk, 'pending', id)
  else
    redis.call('ZADD', ns .. ':steps:' .. d, f[4], id)
  end
  if svc == 'P' then
    -- A dead step may have reached the portal on an ambiguous attempt: look up before sending.
    redis.call('HSET', dk, 'amb_P', '1')
  end
  redis.call('ZADD', ready(svc, agency), 'NX', now, d)
  redis.call('SADD', ns .. ':queues', svc .. ':' .. agency)
end
redis.call('HSET', dl, 'status', 'replayed', 'replayed_at', now, 'replayed_by', actor,
  'outcome', outcome)
redis.call('ZREM', ns .. ':dl:index', id)
redis.call('XADD', ns .. ':audit', '*', 'at', now, 'actor', actor, 'action', 'replay',
  'target', id, 'outcome', outcome)
return {outcome, svc .. ':' .. agency}
"""
)

DISCARD = (
    _PRELUDE
    + r"""
-- ARGV: ns now id actor reason
local id, actor, reason = ARGV[3], ARGV[4], ARGV[5]
local dl = ns .. ':dl:' .. id
local status = redis.call('HGET', dl, 'status')
if not status then return {'missing', ''} end
if status ~= 'dead' then
  redis.call('XADD', ns .. ':audit', '*', 'at', now, 'actor', actor, 'action', 'discard',
    'target', id, 'reason', reason, 'outcome', 'already:' .. status)
  return {'already', status}
end
redis.call('HSET', dl, 'status', 'discarded', 'discarded_at', now, 'discarded_by', actor,
  'discard_reason', reason)
redis.call('HSET', rec(id), 'state', 'discarded')
redis.call('ZREM', ns .. ':dl:index', id)
redis.call('XADD', ns .. ':audit', '*', 'at', now, 'actor', actor, 'action', 'discard',
  'target', id, 'reason', reason)
return {'discarded', ''}
"""
)
