# String building: 10^6 small formatted pieces collected in a list and
# joined once with str.join, then the length of the result.


def main():
    parts = []
    for i in range(1_000_000):
        parts.append(f"{i}:{i % 97},")
    s = "".join(parts)
    print(len(s))


main()
