"""The PyTorch twin of gemm.ns (tools/bench/torch/run.py --gemm).

    python3 gemm.py THREADS REPS SIZES

Times torch.mm of two float32 N(0, 1) [n, n] tensors the way gemm.ns times
`a ⊙ b`: one untimed warm-up, REPS timed repetitions of enough products to
take at least 50 ms (doubled until they do), GFLOP/s (2n³/t) of the median; then the 1000×1000 product
alone, REPS times. Prints one JSON line.
"""
import json
import statistics
import sys
import time

import torch


def time_mm(a, b, inner, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            torch.mm(a, b)
        ts.append((time.perf_counter() - t0) / inner)
    return statistics.median(ts)


def main(argv):
    threads, reps, sizes = int(argv[0]), int(argv[1]), [int(s) for s in argv[2].split(",")]
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    gflops = {}
    for n in sizes:
        a = torch.randn(n, n)
        b = torch.randn(n, n)
        torch.mm(a, b)
        inner = 1
        while time_mm(a, b, inner, 1) * inner < 0.05:
            inner *= 2
        gflops[str(n)] = 2.0 * n ** 3 / time_mm(a, b, inner, reps) / 1e9
    a = torch.randn(1000, 1000)
    b = torch.randn(1000, 1000)
    torch.mm(a, b)
    print(json.dumps({"side": "torch", "gflops": gflops, "mm1000_ms": time_mm(a, b, 1, reps) * 1000.0}))


if __name__ == "__main__":
    main(sys.argv[1:])
