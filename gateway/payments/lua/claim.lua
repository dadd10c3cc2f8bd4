-- Claim an Idempotency-Key for one payment, atomically, before anything calls out.
-- ARGV: 1 ns, 2 now (ms), 3 client, 4 key, 5 request fingerprint, 6 lease (ms), 7 day
-- (yyyymmdd, Vietnam time), 8 provider, 9 dossier, 10 agency, 11 procedure, 12 amount,
-- 13 request JSON. Returns {code, id}: new (created, lease held), resume (a creation whose
-- outcome is unknown and whose lease lapsed: lease now held, ask the provider first),
-- busy (another request holds the lease), existing (settled or pending), mismatch (the key
-- was used for another request).
local ns, now = ARGV[1], tonumber(ARGV[2])
local kk = ns .. ':pay:key:' .. ARGV[3] .. ':' .. ARGV[4]
local id = redis.call('GET', kk)
if id then
  local pk = ns .. ':pay:' .. id
  local h = redis.call('HMGET', pk, 'fp', 'status', 'lease')
  if h[1] ~= ARGV[5] then return {'mismatch', id} end
  if h[2] ~= 'creating' then return {'existing', id} end
  if tonumber(h[3] or '0') > now then return {'busy', id} end
  redis.call('HSET', pk, 'lease', now + tonumber(ARGV[6]))
  return {'resume', id}
end
local n = redis.call('INCR', ns .. ':pay:seq')
id = string.format('%012d', n)
local ref = ARGV[7] .. string.format('%010d', n)
redis.call('HSET', ns .. ':pay:' .. id, 'id', id, 'reference', ref, 'provider', ARGV[8],
  'client', ARGV[3], 'dossier_no', ARGV[9], 'agency', ARGV[10], 'procedure', ARGV[11],
  'amount', ARGV[12], 'status', 'creating', 'created_at', ARGV[2], 'fp', ARGV[5],
  'request', ARGV[13], 'lease', now + tonumber(ARGV[6]))
redis.call('SET', kk, id)
redis.call('SET', ns .. ':pay:ref:' .. ref, id)
redis.call('ZADD', ns .. ':pay:open', now, id)
redis.call('SADD', ns .. ':pay:day:' .. ARGV[7], id)
return {'new', id}
