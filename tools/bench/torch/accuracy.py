"""The PyTorch twin of accuracy.ns (tools/bench/torch/run.py --accuracy).

    python3 accuracy.py THREADS DIR SIZES BATCH LR EPOCHS

Loads what `accuracy.ns prep` wrote into DIR, trains the same MLP the same
way (SGD momentum 0.9, cross-entropy, batches in order, float32) for EPOCHS
epochs and prints one JSON line with the test accuracy.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from train import model_from_npy


def main(argv):
    threads, d, sizes, batch, lr, epochs = argv
    torch.set_num_threads(int(threads))
    batch, lr, epochs = int(batch), float(lr), int(epochs)
    load = lambda name: torch.from_numpy(np.load(os.path.join(d, name + ".npy")))
    x, y = load("x"), load("y")
    model = model_from_npy(sizes, load)
    params = list(model.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    xs = [x[s:s + batch].clone() for s in range(0, x.shape[0], batch)]
    ys = [y[s:s + batch].clone() for s in range(0, y.shape[0], batch)]
    t0 = time.perf_counter()
    last = 0.0
    for _ in range(epochs):
        total = 0.0
        for xb, yb in zip(xs, ys):
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item()
        last = total / len(xs)
    secs = time.perf_counter() - t0
    with torch.no_grad():
        acc = (model(load("xt")).argmax(1) == load("yt")).double().mean().item()
    print(json.dumps({"side": "torch", "test_accuracy": acc, "loss_end": last, "train_s": secs}))


if __name__ == "__main__":
    main(sys.argv[1:])
