"""The PyTorch half of tests/torch/compare.sh.

    python3 tests/torch/compare.py OUTDIR

OUTDIR holds what tests/torch/steps.ns wrote. The same training runs and
single ops are repeated with torch (float32, one thread) from the same
initial weights and data; every loss, final weight, op output and gradient
must agree within RTOL/ATOL. Prints the largest absolute difference of each
tensor and exits 1 on any mismatch.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

RTOL = 1e-4
ATOL = 1e-5
STEPS = 5

torch.set_num_threads(1)
out_dir = sys.argv[1]
failures = []


def load(name):
    return torch.from_numpy(np.load(os.path.join(out_dir, name + ".npy")))


def check(label, ours, ref):
    ref = ref.detach().to(torch.float64).numpy()
    ours = ours.detach().to(torch.float64).numpy()
    if ours.shape != ref.shape:
        failures.append(label)
        print(f"FAIL {label}: shape {ours.shape}, torch {ref.shape}")
        return
    diff = float(np.max(np.abs(ours - ref))) if ours.size else 0.0
    ok = np.allclose(ours, ref, rtol=RTOL, atol=ATOL)
    print(f"{'ok  ' if ok else 'FAIL'} {label:34s} max |diff| {diff:.3e}")
    if not ok:
        failures.append(label)


# ---- training runs --------------------------------------------------------

RUNS = {
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd_dampening": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_plain": lambda p: torch.optim.SGD(p, lr=0.2),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.01),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01),
    "rmsprop_momentum": lambda p: torch.optim.RMSprop(p, lr=0.005, momentum=0.9, weight_decay=0.01),
}

x = load("data_x")
y = load("data_y")
t = load("data_t")
init = [load(f"init_{i}") for i in range(4)]

for kind, make in RUNS.items():
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))
    params = list(model.parameters())
    with torch.no_grad():
        for p, v in zip(params, init):
            p.copy_(v)
    opt = make(params)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        out = model(x)
        loss = F.mse_loss(out, t) if kind == "rmsprop" else F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    check(f"{kind} losses", load(f"{kind}_loss"), torch.tensor(losses, dtype=torch.float64))
    for i, p in enumerate(params):
        check(f"{kind} param {i}", load(f"{kind}_p{i}"), p)

# ---- single ops -----------------------------------------------------------


def leaf(name):
    return load(name).clone().requires_grad_(True)


def op(name, fn, has_w=False):
    """Recomputes y = fn(x[, w]) and the gradients of sum(y * r)."""
    xs = leaf(f"op_{name}_x")
    args = [xs]
    if has_w:
        ws = leaf(f"op_{name}_w")
        args.append(ws)
    y_ref = fn(*args)
    (y_ref * load(f"op_{name}_r")).sum().backward()
    check(f"{name} y", load(f"op_{name}_y"), y_ref)
    check(f"{name} grad x", load(f"op_{name}_gx"), xs.grad)
    if has_w:
        check(f"{name} grad w", load(f"op_{name}_gw"), ws.grad)
    return args


op("matmul", torch.matmul, has_w=True)
op("matmul_batched", torch.matmul, has_w=True)
op("softmax", lambda a: torch.softmax(a, 1))
op("softmax0", lambda a: torch.softmax(a, 0))
op("log_softmax", lambda a: torch.log_softmax(a, 1))
op("conv2d", F.conv2d, has_w=True)
op("conv2d_s2p1", lambda a, w: F.conv2d(a, w, stride=2, padding=1), has_w=True)
op("maxpool2d", lambda a: F.max_pool2d(a, 2, 2))
op("maxpool2d_k3s2", lambda a: F.max_pool2d(a, 3, 2))
labels = load("op_cross_entropy_labels")
op("cross_entropy", lambda a: F.cross_entropy(a, labels).reshape(1))
op("gelu", lambda a: F.gelu(a, approximate="tanh"))
op("silu", F.silu)

beta = leaf("op_layer_norm_b")
op("layer_norm", lambda a, g: F.layer_norm(a, (a.shape[-1],), g, beta, eps=1e-5), has_w=True)
check("layer_norm grad beta", load("op_layer_norm_gb"), beta.grad)

beta = leaf("op_batch_norm_b")
rm = torch.zeros(6)
rv = torch.ones(6)
xs, _ = op("batch_norm", lambda a, g: F.batch_norm(a, rm, rv, g, beta, training=True, momentum=0.1, eps=1e-5),
           has_w=True)
check("batch_norm grad beta", load("op_batch_norm_gb"), beta.grad)
check("batch_norm running_mean", load("op_batch_norm_running_mean"), rm)
check("batch_norm running_var", load("op_batch_norm_running_var"), rv)
with torch.no_grad():
    y_eval = F.batch_norm(xs, rm, rv, load("op_batch_norm_w"), load("op_batch_norm_b"), training=False, eps=1e-5)
check("batch_norm eval y", load("op_batch_norm_eval_y"), y_eval)

if failures:
    print(f"{len(failures)} of the comparisons with PyTorch failed: {', '.join(failures)}")
    sys.exit(1)
print("all comparisons with PyTorch agree")
