"""The PyTorch twin of train.ns (tools/bench/torch/run.py runs both).

    python3 train.py THREADS DIR ARCH BATCH OPT LR EPOCHS STEPS LOSS

Loads the data and initial parameters that `train.ns prep` wrote into DIR
and does the same training as `train.ns train`: the same model (ARCH "cnn",
or an MLP's layer sizes with ReLU between layers and none at the output),
float32, batches in order, step 0 an untimed warm-up. Prints one JSON line.
"""
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def model_from_npy(arch, load):
    """The model of train.ns's build(arch) with the initial weights
    NeuralScript wrote: p0, p1, ... in parameter order."""
    nn = torch.nn
    if arch == "cnn":
        model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(),
                              nn.Linear(32 * 7 * 7, 128), nn.ReLU(),
                              nn.Linear(128, 10))
    else:
        sizes = [int(s) for s in arch.split(",")]
        layers = []
        for i in range(len(sizes) - 1):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        model = nn.Sequential(*layers)
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(load("p%d" % i))
    return model


def main(argv):
    threads, d, arch, batch, opt_kind, lr, epochs, steps_arg, loss_kind = argv
    torch.set_num_threads(int(threads))
    batch, epochs, steps_arg, lr = int(batch), int(epochs), int(steps_arg), float(lr)

    load = lambda name: torch.from_numpy(np.load(os.path.join(d, name + ".npy")))
    x = load("x")
    target = load("y") if loss_kind == "ce" else load("t")
    model = model_from_npy(arch, load)
    params = list(model.parameters())
    if opt_kind == "adam":
        opt = torch.optim.Adam(params, lr=lr)
    elif opt_kind == "sgdm":
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    else:
        raise SystemExit("unknown optimizer " + opt_kind)
    n = x.shape[0]
    xs = [x[s:s + batch].clone() for s in range(0, n, batch)]
    ts = [target[s:s + batch].clone() for s in range(0, n, batch)]
    nb = len(xs)
    steps = steps_arg if steps_arg > 0 else epochs * nb
    if steps < 2:
        raise SystemExit("%d steps: at least 2 are needed (step 0 is the untimed warm-up)" % steps)
    losses = []
    samples = 0
    t0 = time.perf_counter()
    for s in range(steps):
        b = s % nb
        opt.zero_grad()
        out = model(xs[b])
        loss = F.cross_entropy(out, ts[b]) if loss_kind == "ce" else F.mse_loss(out, ts[b])
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if s == 0:
            t0 = time.perf_counter()
        else:
            samples += xs[b].shape[0]
    secs = time.perf_counter() - t0
    k = min(nb, steps - 1)
    w = min(10, steps)
    chunks = min(20, steps)
    curve = []
    for c in range(chunks):
        lo, hi = c * steps // chunks, (c + 1) * steps // chunks
        curve.append(sum(losses[lo:hi]) / (hi - lo))
    print(json.dumps({"side": "torch", "samples_per_s": samples / secs, "train_s": secs, "steps": steps,
                      "samples": samples, "loss_start": losses[0], "loss_early": sum(losses[:w]) / w,
                      "loss_end": sum(losses[-k:]) / k, "loss_curve": curve}))


if __name__ == "__main__":
    main(sys.argv[1:])
