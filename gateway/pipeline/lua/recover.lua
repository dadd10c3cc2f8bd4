-- ARGV: ns now (no channel). Expired leases: the worker died or hung mid-send. Whatever it had
-- on the wire may have reached the peer, so each such item is flagged ambiguous (asked about
-- before it is sent again) and the subject is made ready again.
local out = {}
local expired = redis.call('ZRANGEBYSCORE', ns .. ':leases', '-inf', now)
for _, m in ipairs(expired) do
  local c, p, s = string.match(m, '^([^|]*)|([^|]*)|(.*)$')
  local sk = sub(c, s)
  local f = redis.call('HMGET', sk, 'lease', 'sending')
  if (not f[1]) or tonumber(f[1]) <= tonumber(now) then
    if f[2] and f[2] ~= '' then
      redis.call('HSET', rec(f[2]), 'amb', '1')
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
    redis.call('ZADD', ready(c, p), now, s)
    out[#out + 1] = c .. '|' .. p
  end
  redis.call('ZREM', ns .. ':leases', m)
end
return out
