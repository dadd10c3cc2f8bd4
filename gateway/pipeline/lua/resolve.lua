-- ARGV 9..: partition token subject nheld held* lacking*
-- Settles what one look-up at the peer answered for a subject's ambiguous items: those it holds
-- are delivered, those it lacks lose their ambiguity (they may be sent now). Only the lease
-- holder may settle. Returns {accepted_at (ms) of the items delivered, queues made ready,
-- 1 (or 0 when the caller no longer holds the lease: it must then send nothing, since the new
-- holder asks and sends on its own)}.
local part, token, s, nheld = ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[12])
if not owns(s, token) then return {{}, {}, 0} end
local sk = sub(ch, s)
local out, woke, settled = {}, {}, false
local top = tonumber(redis.call('HGET', sk, 'sent_ord') or '0')
for i = 13, #ARGV do
  local id = ARGV[i]
  if i < 13 + nheld and redis.call('HGET', rec(id), 'state') ~= 'delivered' then
    top = mark_delivered(s, id, top, out, woke)
    settled = true
    if mode == 'latest' then
      redis.call('HSET', sk, 'exists', '1')
      if redis.call('HGET', sk, 'pending') == id then redis.call('HSET', sk, 'pending', '') end
    end
  else
    clear_ambiguous(id, s)
  end
end
if mode ~= 'latest' then redis.call('HSET', sk, 'sent_ord', top) end
-- Work that waited for the subject (steps for their dossier) may go now: no completion need
-- follow this answer (the rest of the batch may fail), so wake it here.
if settled then wake(s, part, woke) end
redis.call('HINCRBY', ns .. ':metrics', 'reconciled|' .. ch, #out)
redis.call('HINCRBY', ns .. ':metrics', 'delivered|' .. ch, #out)
return {out, woke, 1}
