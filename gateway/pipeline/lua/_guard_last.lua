-- A fragment run between _prelude.lua and accept.lua (gateway/payments/national.py composes
-- them): accept only if the subject's latest accepted state is still the one the new state was
-- derived from. ARGV after accept's own: the subject, then the item id it was derived from.
-- Returns 'conflict' (nothing stored) when a newer state arrived in between.
local guard_subject, guard_base = ARGV[#ARGV - 1], ARGV[#ARGV]
if redis.call('HGET', sub(ch, guard_subject), 'last') ~= guard_base then return 'conflict' end
