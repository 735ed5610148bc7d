"""Writes torch_optim.npz: PyTorch's numbers for tests/test_optim_torch.py.

Run with an environment that has torch (never a dependency of ferroprop):

    python tests/data/torch_optim.py

A 3-5-2 network (tanh, identity output, mean squared error over all elements, float64)
with fixed weights trains on 16 rows in batches of 4 in order (4 steps an epoch) with
``torch.optim.AdamW`` and ``torch.optim.SGD(weight_decay=...)`` under PyTorch's schedules,
the weights in a parameter group with ``weight_decay`` and the biases in one without (as
ferroprop decays the weights only). It records the weights after every epoch (``W`` as
ferroprop lays it out, ``(n_in, n_out)``), and the step sizes of the schedulers alone.
The single-tensor code (``foreach=False``) is PyTorch's default on the CPU.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch.optim import lr_scheduler

SIZES = (3, 5, 2)
ROWS, BATCH, EPOCHS = 16, 4, 6


def data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    out = {"X": rng.normal(size=(ROWS, SIZES[0])), "y": rng.normal(size=(ROWS, SIZES[-1]))}
    for k, (n_in, n_out) in enumerate(zip(SIZES, SIZES[1:])):
        out[f"W{k}"] = rng.normal(scale=0.5, size=(n_in, n_out))
        out[f"b{k}"] = rng.normal(scale=0.1, size=n_out)
    return out


def model(d: dict[str, np.ndarray]) -> torch.nn.Sequential:
    layers = [torch.nn.Linear(a, b, dtype=torch.float64) for a, b in zip(SIZES, SIZES[1:])]
    with torch.no_grad():
        for k, layer in enumerate(layers):
            layer.weight.copy_(torch.from_numpy(d[f"W{k}"].T))
            layer.bias.copy_(torch.from_numpy(d[f"b{k}"]))
    return torch.nn.Sequential(layers[0], torch.nn.Tanh(), layers[1])


def optimizer(net: torch.nn.Sequential, name: str, lr: float, **kw: float) -> torch.optim.Optimizer:
    decay = kw.pop("weight_decay", 0.0)
    weights = [m.weight for m in net if isinstance(m, torch.nn.Linear)]
    biases = [m.bias for m in net if isinstance(m, torch.nn.Linear)]
    groups = [{"params": weights, "weight_decay": decay}, {"params": biases, "weight_decay": 0.0}]
    if name == "adamw":
        return torch.optim.AdamW(groups, lr=lr, foreach=False, **kw)
    return torch.optim.SGD(groups, lr=lr, foreach=False, **kw)


def scheduler(opt: torch.optim.Optimizer, name: str, steps_per_epoch: int, **kw):
    """The scheduler and whether it steps by batch."""
    warmup = kw.pop("warmup", 0)
    if name == "constant":
        inner, by_batch = lr_scheduler.LambdaLR(opt, lambda e: 1.0), False
    elif name == "cosine":
        inner, by_batch = lr_scheduler.CosineAnnealingLR(opt, T_max=kw["t_max"]), False
    elif name == "step":
        inner = lr_scheduler.StepLR(opt, step_size=kw["step_size"], gamma=kw["gamma"])
        by_batch = False
    elif name == "one_cycle":
        max_lr = opt.param_groups[0]["lr"]
        inner = lr_scheduler.OneCycleLR(
            opt,
            max_lr=max_lr,
            total_steps=kw["t_max"] * steps_per_epoch,
            cycle_momentum=False,
        )
        by_batch = True
    else:
        raise ValueError(name)
    if warmup:
        # LinearLR from 1/(k+1) over k epochs, then the schedule (a fresh optimizer lr).
        warm = lr_scheduler.LinearLR(opt, start_factor=1 / (warmup + 1), total_iters=warmup)
        inner = lr_scheduler.SequentialLR(opt, [warm, inner], milestones=[warmup])
    return inner, by_batch


def train(d, name, lr, schedule, opt_kw, sched_kw, epochs=EPOCHS):
    torch.manual_seed(0)
    net = model(d)
    opt = optimizer(net, name, lr, **opt_kw)
    if schedule == "one_cycle" and sched_kw.get("warmup"):
        raise ValueError("not recorded")
    sched, by_batch = scheduler(opt, schedule, ROWS // BATCH, **dict(sched_kw))
    X, y = torch.from_numpy(d["X"]), torch.from_numpy(d["y"])
    after, first_step, lrs = [], None, []
    for _ in range(epochs):
        for start in range(0, ROWS, BATCH):
            lrs.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(
                net(X[start : start + BATCH]), y[start : start + BATCH]
            )
            loss.backward()
            opt.step()
            if by_batch:
                sched.step()
            if first_step is None:
                first_step = flat(net)
        if not by_batch:
            sched.step()
        after.append(flat(net))
    return first_step, np.array(after), np.array(lrs)


def flat(net: torch.nn.Sequential) -> np.ndarray:
    """Every W (as ferroprop lays it out) then b, layer by layer, flattened."""
    parts = []
    for m in net:
        if isinstance(m, torch.nn.Linear):
            parts += [m.weight.detach().numpy().T.ravel(), m.bias.detach().numpy().ravel()]
    return np.concatenate(parts)


# name -> (optimizer, learning rate, schedule, optimizer settings, schedule settings)
RUNS = {
    "adamw": ("adamw", 0.01, "constant", {"weight_decay": 0.1}, {}),
    "adamw_no_decay": ("adamw", 0.01, "constant", {"weight_decay": 0.0}, {}),
    "adamw_betas": (
        "adamw",
        0.02,
        "constant",
        {"weight_decay": 0.3, "betas": (0.6, 0.7), "eps": 1e-3},
        {},
    ),
    "sgd_decay": ("sgd", 0.1, "constant", {"weight_decay": 0.05}, {}),
    "sgd_decay_momentum": (
        "sgd",
        0.05,
        "constant",
        {"weight_decay": 0.05, "momentum": 0.9, "nesterov": True},
        {},
    ),
    "adamw_cosine": ("adamw", 0.01, "cosine", {"weight_decay": 0.1}, {"t_max": 4}),
    "adamw_step": ("adamw", 0.01, "step", {"weight_decay": 0.1}, {"step_size": 2, "gamma": 0.5}),
    "adamw_one_cycle": ("adamw", 0.01, "one_cycle", {"weight_decay": 0.1}, {"t_max": EPOCHS}),
    "adamw_warmup_cosine": (
        "adamw",
        0.01,
        "cosine",
        {"weight_decay": 0.1},
        {"warmup": 2, "t_max": EPOCHS - 2},
    ),
    "sgd_one_cycle": ("sgd", 0.2, "one_cycle", {}, {"t_max": EPOCHS}),
    "sgd_warmup_step": ("sgd", 0.1, "step", {}, {"warmup": 1, "step_size": 2, "gamma": 0.5}),
}

# Step sizes of the schedulers alone (one per epoch, or per batch for one_cycle).
SEQUENCES = {
    "cosine": ("cosine", 30, 1, {"t_max": 10}),
    "step": ("step", 12, 1, {"step_size": 3, "gamma": 0.5}),
    "one_cycle": ("one_cycle", 10, 7, {"t_max": 10}),
    "warmup_cosine": ("cosine", 12, 1, {"warmup": 3, "t_max": 9}),
    "warmup_step": ("step", 9, 1, {"warmup": 2, "step_size": 3, "gamma": 0.1}),
    "warmup_constant": ("constant", 6, 1, {"warmup": 4}),
}
ETA0 = 0.5


def sequence(schedule: str, epochs: int, batches: int, kw: dict) -> np.ndarray:
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=ETA0)
    sched, by_batch = scheduler(opt, schedule, batches, **dict(kw))
    lrs = []
    for _ in range(epochs):
        for _ in range(batches):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            if by_batch:
                sched.step()
        if not by_batch:
            sched.step()
    return np.array(lrs)


def main() -> None:
    d = data()
    out = dict(d)
    for name, (opt, lr, schedule, opt_kw, sched_kw) in RUNS.items():
        first, after, lrs = train(d, opt, lr, schedule, dict(opt_kw), sched_kw)
        out[f"run_{name}_first_step"] = first
        out[f"run_{name}_epochs"] = after
        out[f"run_{name}_lrs"] = lrs
    for name, (schedule, epochs, batches, kw) in SEQUENCES.items():
        out[f"lrs_{name}"] = sequence(schedule, epochs, batches, kw)
    out["torch_version"] = np.array(torch.__version__)
    path = Path(__file__).with_suffix(".npz")
    np.savez_compressed(path, **out)
    print(f"wrote {path} ({len(out)} arrays)")
    assert math.isclose(out["lrs_cosine"][0], ETA0)


if __name__ == "__main__":
    main()
