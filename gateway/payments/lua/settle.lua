-- Settle a payment from a verified callback or a query: once. Paid is final.
-- ARGV: 1 ns, 2 now (ms), 3 id, 4 outcome (paid|failed), 5 amount in dong, 6 provider txn,
-- 7 settled_by (callback|query). Returns: settled, already, amount (differs: nothing changed),
-- missing (no such payment).
local ns, id, outcome = ARGV[1], ARGV[3], ARGV[4]
local pk = ns .. ':pay:' .. id
local h = redis.call('HMGET', pk, 'status', 'amount')
if not h[1] then return 'missing' end
if h[1] == 'paid' or h[1] == outcome then return 'already' end
if outcome == 'paid' and h[2] ~= ARGV[5] then return 'amount' end
redis.call('HSET', pk, 'status', outcome, 'settled_by', ARGV[7], 'settled_at', ARGV[2])
if ARGV[6] ~= '' then redis.call('HSET', pk, 'provider_txn', ARGV[6]) end
if outcome == 'paid' then
  redis.call('HSET', pk, 'paid_at', ARGV[2])
  -- The national record and the provincial webhook are still to be told (crash-safe: the
  -- sweep finishes whatever is left in this set).
  redis.call('SADD', ns .. ':pay:after', id)
end
redis.call('ZREM', ns .. ':pay:open', id)
return 'settled'
