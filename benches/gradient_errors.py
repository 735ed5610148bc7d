"""How exact are ferroprop's gradients? Measures, over random architectures:

- ``Network.gradient_check``: the largest relative error of the backpropagated gradient
  against central finite differences (float64 and float32);
- the largest difference from ``ferroprop.reference`` (pure NumPy) of every dW and db,
  relative to each array's magnitude.

Run: python benches/gradient_errors.py [--cases N]
"""

from __future__ import annotations

import argparse

import numpy as np

from ferroprop import Network, reference

HIDDEN = ["identity", "leaky_relu", "sigmoid", "tanh", "relu"]
PAIRS = [
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "cross_entropy"),
    ("identity", "mean_squared_error"),
    ("tanh", "mean_squared_error"),
    ("softmax", "mean_squared_error"),
]


def random_case(rng: np.random.Generator, dtype: str):
    depth = int(rng.integers(1, 5))
    hidden = list(rng.choice(HIDDEN, depth - 1))
    output, loss = PAIRS[int(rng.integers(len(PAIRS)))]
    sizes = [int(s) for s in rng.integers(1, 17, depth + 1)]
    if output == "softmax":
        sizes[-1] = max(sizes[-1], 2)
    net = Network(sizes, [*hidden, output], loss, dtype, seed=int(rng.integers(2**31)))
    n = int(rng.integers(1, 33))
    X = rng.normal(size=(n, sizes[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, sizes[-1], n)
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (n, sizes[-1])).astype(float)
    else:
        y = rng.normal(size=(n, sizes[-1]))
    return net, X, y


def near_kink(net: Network, X: np.ndarray) -> bool:
    """A ReLU input within the finite-difference step of 0 makes the difference wrong."""
    net.forward(X)
    return any(
        act in ("relu", "leaky_relu") and np.abs(layer.z).min() < 1e-3
        for act, layer in zip(net.activations, net.layers)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for dtype in ("float64", "float32"):
        fd, parity, skipped = [], [], 0
        for _ in range(args.cases):
            net, X, y = random_case(rng, dtype)
            ref = reference.mlp.from_names(net.layer_sizes, net.activations, net.loss_name, dtype)
            ref.set_weights(net.get_weights())
            ref.backward(y if y.ndim == 1 else y, ref.forward(X))
            net.forward(X)
            net.backward(y)
            for k, layer in enumerate(net.layers, 1):
                for got, want in ((layer.dW, ref.dW[k]), (layer.db, ref.db[k])):
                    scale = max(np.abs(want).max(), np.finfo(dtype).tiny)
                    parity.append(np.abs(got - want).max() / scale)
            if near_kink(net, X):
                skipped += 1
                continue
            fd.append(net.gradient_check(X, y))
        fd, parity = np.array(fd), np.array(parity)
        print(
            f"{dtype}: gradient_check over {len(fd)} random networks "
            f"({skipped} skipped near a ReLU kink): median {np.median(fd):.1e}, "
            f"99th percentile {np.quantile(fd, 0.99):.1e}, max {fd.max():.1e}"
        )
        print(
            f"{dtype}: dW, db vs the NumPy reference over {len(parity)} arrays: "
            f"median {np.median(parity):.1e}, max {parity.max():.1e} "
            "(relative to the array's magnitude)"
        )


if __name__ == "__main__":
    main()
