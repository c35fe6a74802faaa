-- Method calls: 3*10^6 calls of a method that updates two fields of an
-- object (a table whose metatable holds the methods).

local Vec2 = {}
Vec2.__index = Vec2

function Vec2.new(x, y)
  return setmetatable({ x = x, y = y }, Vec2)
end

function Vec2:add(dx, dy)
  self.x = self.x + dx
  self.y = self.y + dy
end

local function main()
  local v = Vec2.new(0.0, 0.0)
  for _ = 1, 3000000 do
    v:add(1.0, 0.5)
  end
  print(string.format("%.1f %.1f", v.x, v.y))
end

main()
