-- Settling scripts take a tail {subject k id*k}*n starting at ARGV[i].
local function each(i, fn)
  local n = tonumber(ARGV[i])
  local p = i + 1
  for _ = 1, n do
    local s, k = ARGV[p], tonumber(ARGV[p + 1])
    local ids = {}
    for j = 1, k do ids[j] = ARGV[p + 1 + j] end
    fn(s, ids)
    p = p + 2 + k
  end
end
