-- A fragment run between _prelude.lua and accept.lua (scripts.py composes "accept_pinned" for
-- Outbox.accept(pins=…)): accept only if the channel's pins still hold what the caller read
-- and applied to the items. A pin is a value per subject (ns:pins:<channel>, subject -> value)
-- that states accepted later must carry: the payment flag of a paid dossier (gateway/service.py).
-- ARGV after accept's own: subject, value ('' none) pairs, then their count. Returns 'conflict'
-- (nothing stored) when a pin changed in between; the caller reads the pins again.
local pin_n = tonumber(ARGV[#ARGV])
local pin_key = ns .. ':pins:' .. ch
for j = 0, pin_n - 1 do
  local at = #ARGV - 2 * pin_n + 2 * j
  if (redis.call('HGET', pin_key, ARGV[at]) or '') ~= ARGV[at + 1] then return 'conflict' end
end
