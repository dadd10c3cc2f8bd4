-- ARGV 9..: partition token subject lease_ms nheld held* lacking*
-- Settles what one look-up at the peer answered for a subject's ambiguous items: those it holds
-- are delivered, those it lacks lose their ambiguity (they may be sent now). Only the lease
-- holder may settle. Returns {accepted_at (ms) of the items delivered, queues made ready,
-- 1 (or 0 when the caller no longer holds the lease: it must then send nothing, since the new
-- holder asks and sends on its own)}.
-- The holder's lease starts again here: the look-up and the send that follows are each bounded
-- by the connector's max_call_seconds, which the lease must exceed (checked at start-up), but
-- the two together are not. Without this, a send after a slow look-up could outlive the lease,
-- and a second worker would ask the peer while the first send is still on the wire. No other
-- worker can hold the subject now: a claim or sweep that lapsed the lease removed our token.
local part, token, s, nheld = ARGV[9], ARGV[10], ARGV[11], tonumber(ARGV[13])
if not owns(s, token) then return {{}, {}, 0} end
local sk = sub(ch, s)
local expiry = tonumber(now) + tonumber(ARGV[12])
redis.call('HSET', sk, 'lease', expiry)
redis.call('ZADD', ns .. ':leases', expiry, ch .. '|' .. part .. '|' .. s)
local out, woke, settled = {}, {}, false
local top = tonumber(redis.call('HGET', sk, 'sent_ord') or '0')
for i = 14, #ARGV do
  local id = ARGV[i]
  if i < 14 + nheld and redis.call('HGET', rec(id), 'state') ~= 'delivered' then
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
