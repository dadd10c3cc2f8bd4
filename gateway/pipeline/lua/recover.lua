-- ARGV: ns now (no channel). Expired leases: the worker died or hung mid-send. Whatever it had
-- on the wire may have reached the peer, so each such item is flagged ambiguous (asked about
-- before it is sent again) and the subject is made ready again.
local out = {}
local expired = redis.call('ZRANGEBYSCORE', ns .. ':leases', '-inf', now)
for _, m in ipairs(expired) do
  local c, p, s = string.match(m, '^([^|]*)|([^|]*)|(.*)$')
  local sk = sub(c, s)
  local lease = redis.call('HGET', sk, 'lease')
  if (not lease) or tonumber(lease) <= tonumber(now) then
    lapse(c, s)
    redis.call('ZADD', ready(c, p), now, s)
    out[#out + 1] = c .. '|' .. p
  end
  redis.call('ZREM', ns .. ':leases', m)
end
return out
