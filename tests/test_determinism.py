"""Same seed, same bits, whatever the number of matrix-product threads."""

import os
import subprocess
import sys

import numpy as np
import pytest

import ferroprop

SCRIPT = """
import hashlib
import numpy as np
from ferroprop import Network
rng = np.random.default_rng(0)
X = rng.normal(size=(512, SIZES[0]))
y = rng.integers(0, 10, 512)
net = Network(SIZES, ACTIVATIONS, "cross_entropy", seed=3)
net.fit(X, y, epochs=2, learning_rate=0.05, batch_size=256, seed=1, **OPTIMIZER)
print(hashlib.sha256(net.to_bytes()).hexdigest())
"""
# Batches split in halves on two threads (src/train/engine.rs), then averaged.
HALVES = ([96, 384, 256, 10], ["relu", "tanh", "softmax"])
# Products of at least 2^24 multiply-adds split in two blocks of output columns
# (src/kernels/linalg.rs): every product of the first two layers (256 x 320 x 768, 256 x 768 x 768).
# The second layer's da is computed from a transposed copy of W, made on two threads; the
# passes over 256 x 768 values (bias, activation and its derivative, db) run by halves of
# the rows or columns on two threads.
SPLIT = ([320, 768, 768, 10], ["relu", "relu", "softmax"])


def digest(threads, optimizer, network=HALVES):
    env = {**os.environ, "FERROPROP_NUM_THREADS": str(threads)}
    sizes, activations = network
    script = f"SIZES = {sizes!r}\nACTIVATIONS = {activations!r}\nOPTIMIZER = {optimizer!r}\n"
    out = subprocess.run(
        [sys.executable, "-c", script + SCRIPT], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


OPTIMIZERS = pytest.mark.parametrize(
    "optimizer",
    [
        {"optimizer": "sgd"},
        {"optimizer": "sgd", "momentum": 0.9, "nesterov": True},
        {"optimizer": "adam"},
        {"optimizer": "adamw", "weight_decay": 0.1, "schedule": "one_cycle"},
        {"momentum": 0.9, "weight_decay": 0.01, "schedule": "cosine", "warmup": 1},
    ],
    ids=["sgd", "nesterov", "adam", "adamw_one_cycle", "sgd_decay_cosine"],
)


@OPTIMIZERS
def test_fit_is_bit_identical_across_thread_counts(optimizer):
    one = digest(1, optimizer)
    assert one == digest(2, optimizer) == digest(4, optimizer)
    assert one == digest(1, optimizer)  # and across runs


# Large parameters are updated on the threads too, by pieces (optim.rs, from 2^14 values):
# every update rule is covered, on both networks.
@OPTIMIZERS
def test_split_products_are_bit_identical_across_thread_counts(optimizer):
    one = digest(1, optimizer, SPLIT)
    assert one == digest(2, optimizer, SPLIT) == digest(3, optimizer, SPLIT)
    assert one == digest(4, optimizer, SPLIT)


SMALL = """
import hashlib
import numpy as np
from ferroprop import Network
rng = np.random.default_rng(0)
X = rng.normal(size=(1000, 2))
y = (X[:, 0] * X[:, 1] > 0).astype(float)
h = hashlib.sha256()
net = Network([2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy", seed=1)
h.update(np.asarray(net.fit(X, y, epochs=20, learning_rate=0.1, seed=0)).tobytes())  # full batch
h.update(net.to_bytes())
labels = rng.integers(0, 3, 1000)
net = Network([2, 16, 9, 3], ["tanh", "leaky_relu", "softmax"], "cross_entropy", seed=2)
losses = net.fit(X, labels, epochs=5, learning_rate=0.01, batch_size=37, optimizer="adam", seed=0)
h.update(np.asarray(losses).tobytes() + net.to_bytes() + net.predict(X).tobytes())
# One row through a layer of 600 x 500 weights (split between threads), and three rows
# through a small layer: the row-by-row products of linalg::affine, not gemm.
net = Network([600, 500, 70, 3], ["tanh", "relu", "softmax"], "cross_entropy", seed=3)
h.update(net.predict(rng.normal(size=(1, 600))).tobytes())
net = Network([70, 100, 2], ["relu", "softmax"], "cross_entropy", seed=4)
h.update(net.predict(rng.normal(size=(3, 70))).tobytes())
print(h.hexdigest())
"""


def test_every_simd_level_gives_the_same_bits():
    # The small-network kernels, the activations and the loss run compiled for AVX-512,
    # AVX2 or baseline x86-64, whichever the CPU has; FERROPROP_SIMD narrows the choice.
    def run(level, threads=2):
        env = {**os.environ, "FERROPROP_SIMD": level, "FERROPROP_NUM_THREADS": str(threads)}
        out = subprocess.run([sys.executable, "-c", SMALL], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert run("baseline") == run("avx2") == run("native") == run("native", threads=1)


# predict (and loss) pass the rows through the layers 2**19 values of the widest layer at a
# time (512 rows of 1024 units); each row's output must not depend on the pass it falls
# in, so predict equals forward's single pass bit for bit. The layers include k > 512
# (gemm sums k in blocks), and the row counts land just past a pass.
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("sizes", "activations", "loss"),
    [
        ([600, 1024, 10], ["tanh", "softmax"], "cross_entropy"),
        ([784, 1024, 1024, 10], ["relu", "relu", "softmax"], "cross_entropy"),
        ([3, 4096, 2], ["relu", "identity"], "mean_squared_error"),
        ([2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy"),
    ],
)
def test_predict_by_passes_equals_one_forward_pass(sizes, activations, loss, dtype):
    net = ferroprop.Network(sizes, activations, loss, dtype, seed=0)
    rng = np.random.default_rng(1)
    tiny = max(sizes) < 16  # passes of 2**17 rows
    for n in (1, 5, 127, 128, 129, 513, 1029, 2600) + ((2**18 + 7,) if tiny else ()):
        X = rng.normal(size=(n, sizes[0])).astype(dtype)
        yhat = net.predict(X)
        assert np.array_equal(yhat, net.forward(X)), (sizes, n)
        if n >= 10:  # a slice of at least 10 rows is a pass of its own
            assert np.array_equal(net.predict(X[3:13]), yhat[3:13])
