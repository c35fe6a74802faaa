# Method calls: 3*10^6 calls of a method that updates two attributes of
# an object.


class Vec2:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def add(self, dx, dy):
        self.x += dx
        self.y += dy


def main():
    v = Vec2(0.0, 0.0)
    for _ in range(3_000_000):
        v.add(1.0, 0.5)
    print(f"{v.x:.1f} {v.y:.1f}")


main()
