"""AdamW, SGD's weight decay and the schedules against PyTorch's numbers: those recorded in
tests/data/torch_optim.npz by tests/data/torch_optim.py, always, and PyTorch live when it
imports. PyTorch's step kernels use fused multiply-adds (``lerp``, ``add`` with ``alpha``)
where ferroprop rounds each operation: the weights differ by a few units in the last place
after each step, hence the tolerances (measured: at most 2e-16 absolute after 24 steps)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ferroprop import Network, reference

DATA = Path(__file__).parent / "data"
TORCH = np.load(DATA / "torch_optim.npz")
SIZES, BATCH, EPOCHS = (3, 5, 2), 4, 6

# The runs of the generator's RUNS, as Network.fit's settings.
RUNS = {
    "adamw": dict(optimizer="adamw", learning_rate=0.01, weight_decay=0.1),
    "adamw_no_decay": dict(optimizer="adamw", learning_rate=0.01),
    "adamw_betas": dict(
        optimizer="adamw",
        learning_rate=0.02,
        weight_decay=0.3,
        beta_1=0.6,
        beta_2=0.7,
        epsilon=1e-3,
    ),
    "sgd_decay": dict(optimizer="sgd", learning_rate=0.1, weight_decay=0.05),
    "sgd_decay_momentum": dict(
        optimizer="sgd", learning_rate=0.05, weight_decay=0.05, momentum=0.9, nesterov=True
    ),
    "adamw_cosine": dict(
        optimizer="adamw", learning_rate=0.01, weight_decay=0.1, schedule="cosine", t_max=4
    ),
    "adamw_step": dict(
        optimizer="adamw",
        learning_rate=0.01,
        weight_decay=0.1,
        schedule="step",
        step_size=2,
        gamma=0.5,
    ),
    "adamw_one_cycle": dict(
        optimizer="adamw", learning_rate=0.01, weight_decay=0.1, schedule="one_cycle"
    ),
    "adamw_warmup_cosine": dict(
        optimizer="adamw", learning_rate=0.01, weight_decay=0.1, schedule="cosine", warmup=2
    ),
    "sgd_one_cycle": dict(optimizer="sgd", learning_rate=0.2, schedule="one_cycle"),
    "sgd_warmup_step": dict(
        optimizer="sgd", learning_rate=0.1, schedule="step", warmup=1, step_size=2, gamma=0.5
    ),
}
# The generator's SEQUENCES, as (epochs, batches per epoch, Network.fit's settings).
SEQUENCES = {
    "cosine": (30, 1, dict(schedule="cosine", t_max=10)),
    "step": (12, 1, dict(schedule="step", step_size=3, gamma=0.5)),
    "one_cycle": (10, 7, dict(schedule="one_cycle", t_max=10)),
    "warmup_cosine": (12, 1, dict(schedule="cosine", warmup=3, t_max=9)),
    "warmup_step": (9, 1, dict(schedule="step", warmup=2, step_size=3, gamma=0.1)),
    "warmup_constant": (6, 1, dict(warmup=4)),
}
ETA0 = 0.5
# Weights: a few ulps of PyTorch's per step (fused multiply-adds); step sizes: PyTorch's
# schedulers update the step size by recurrences (lr · ratio), the formulas here are closed.
WEIGHTS_TOL = dict(rtol=1e-12, atol=1e-15)
LRS_TOL = dict(rtol=1e-13, atol=1e-16)


def network(data=TORCH):
    net = Network(list(SIZES), ["tanh", "identity"], "mean_squared_error", seed=0)
    net.set_weights([(data["W0"], data["b0"]), (data["W1"], data["b1"])])
    return net


def flat(net):
    return np.concatenate([np.concatenate([W.ravel(), b.ravel()]) for W, b in net.get_weights()])


def ferroprop_run(settings, data=TORCH):
    """The weights after each epoch (published to the network before the callback), the
    weights after the first step alone, and the step size of each epoch."""
    X, y = data["X"], data["y"]
    net = network(data)
    epochs = []
    net.fit(
        X,
        y,
        epochs=EPOCHS,
        batch_size=BATCH,
        shuffle=False,
        callback=lambda e, loss: epochs.append(flat(net)),
        **settings,
    )
    lrs = net.history_["learning_rate"]
    first = network(data)
    # One step on the first batch; one_cycle's first step is η₀/25 over any length.
    first.fit(X[:BATCH], y[:BATCH], epochs=1, **{"t_max": EPOCHS, **settings})
    return np.array(epochs), flat(first), np.array(lrs)


def compare_run(name, torch_epochs, torch_first, torch_lrs):
    epochs, first, lrs = ferroprop_run(RUNS[name])
    np.testing.assert_allclose(first, torch_first, **WEIGHTS_TOL)
    np.testing.assert_allclose(epochs, torch_epochs, **WEIGHTS_TOL)
    np.testing.assert_allclose(lrs, torch_lrs[::BATCH], **LRS_TOL)
    return np.abs(epochs - torch_epochs).max()


@pytest.mark.parametrize("name", list(RUNS))
def test_weights_and_step_sizes_match_pytorchs(name):
    """AdamW and SGD with weight decay, alone and under the schedules: the weights after
    one step and after every epoch of four steps, and each epoch's step size."""
    compare_run(
        name,
        TORCH[f"run_{name}_epochs"],
        TORCH[f"run_{name}_first_step"],
        TORCH[f"run_{name}_lrs"],
    )


@pytest.mark.parametrize("name", list(SEQUENCES))
def test_step_sizes_match_pytorchs_schedulers(name):
    """The reference's formulas and ferroprop's step sizes (each epoch's first batch) give
    PyTorch's schedulers' sequences, cosine past T_max and one_cycle by batch included."""
    epochs, batches, settings = SEQUENCES[name]
    want = TORCH[f"lrs_{name}"]
    schedule = settings.get("schedule", "constant")
    ref_settings = {k: v for k, v in settings.items() if k != "schedule"}
    np.testing.assert_allclose(
        reference.schedule_lrs(schedule, ETA0, epochs, batches, **ref_settings).ravel(),
        want,
        **LRS_TOL,
    )
    net = Network([1, 1], ["identity"], "mean_squared_error", seed=0)
    X, y = np.zeros((batches, 1)), np.zeros((batches, 1))
    net.fit(X, y, epochs=epochs, learning_rate=ETA0, batch_size=1, **settings)
    np.testing.assert_allclose(net.history_["learning_rate"], want[::batches], **LRS_TOL)


def test_pytorch_live():
    """The generator's runs with the PyTorch installed: ferroprop against it directly."""
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("torch_optim", DATA / "torch_optim.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    data = generator.data()
    for name in RUNS:
        np.testing.assert_array_equal(data["X"], TORCH["X"])
        optimizer, lr, schedule, opt_kw, sched_kw = generator.RUNS[name]
        first, epochs, lrs = generator.train(data, optimizer, lr, schedule, dict(opt_kw), sched_kw)
        compare_run(name, epochs, first, lrs)
    for name, (schedule, epochs, batches, kw) in generator.SEQUENCES.items():
        live = generator.sequence(schedule, epochs, batches, kw)
        np.testing.assert_allclose(live, TORCH[f"lrs_{name}"], **LRS_TOL)
