-- ARGV 9..: id actor reason (no channel needed: ARGV 3..8 are empty)
local id, actor, reason = ARGV[9], ARGV[10], ARGV[11]
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
