-- String building: 10^6 small formatted pieces collected in a table and
-- joined once with table.concat, then the length of the result.

local function main()
  local parts = {}
  for i = 0, 1000000 - 1 do
    parts[#parts + 1] = string.format("%d:%d,", i, i % 97)
  end
  local s = table.concat(parts)
  print(#s)
end

main()
