"""What one call costs: a ``fit`` on one batch against that batch's share of a longer fit,
``MLPClassifier.partial_fit`` on one batch against scikit-learn's, and ``predict`` of a
batch against NumPy's forward pass.

This is a benchmark, not a test: it asserts nothing. Run it from the repository root::

    .venv/bin/python benches/per_call.py            # about a minute
    .venv/bin/python benches/per_call.py --rounds 3

``partial_fit``, streaming and out-of-core users pay the per-call cost on every batch: the
arguments' checks, the private copy of the network that ``fit`` trains, the buffers of
the passes (kept between fits of the same batch size, see ``FitBuffers`` in
``src/train/mod.rs``), waking the threads. Methodology: the same network, plain SGD, rows
in order. A round times ``--calls`` one-batch fits (each on the same batch) and one fit
over 32 batches, whose time / 32 is the share; the median over rounds is reported, with
their ratio. For ``partial_fit``, a round times 20 calls of each estimator in turn (the
thread pools left to settle between them), on the next 20 batches of a stream; medians.
For ``predict``, a round times back-to-back calls on one batch, as a serving loop makes
them, then the same forward pass written with NumPy (``X @ W + b``, ``np.maximum``, a
softmax) on the same weights; the pools settle before each block (a call run while
OpenBLAS's threads spin after NumPy's products takes up to twice as long); medians.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

FITS = [
    # sizes, batch size, output activation, loss
    ((784, 1024, 1024, 10), 256, "softmax", "cross_entropy"),
    ((64, 256, 256, 10), 128, "softmax", "cross_entropy"),
    ((32, 64, 1), 32, "sigmoid", "binary_cross_entropy"),
]
PARTIAL_FITS = [((64,), 32), ((256, 256), 128)]
PREDICTS = [((64, 256, 256, 10), (16, 256, 1024, 4096)), ((784, 1024, 1024, 10), (16, 256, 1024))]


def settle(seconds: float = 0.3) -> None:
    """Let the thread pools of the last call (OpenBLAS spins ~0.1 s) go idle."""
    time.sleep(seconds)


def seconds_per_call(call: Callable[[int], object], calls: int) -> float:
    """The time of ``call(0)``, ..., ``call(calls - 1)`` back to back, per call, once the
    thread pools have settled."""
    settle()
    t0 = time.perf_counter()
    for k in range(calls):
        call(k)
    return (time.perf_counter() - t0) / calls


def partial_fit_batch(est: Any, X: np.ndarray, y: np.ndarray, batch: int, k: int) -> None:
    """``est.partial_fit`` on batch ``k`` of ``X`` and ``y``."""
    est.partial_fit(X[k * batch : (k + 1) * batch], y[k * batch : (k + 1) * batch])


def one_batch_fits(rounds: int) -> None:
    from ferroprop import Network

    print("## One fit call on one batch, against its share of a fit over 32 batches\n")
    print("| network | batch | one call (ms) | share (ms) | ratio |")
    print("|---|--:|--:|--:|--:|")
    rng = np.random.default_rng(0)
    for sizes, batch, out, loss in FITS:
        n = 32 * batch
        X = rng.standard_normal((n, sizes[0]))
        y = rng.integers(0, sizes[-1], n) if sizes[-1] > 1 else rng.integers(0, 2, (n, 1)) * 1.0
        net = Network(list(sizes), ["relu"] * (len(sizes) - 2) + [out], loss, seed=0)
        kw = dict(batch_size=batch, shuffle=False, optimizer="sgd", learning_rate=1e-3, seed=0)
        Xb, yb = X[:batch].copy(), y[:batch].copy()
        calls = 8 if sizes[0] > 500 else 64
        net.fit(X, y, epochs=1, **kw)
        ones, shares = [], []
        for _ in range(rounds):
            settle()
            t0 = time.perf_counter()
            for _ in range(calls):
                net.fit(Xb, yb, epochs=1, **kw)
            ones.append((time.perf_counter() - t0) / calls)
            settle()
            t0 = time.perf_counter()
            net.fit(X, y, epochs=1, **kw)
            shares.append((time.perf_counter() - t0) / 32)
        one, share = statistics.median(ones), statistics.median(shares)
        name = "-".join(map(str, sizes))
        print(f"| {name} | {batch} | {one * 1e3:.3f} | {share * 1e3:.3f} | ×{one / share:.2f} |")
    print()


def partial_fits(rounds: int) -> None:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from ferroprop.sklearn import MLPClassifier

    print("## MLPClassifier.partial_fit on one batch (32 features, 10 classes)\n")
    print("| hidden | batch | ferroprop (ms) | scikit-learn (ms) | scikit-learn / ferroprop |")
    print("|---|--:|--:|--:|--:|")
    rng = np.random.default_rng(0)
    for hidden, batch in PARTIAL_FITS:
        n = 20 * batch
        X, y = rng.standard_normal((n, 32)), rng.integers(0, 10, n)
        estimators = [
            cls(hidden_layer_sizes=hidden, random_state=0) for cls in (MLPClassifier, SklearnMLP)
        ]
        for est in estimators:
            est.partial_fit(X[:batch], y[:batch], classes=np.arange(10))
        times: list[list[float]] = [[], []]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            for r in range(rounds):
                for i in (r % 2, 1 - r % 2):
                    feed = partial(partial_fit_batch, estimators[i], X, y, batch)
                    times[i].append(seconds_per_call(feed, 20))
        ours, theirs = statistics.median(times[0]), statistics.median(times[1])
        print(
            f"| {hidden} | {batch} | {ours * 1e3:.3f} | {theirs * 1e3:.3f} | ×{theirs / ours:.2f} |"
        )
    print()


def numpy_forward(params: list[tuple[np.ndarray, np.ndarray]], X: np.ndarray) -> np.ndarray:
    """The forward pass of a ReLU network with a softmax output, in NumPy."""
    a = X
    for W, b in params[:-1]:
        a = np.maximum(a @ W + b, 0)
    z = a @ params[-1][0] + params[-1][1]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def predicts(rounds: int) -> None:
    from ferroprop import Network

    print("## predict of a batch, back to back, against NumPy's forward pass\n")
    print("| network | dtype | rows | ferroprop (ms) | NumPy (ms) | NumPy / ferroprop |")
    print("|---|---|--:|--:|--:|--:|")
    rng = np.random.default_rng(0)
    for sizes, row_counts in PREDICTS:
        for dtype in ("float64", "float32"):
            net = Network(list(sizes), ["relu"] * (len(sizes) - 2) + ["softmax"], dtype=dtype)
            forward = partial(numpy_forward, net.get_weights())
            for rows in row_counts:
                X = rng.standard_normal((rows, sizes[0])).astype(dtype)
                macs = rows * sum(a * b for a, b in zip(sizes, sizes[1:]))
                calls = max(20, int(1e8 / macs))
                # the two compute the same thing
                tol = 1e-4 if dtype == "float32" else 1e-10
                np.testing.assert_allclose(net.predict(X), forward(X), rtol=tol, atol=tol)
                times: list[list[float]] = [[], []]
                for _ in range(rounds):
                    for i, call in ((0, net.predict), (1, forward)):
                        call(X)
                        times[i].append(seconds_per_call(lambda _k, f=call, X=X: f(X), calls))
                ours, theirs = statistics.median(times[0]), statistics.median(times[1])
                name = "-".join(map(str, sizes))
                print(
                    f"| {name} | {dtype} | {rows} | {ours * 1e3:.3f} | {theirs * 1e3:.3f} "
                    f"| ×{theirs / ours:.2f} |"
                )
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds (default 7)")
    args = parser.parse_args(argv)
    sys.path.insert(0, "benches")
    from compare import cpu_note

    one_batch_fits(args.rounds)
    partial_fits(args.rounds)
    predicts(args.rounds)
    print(f"- {cpu_note()}")


if __name__ == "__main__":
    main()
