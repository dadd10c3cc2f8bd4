-- The provider holds the payment: record its URL; a creating payment becomes pending (a
-- callback may already have settled it: its status then stays).
-- ARGV: 1 ns, 2 id, 3 pay URL ('' none).
local pk = ARGV[1] .. ':pay:' .. ARGV[2]
if ARGV[3] ~= '' then redis.call('HSET', pk, 'pay_url', ARGV[3]) end
if redis.call('HGET', pk, 'status') == 'creating' then
  redis.call('HSET', pk, 'status', 'pending')
end
redis.call('HDEL', pk, 'lease')
return redis.call('HGET', pk, 'status')
