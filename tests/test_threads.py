"""Threads: concurrent predict is deterministic; fit alongside predict never exposes torn
weights; a second fit on the same network is refused clearly."""

import threading

import numpy as np
import pytest

from ferroprop import Network


def data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8))
    y = (X[:, 0] * X[:, 1] > 0).astype(float)
    return X, y


def run_threads(target, n):
    errors = []

    def wrapped(i):
        try:
            target(i)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_many_threads_predicting_get_identical_results():
    net = Network([8, 32, 32, 1], ["relu", "tanh", "sigmoid"], seed=0)
    X, _ = data()
    want = net.predict(X)
    results = [None] * 8

    def work(i):
        for _ in range(20):
            results[i] = net.predict(X)

    run_threads(work, 8)
    for r in results:
        np.testing.assert_array_equal(r, want)


def test_predict_during_fit_sees_whole_epochs():
    """Every prediction made while fit runs equals the prediction of the weights of some
    epoch boundary (the ones published to the callback), never a mix."""
    net = Network([8, 16, 1], ["tanh", "sigmoid"], seed=1)
    X, y = data()
    probe = X[:5]
    published = [net.predict(probe)]
    seen = []
    done = threading.Event()

    def on_epoch(epoch, loss):
        published.append(net.predict(probe))

    def reader(_):
        while not done.is_set():
            seen.append(net.predict(probe))

    readers = [threading.Thread(target=reader, args=(i,)) for i in range(2)]
    for t in readers:
        t.start()
    try:
        net.fit(X, y, epochs=60, learning_rate=0.1, batch_size=8, callback=on_epoch, seed=0)
    finally:
        done.set()
        for t in readers:
            t.join()
    assert seen
    for p in seen:
        assert any(np.array_equal(p, q) for q in published)


def test_a_second_fit_is_refused_while_one_runs():
    net = Network([8, 16, 1], ["tanh", "sigmoid"], seed=1)
    X, y = data()

    def nested(epoch, loss):
        with pytest.raises(RuntimeError, match="already running"):
            net.fit(X, y, epochs=1)
        return True  # stop after the first epoch

    net.fit(X, y, epochs=5, callback=nested)
    net.fit(X, y, epochs=1)  # free again afterwards


def test_step_api_from_threads_is_serialised():
    net = Network([8, 16, 1], ["tanh", "sigmoid"], seed=2)
    X, y = data(64)

    def work(i):
        for _ in range(30):
            net.predict(X)
            net.get_weights()
            net.loss(X, y)

    run_threads(work, 4)
    assert np.isfinite(net.loss(X, y))


NESTED = """
import numpy as np
from ferroprop import Network
rng = np.random.default_rng(0)
X = rng.normal(size=(512, 256))
y = (X[:, 0] > 0).astype(float)
def net():
    return Network([256, 512, 512, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy", seed=0)
inner = net()
inner_losses = []
def train_inner(epoch, loss):
    losses = inner.fit(X, y, epochs=1, learning_rate=1e-3, batch_size=256, shuffle=False)
    inner_losses.extend(losses)
outer = net()
outer.fit(X, y, epochs=3, learning_rate=1e-3, batch_size=256, callback=train_inner)
fresh = net().fit(X, y, epochs=3, learning_rate=1e-3, batch_size=256, shuffle=False)
print(len(inner_losses), inner_losses == fresh)
"""


def test_fit_inside_the_callback_of_a_threaded_fit():
    # Layers this large use the thread pool for their products and run fit's loop on it;
    # a fit started from that loop's callback must neither wait for itself nor differ. A
    # pool of one thread makes waiting for the pool from the pool a certain deadlock.
    import os
    import subprocess
    import sys

    env = {**os.environ, "FERROPROP_NUM_THREADS": "2", "RAYON_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", NESTED], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3 True"


def test_concurrent_fits_of_different_networks_match_sequential_ones():
    # With batches of 128, da = dz·Wᵀ of the 512 x 512 layer is computed from a transposed
    # copy of W and that of the 512 x 64 layer into a column-major buffer, both held in a
    # per-thread scratch while the product runs on the pool (src/kernels/linalg.rs). A pool thread
    # waiting inside one fit's product may run another fit's task, which must get a buffer
    # of its own: no panic, and the same bits as fits run one at a time.
    sizes = [256, 512, 512, 64]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(512, sizes[0]))
    y = rng.integers(0, sizes[-1], 512)

    def train(seed):
        net = Network(sizes, ["relu", "relu", "softmax"], "cross_entropy", seed=seed)
        net.fit(X, y, epochs=3, learning_rate=0.05, batch_size=128, shuffle=False)
        return net.to_bytes()

    want = [train(seed) for seed in range(6)]
    got = [None] * 6

    def work(i):
        got[i] = train(i)

    run_threads(work, 6)
    assert got == want
