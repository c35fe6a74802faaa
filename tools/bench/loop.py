# A 10^7-iteration numeric loop: an integer recurrence and a float sum
# fed by an int-to-float conversion.


def main():
    k = 0
    s = 0.0
    for i in range(10_000_000):
        k = (k * 31 + i) % 1000003
        s += (i % 7) * 0.5
    print(f"{k} {s:.1f}")


main()
