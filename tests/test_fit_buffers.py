"""A fit keeps its buffers for the next fit of the same network with the same batch size
(src/train/mod.rs, FitBuffers): nothing of the last fit may leak into the next one's
results. Each case compares a network that fits twice (the second fit reusing the first
one's buffers) with a copy made between the two fits (``from_bytes``: the same weights and
optimizer state, no buffers), bit for bit."""

import numpy as np
import pytest

from ferroprop import Network

CASES = {
    # 2 -> 8 -> 3: the feature-major engine.
    "feature_major": ([2, 8, 3], ["tanh", "softmax"], 32),
    # batches of large layers split in halves on two threads.
    "halves": ([96, 384, 256, 10], ["relu", "tanh", "softmax"], 256),
    # products split in blocks of columns, passes split by rows.
    "row_major": ([320, 768, 768, 10], ["relu", "relu", "softmax"], 256),
}


def data(sizes, n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, sizes[0])), rng.integers(0, sizes[-1], n)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "settings",
    [
        {"optimizer": "sgd", "shuffle": False},
        {"optimizer": "adam", "shuffle": True},
        {"optimizer": "sgd", "momentum": 0.9, "weights": True},
        {"optimizer": "adamw", "weight_decay": 0.1, "dropout": True},
    ],
    ids=["sgd", "adam_shuffled", "momentum_weighted", "adamw_dropout"],
)
def test_a_second_fit_gives_the_bits_of_a_fresh_network(case, settings):
    sizes, activations, batch = CASES[case]
    settings = dict(settings)
    dropout = [0.3] * (len(sizes) - 2) if settings.pop("dropout", False) else 0.0
    weighted = settings.pop("weights", False)
    X1, y1 = data(sizes, 2 * batch + 5, 1)  # a last batch of 5 rows
    X2, y2 = data(sizes, 2 * batch, 2)
    w1 = np.linspace(0.5, 2.0, len(y1)) if weighted else None
    w2 = np.linspace(2.0, 0.1, len(y2)) if weighted else None
    kw = dict(epochs=2, learning_rate=0.01, batch_size=batch, seed=7, **settings)

    net = Network(sizes, activations, "cross_entropy", seed=3, dropout=dropout)
    net.fit(X1, y1, sample_weight=w1, **kw)
    copy = Network.from_bytes(net.to_bytes())
    assert copy.to_bytes() == net.to_bytes()
    losses = net.fit(X2, y2, sample_weight=w2, **kw)  # the first fit's buffers
    fresh = copy.fit(X2, y2, sample_weight=w2, **kw)  # buffers of its own
    assert losses == fresh
    assert net.to_bytes() == copy.to_bytes()
    # And a third fit with another batch size makes new buffers.
    kw["batch_size"] = batch // 2
    net.fit(X1, y1, sample_weight=w1, **kw)
    copy.fit(X1, y1, sample_weight=w1, **kw)
    assert net.to_bytes() == copy.to_bytes()


def test_a_diverging_fit_restores_its_own_start_with_reused_buffers():
    # The snapshot of the weights (restored when an epoch diverges) is among the buffers:
    # a reusing fit must take its own, not find the last fit's.
    sizes, activations, batch = CASES["halves"]
    X, y = data(sizes, 3 * batch, 3)
    Xv, yv = data(sizes, 100, 4)
    net = Network(sizes, activations, "cross_entropy", seed=3)
    kw = dict(batch_size=batch, seed=1, validation_data=(Xv, yv))
    net.fit(X, y, epochs=3, learning_rate=0.01, early_stopping=True, n_iter_no_change=1, **kw)
    net.fit(X, y, epochs=2, learning_rate=0.05, **kw)  # keeps its buffers
    copy = Network.from_bytes(net.to_bytes())
    before = net.get_weights()
    # The second batch of the first epoch overflows: the first one's update is undone.
    bad = X.copy()
    bad[batch:] = 1e308
    for n in (net, copy):
        with pytest.raises(ValueError, match="overflowed"):
            n.fit(bad, y, epochs=1, learning_rate=0.01, shuffle=False, **kw)
    assert net.to_bytes() == copy.to_bytes()  # the optimizer's state dropped by both
    for (W, b), (W0, b0) in zip(net.get_weights(), before):
        assert np.array_equal(W, W0) and np.array_equal(b, b0)
    # After the error the next fit starts afresh, and still agrees.
    assert net.fit(X, y, epochs=2, learning_rate=0.01, **kw) == copy.fit(
        X, y, epochs=2, learning_rate=0.01, **kw
    )
    assert net.to_bytes() == copy.to_bytes()


def test_the_products_pack_into_blocks_kept_between_them():
    """gemm's packing buffers come from a few blocks the extension keeps and reuses
    (src/kernels/packing.rs), not from a fresh allocation per product."""
    from ferroprop import _core

    sizes, _, batch = CASES["row_major"]
    X, y = data(sizes, 4 * batch, 0)
    net = Network(sizes, ["relu", "relu", "softmax"], "cross_entropy", seed=0)
    net.fit(X, y, epochs=1, batch_size=batch, shuffle=False)
    before = _core._packing_blocks()
    assert before["blocks"] >= 1 and before["bytes"] >= 64 << 10
    net.fit(X, y, epochs=3, batch_size=batch, shuffle=False)
    after = _core._packing_blocks()
    # 12 steps of at least three packed products each (the forward product and dW of the
    # two large layers, da of the second): served from the blocks, with at most a few
    # new ones while two threads settle which block each takes.
    assert after["served"] - before["served"] >= 12 * 3
    assert after["allocated"] - before["allocated"] <= 4
    assert after["blocks"] <= 8


def test_a_fit_trains_its_copy_in_the_arrays_the_last_fit_replaced():
    """A fit copies the weights it trains into the network the last fit replaced
    (``Network::clone_params_into``), whatever optimizer state that one held: the results
    are those of a network that never fitted before, through optimizer changes, a
    ``reset_optimizer`` and new weights assigned between fits."""
    sizes, activations, batch = CASES["halves"]
    X, y = data(sizes, 2 * batch, 4)
    net = Network(sizes, activations, "cross_entropy", seed=5)
    steps = [
        {"optimizer": "adam"},  # no spare yet
        {"optimizer": "adam"},  # the spare is the new network: no optimizer state
        {"optimizer": "adam"},  # the spare holds Adam's moments: copied into
        {"optimizer": "sgd", "momentum": 0.9},  # one moment instead of two
        {"optimizer": "sgd", "momentum": 0.9},
        {"optimizer": "sgd"},  # none
        {"optimizer": "adamw", "weight_decay": 0.01},
        "reset",
        {"optimizer": "adamw", "weight_decay": 0.01},
        "assign",
        {"optimizer": "sgd", "momentum": 0.5},
    ]
    for step in steps:
        if step == "reset":
            net.reset_optimizer()
            continue
        if step == "assign":
            net.set_weights([(W * 0.5, b + 0.1) for W, b in net.get_weights()])
            continue
        copy = Network.from_bytes(net.to_bytes())
        kw = dict(epochs=1, learning_rate=0.01, batch_size=batch, seed=1, **step)
        assert net.fit(X, y, **kw) == copy.fit(X, y, **kw)
        assert net.to_bytes() == copy.to_bytes()
