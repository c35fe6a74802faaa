-- A 10^7-iteration numeric loop: an integer recurrence and a float sum
-- fed by an int-to-float conversion.

local function main()
  local k = 0
  local s = 0.0
  for i = 0, 10000000 - 1 do
    k = (k * 31 + i) % 1000003
    s = s + (i % 7) * 0.5
  end
  print(string.format("%d %.1f", k, s))
end

main()
