"""The largest differences between ferroprop and PyTorch for the activations gelu, silu,
elu, softplus, exp, sigmoid, tanh and the losses huber, mean_absolute_error, poisson (from
the numbers in tests/data/torch_activations_losses.npz), and between
``MLPRegressor(loss="poisson")`` and scikit-learn's. Asserts nothing
(tests/test_activations_losses.py does); prints a table.

    python benches/activations_agreement.py
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ferroprop import Network

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "torch_activations_losses.npz"


def activation(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """f(z) and f'(z) from a one-unit hidden layer with W = 1, b = 0 (see the test's
    ``activation_and_derivative``: the mean absolute error against far targets makes the
    layer's da exactly 1/N, N a power of two)."""
    n = len(z)
    net = Network([1, 1, 1], [name, "identity"], "mean_absolute_error", seed=0)
    one, zero = np.ones((1, 1)), np.zeros(1)
    net.set_weights([(one, zero), (one, zero)])
    net.forward(z.reshape(-1, 1))
    net.backward(np.full((n, 1), -1e300))
    return net.layers[0].a.ravel(), net.layers[0].dz.ravel() * n


def torch_table() -> None:
    d = np.load(DATA)
    print(f"PyTorch {d['torch_version']} (float64)")
    for name in ["gelu", "silu", "elu", "softplus", "exp", "sigmoid", "tanh"]:
        z, value, grad = d["z"], d[f"{name}_value"], d[f"{name}_grad"]
        keep = np.isfinite(value) & ((np.abs(z) <= 500) | (name != "sigmoid"))
        z, value, grad = (np.resize(v[keep], 256) for v in (z, value, grad))
        a, da = activation(name, z)

        def ulps(x: np.ndarray, w: np.ndarray) -> float:
            return float(np.max(np.abs(x - w) / np.spacing(np.maximum(np.abs(w), 1.0))))

        print(
            f"  {name:9s} f: {ulps(a, value):4.1f} ulp of max(|f|, 1)   "
            f"f': {ulps(da, grad):4.1f} ulp of max(|f'|, 1)"
        )
    for loss in ["huber", "mean_absolute_error"]:
        yhat, y = d["yhat"], d["y"]
        net = Network([3, 3], ["identity"], loss, seed=0)
        net.set_weights([(np.eye(3), np.zeros(3))])
        net.forward(yhat)
        net.backward(y)
        value = abs(net.loss(yhat, y) / float(d[f"{loss}_value"]) - 1)
        grad = np.max(np.abs(net.layers[0].dz - d[f"{loss}_grad"]))
        print(f"  {loss}: value relative {value:.2g}, gradient absolute {grad:.2g}")
    z, counts = d["log_mean"], d["counts"]
    net = Network([3, 3], ["exp"], "poisson", seed=0)
    net.set_weights([(np.eye(3), np.zeros(3))])
    net.forward(z)
    net.backward(counts)
    logs = np.log(np.where(counts > 0, counts, 1.0))
    constant = np.mean(counts * logs - counts)
    value = abs((net.loss(z, counts) - constant) / float(d["poisson_nll_value"]) - 1)
    grad = np.max(np.abs(net.layers[0].dz - d["poisson_nll_grad_z"]))
    print(
        f"  poisson (PoissonNLLLoss on log ŷ): value relative {value:.2g}, dz absolute {grad:.2g}"
    )


def sklearn_table() -> None:
    from sklearn.neural_network import MLPRegressor as Theirs

    from ferroprop.sklearn import MLPRegressor as Ours

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y1 = rng.poisson(np.exp(X[:, 0] * 0.5)).astype(float)
    y2 = np.c_[y1, rng.poisson(np.exp(X[:, 1] * 0.3))].astype(float)
    w = rng.uniform(0.2, 2, size=120)
    print('MLPRegressor(loss="poisson") against scikit-learn\'s (float64)')
    cases: list[tuple[str, np.ndarray, Any, dict[str, Any]]] = [
        ("sgd", y1, None, dict(solver="sgd")),
        ("adam", y1, None, dict(solver="adam")),
        ("adam, 2 outputs", y2, None, dict(solver="adam")),
        ("sgd, 2 outputs, alpha=0.1", y2, None, dict(solver="sgd", alpha=0.1)),
        ("sgd, sample weights", y2, w, dict(solver="sgd")),
        ("adam, early stopping", y1, None, dict(solver="adam", early_stopping=True, max_iter=30)),
        ("lbfgs, 2 outputs", y2, None, dict(solver="lbfgs", max_iter=20)),
        ("sgd, tanh", y1, None, dict(solver="sgd", activation="tanh")),
    ]
    for label, y, sw, params in cases:
        kw: dict[str, Any] = dict(
            hidden_layer_sizes=(6,),
            loss="poisson",
            max_iter=8,
            shuffle=False,
            random_state=0,
            learning_rate_init=0.01,
            batch_size=32,
        )
        kw.update(params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours, theirs = (
                Ours(**kw).fit(X, y, sample_weight=sw),
                Theirs(**kw).fit(X, y, sample_weight=sw),
            )
        if kw["solver"] == "lbfgs":
            curve = abs(ours.loss_ / theirs.loss_ - 1)
        else:
            curve = np.max(np.abs(np.array(ours.loss_curve_) / theirs.loss_curve_ - 1))
        params_ = zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_)
        weights = max(float(np.max(np.abs(a - b))) for a, b in params_)
        pred = np.max(np.abs(ours.predict(X) / theirs.predict(X) - 1))
        print(
            f"  {label:27s} loss relative {curve:.2g}   weights absolute {weights:.2g}   "
            f"predict relative {pred:.2g}"
        )


if __name__ == "__main__":
    torch_table()
    sklearn_table()
