"""Before/after benchmark of two builds of ferroprop: interleaved runs, medians, same bits.

A refactoring must change neither the results nor the speed. Give this script two Python
interpreters, each with one build installed (for example the wheel of the old commit in
one virtual environment and ``make develop``'s build in ``.venv``)::

    .venv/bin/python benches/ab.py --old OLD_VENV/bin/python --new .venv/bin/python

Each workload of ``benches/compare.py`` (tutorial, small, medium, large; float64 and
float32) is timed by ``Network.fit`` with plain SGD (``--optimizer momentum`` or
``adam`` for the others), rows in order, from the same seed,
in a fresh process per measurement, the two builds alternating (old first in even
rounds, new first in odd ones) so that a slow spell of a shared machine hits both.
It prints one Markdown row per workload and dtype: the median time per epoch of each
build, their ratio (new / old) and whether the final weights are the same bits.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Sequence

# Workload: (layer sizes, batch size or None for the full batch, epochs per fit, fits).
WORKLOADS: dict[str, tuple[list[int], int | None, int, int]] = {
    "tutorial": ([2, 4, 3, 1], None, 200, 7),
    "small": ([2, 16, 16, 1], 32, 20, 3),
    "medium": ([64, 256, 256, 10], 128, 3, 2),
    "large": ([784, 1024, 1024, 10], 256, 1, 2),
}

# Run by each interpreter: prints the median seconds per epoch and a hash of the weights.
CHILD = """
import hashlib, json, sys, time
import numpy as np
import ferroprop
sizes, batch, epochs, fits = json.loads(sys.argv[1])
dtype, rule = sys.argv[2], json.loads(sys.argv[3])
if sizes[-1] == 1:
    from sklearn.datasets import make_circles
    X, y = make_circles(n_samples=1000, factor=0.5, noise=0.1, random_state=0)
    Y = y.reshape(-1, 1).astype(float)
    acts, loss = ["relu", "relu", "sigmoid"], "binary_cross_entropy"
else:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10000 if sizes[0] == 64 else 8192, sizes[0]))
    Y = np.eye(10)[np.argmax(X @ rng.standard_normal((sizes[0], 10)), 1)]
    acts, loss = ["relu", "relu", "softmax"], "cross_entropy"
X, Y = X.astype(dtype), Y.astype(dtype)
times = []
for _ in range(fits):
    net = ferroprop.Network(sizes, acts, loss, seed=0, dtype=dtype)
    start = time.perf_counter()
    net.fit(X, Y, epochs=epochs, learning_rate=0.01, batch_size=batch, shuffle=False,
            **rule)
    times.append((time.perf_counter() - start) / epochs)
weights = b"".join(a.tobytes() for pair in net.get_weights() for a in pair)
print(float(np.median(times)), hashlib.sha256(weights).hexdigest())
"""


# The optimizers: plain SGD (compare.py's), SGD with momentum, Adam.
RULES = {
    "sgd": {"optimizer": "sgd"},
    "momentum": {"optimizer": "sgd", "momentum": 0.9},
    "adam": {"optimizer": "adam"},
}


def measure(python: str, name: str, dtype: str, rule: str) -> tuple[float, str]:
    sizes, batch, epochs, fits = WORKLOADS[name]
    args = [json.dumps([sizes, batch, epochs, fits]), dtype, json.dumps(RULES[rule])]
    out = subprocess.run(
        [python, "-c", CHILD, *args], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), out[1]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", required=True, help="interpreter with the old build")
    parser.add_argument("--new", required=True, help="interpreter with the new build")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (5)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--optimizer", choices=sorted(RULES), default="sgd")
    args = parser.parse_args(argv)
    print("| workload | dtype | old | new | new / old | weights |")
    print("|---|---|--:|--:|--:|---|")
    for name in args.workloads.split(","):
        for dtype in args.dtypes.split(","):
            times: dict[str, list[float]] = {"old": [], "new": []}
            hashes: dict[str, set[str]] = {"old": set(), "new": set()}
            for r in range(args.rounds):
                order = [("old", args.old), ("new", args.new)]
                for build, python in order if r % 2 == 0 else order[::-1]:
                    seconds, digest = measure(python, name, dtype, args.optimizer)
                    times[build].append(seconds)
                    hashes[build].add(digest)
                print(".", end="", file=sys.stderr, flush=True)
            old, new = statistics.median(times["old"]), statistics.median(times["new"])
            unit, scale = ("µs", 1e6) if old < 1e-3 else ("ms", 1e3)
            same = hashes["old"] == hashes["new"] and len(hashes["old"]) == 1
            print(
                f"| {name} | {dtype} | {old * scale:.3g} {unit} | {new * scale:.3g} {unit} "
                f"| {new / old:.3f} | {'same bits' if same else 'DIFFERENT'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
