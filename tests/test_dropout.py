"""Dropout: the masks (seeded, the same for any thread count and engine), the training
passes against the reference with the same masks, fit against the reference's loop, the
finite-difference check with fixed masks, predictions untouched, a rate of 0 exactly the
network without dropout, files, bad values, the estimators."""

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_parity import PAIRS, close, make_targets, same_weights

from ferroprop import Network, reference
from ferroprop.sklearn import MLPClassifier, MLPRegressor

HIDDEN = ["identity", "relu", "leaky_relu", "sigmoid", "tanh"]


@st.composite
def cases(draw):
    hidden = draw(st.lists(st.sampled_from(HIDDEN), min_size=1, max_size=3))
    output, loss, kind = draw(st.sampled_from(PAIRS))
    sizes = draw(st.lists(st.integers(1, 40), min_size=len(hidden) + 2, max_size=len(hidden) + 2))
    if output == "softmax" and sizes[-1] == 1:
        sizes[-1] = 2
    rate = st.one_of(st.just(0.0), st.floats(0.05, 0.9))
    return {
        "sizes": sizes,
        "activations": [*hidden, output],
        "loss": loss,
        "kind": kind,
        "n": draw(st.integers(1, 64)),
        "dtype": draw(st.sampled_from(["float64", "float32"])),
        "seed": draw(st.integers(0, 2**32 - 1)),
        "dropout": draw(st.lists(rate, min_size=len(hidden), max_size=len(hidden))),
    }


def build(case):
    net = Network(
        case["sizes"],
        case["activations"],
        case["loss"],
        case["dtype"],
        case["seed"],
        dropout=case["dropout"],
    )
    ref = reference.mlp.from_names(case["sizes"], case["activations"], case["loss"], case["dtype"])
    ref.set_weights(net.get_weights())
    rng = np.random.default_rng(case["seed"])
    X = rng.normal(size=(case["n"], case["sizes"][0]))
    y = make_targets(rng, case["kind"], case["n"], case["sizes"][-1])
    return net, ref, X, y


def ref_masks(case, seed, first, n):
    """The reference's masks of a batch of ``n`` rows whose first is sample ``first``."""
    return [
        reference.dropout_mask(seed, k, first, n, units, p, case["dtype"]) if p > 0 else None
        for k, (p, units) in enumerate(zip(case["dropout"], case["sizes"][1:-1]))
    ]


SETTINGS = settings(
    max_examples=120, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@SETTINGS
@given(cases(), st.integers(0, 2**64 - 1))
def test_training_passes_match_the_reference_with_the_same_masks(case, seed):
    net, ref, X, y = build(case)
    dtype = case["dtype"]
    yhat = net.forward(X, training=True, seed=seed)
    masks = ref_masks(case, seed, 0, case["n"])
    for layer, m in zip(net.layers, masks):
        if m is None:
            assert layer.mask is None
        else:  # the same bits: the hash is written twice, in Rust and in NumPy
            assert layer.mask.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(layer.mask, m)
    assert net.layers[-1].mask is None
    ref_yhat = ref.forward(X, masks)
    close(yhat, ref_yhat, dtype, "yhat")
    net.backward(y)
    ref.backward(y, ref_yhat)
    for k, layer in enumerate(net.layers, 1):
        for name in ("z", "a", "dz", "dW", "db", "da"):
            close(getattr(layer, name), getattr(ref, name)[k], dtype, f"{name} of layer {k}")


@settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(cases(), st.integers(1, 70), st.integers(1, 3), st.integers(0, 2**63))
def test_fit_matches_the_reference_loop_with_its_masks(case, batch_size, epochs, seed):
    net, ref, X, y = build(case)
    with np.errstate(all="ignore"):
        ref_history = ref.fit(X, y, epochs, 0.02, batch_size, dropout=case["dropout"], seed=seed)
    assume(np.all(np.isfinite(ref_history)) and max(ref_history) < 100 * max(ref_history[0], 1))
    history = net.fit(
        X, y, epochs=epochs, learning_rate=0.02, batch_size=batch_size, shuffle=False, seed=seed
    )
    close(history, ref_history, case["dtype"], "history", scale=max(1.0, max(ref_history)))
    same_weights(net, ref, case["dtype"])


# Network sizes that select each engine (src/train/engine.rs, by sizes only): the
# feature-major engine (layers of at most 16 units), the row-major passes, and batches in
# two halves on two threads. Each draws the masks of the reference's loop.
ENGINES = {
    "feature_major": ([3, 12, 9, 2], 40),
    "row_major": ([20, 48, 24, 2], 40),
    "halves": ([96, 384, 256, 2], 256),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fit_of_each_engine_matches_the_reference(engine, dtype):
    sizes, batch_size = ENGINES[engine]
    case = {"sizes": sizes, "dtype": dtype, "dropout": [0.5, 0.2]}
    net = Network(
        sizes, ["tanh", "relu", "softmax"], "cross_entropy", dtype, seed=4, dropout=[0.5, 0.2]
    )
    ref = reference.mlp.from_names(sizes, ["tanh", "relu", "softmax"], "cross_entropy", dtype)
    ref.set_weights(net.get_weights())
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2 * batch_size + 3, sizes[0]))
    y = np.eye(2)[rng.integers(0, 2, len(X))]
    ref_history = ref.fit(X, y, 2, 0.05, batch_size, dropout=case["dropout"], seed=9)
    history = net.fit(
        X, y, epochs=2, learning_rate=0.05, batch_size=batch_size, shuffle=False, seed=9
    )
    close(history, ref_history, dtype, "history", scale=max(1.0, max(ref_history)))
    same_weights(net, ref, dtype)
    # And the masks did something: without them the fit ends elsewhere.
    plain = Network(sizes, ["tanh", "relu", "softmax"], "cross_entropy", dtype, seed=4)
    plain.fit(X, y, epochs=2, learning_rate=0.05, batch_size=batch_size, shuffle=False, seed=9)
    assert not np.array_equal(plain.get_weights()[0][0], net.get_weights()[0][0])


@pytest.mark.parametrize("hidden", [10, 24], ids=["feature_major", "row_major"])
def test_a_training_step_is_the_first_batch_of_fit(hidden):
    """``forward(X, training=True, seed=s)`` draws the masks of fit's first batch with seed
    ``s``: one full-batch epoch of SGD is the step API's forward, backward, update (bit for
    bit when fit takes the step API's row-major passes)."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 2, (30, 1)).astype(float)
    sizes = [4, hidden, 6, 1]
    a = Network(sizes, ["relu", "sigmoid", "sigmoid"], seed=2, dropout=[0.3, 0.6])
    b = Network(sizes, ["relu", "sigmoid", "sigmoid"], seed=2, dropout=[0.3, 0.6])
    plain = Network(sizes, ["relu", "sigmoid", "sigmoid"], seed=2)
    a.forward(X, training=True, seed=11)
    a.backward(y)
    a.update(0.1)
    b.fit(X, y, epochs=1, learning_rate=0.1, seed=11)
    plain.fit(X, y, epochs=1, learning_rate=0.1, seed=11)
    if hidden > 16:
        for (Wa, ba), (Wb, bb) in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(Wa, Wb)
            np.testing.assert_array_equal(ba, bb)
    same_weights(b, a, "float64")
    assert not np.allclose(plain.get_weights()[0][0], b.get_weights()[0][0])


FIT = """
import hashlib
import numpy as np
from ferroprop import Network
rng = np.random.default_rng(0)
X = rng.normal(size=(600, SIZES[0]))
y = rng.integers(0, 10, 600)
h = hashlib.sha256()
for shuffle in (False, True):
    net = Network(SIZES, ["relu", "tanh", "softmax"], "cross_entropy", seed=3, dropout=[0.5, 0.25])
    losses = net.fit(X, y, epochs=2, learning_rate=0.05, batch_size=256, seed=1, shuffle=shuffle)
    h.update(np.asarray(losses).tobytes() + net.to_bytes())
print(h.hexdigest())
"""


@pytest.mark.parametrize("engine", ["row_major", "halves"])
def test_fit_with_dropout_is_bit_identical_across_thread_counts(engine):
    sizes = {"row_major": [20, 48, 24, 10], "halves": [96, 384, 256, 10]}[engine]

    def digest(threads):
        env = {**os.environ, "FERROPROP_NUM_THREADS": str(threads)}
        script = f"SIZES = {sizes!r}\n" + FIT
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    one = digest(1)
    assert one == digest(2) == digest(4)


def test_the_seed_decides_the_masks():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 1))

    def fit(seed):
        net = Network([3, 8, 1], ["tanh", "identity"], seed=0, dropout=0.4)
        net.fit(X, y, epochs=3, learning_rate=0.05, batch_size=8, seed=seed)
        return net.to_bytes()

    assert fit(5) == fit(5)
    assert fit(5) != fit(6)
    net = Network([3, 8, 1], ["tanh", "identity"], seed=0, dropout=0.4)
    net.forward(X, training=True, seed=1)
    first = net.layers[0].mask
    net.forward(X, training=True, seed=1)
    np.testing.assert_array_equal(net.layers[0].mask, first)
    net.forward(X, training=True, seed=2)
    assert not np.array_equal(net.layers[0].mask, first)
    net.forward(X, training=True)  # a random seed
    assert net.layers[0].mask is not None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_masks_keep_one_minus_p_of_the_units_scaled_exactly(dtype, p):
    net = Network([5, 500, 1], ["relu", "identity"], dtype=dtype, seed=0, dropout=p)
    X = np.random.default_rng(0).normal(size=(400, 5))
    net.forward(X, training=True, seed=3)
    mask = net.layers[0].mask
    scale = np.dtype(dtype).type(1 / (1 - p))
    assert set(np.unique(mask)) == {0, scale}
    # 200 000 draws: the keep rate's standard deviation is at most 0.0012.
    assert abs(np.mean(mask != 0) - (1 - p)) < 0.006
    # Each unit and each row keeps about 1 - p of its draws, too (no unit is always kept).
    assert abs(np.mean(mask != 0, axis=0) - (1 - p)).max() < 0.12
    assert abs(np.mean(mask != 0, axis=1) - (1 - p)).max() < 0.12
    a = net.layers[0].a
    np.testing.assert_array_equal(a, np.maximum(net.layers[0].z, 0) * mask)


def test_predict_loss_and_plain_forward_never_drop():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 3, 20)
    net = Network([3, 9, 7, 3], ["relu", "tanh", "softmax"], seed=1, dropout=0.7)
    plain = Network([3, 9, 7, 3], ["relu", "tanh", "softmax"], seed=1)
    np.testing.assert_array_equal(net.get_weights()[0][0], plain.get_weights()[0][0])
    before = plain.predict(X)
    np.testing.assert_array_equal(net.predict(X), before)
    assert net.loss(X, y) == plain.loss(X, y)
    net.forward(X, training=True, seed=0)
    assert not np.array_equal(net.layers[-1].a, before)
    np.testing.assert_array_equal(net.predict(X), before)  # the step API's masks stay there
    np.testing.assert_array_equal(net.forward(X), before)
    assert all(layer.mask is None for layer in net.layers)
    # A fit trains with dropout, and predicts without it.
    net.fit(X, y, epochs=2, learning_rate=0.1, seed=0)
    plain.set_weights(net.get_weights())
    np.testing.assert_array_equal(net.predict(X), plain.predict(X))


@pytest.mark.parametrize("dropout", [0.0, [0.0, 0.0]])
def test_a_rate_of_zero_is_the_network_without_dropout(dropout):
    rng = np.random.default_rng(0)
    X_wide = rng.normal(size=(600, 96))
    for sizes in (ENGINES["feature_major"][0], ENGINES["row_major"][0], ENGINES["halves"][0]):
        sizes = [sizes[0], *sizes[1:-1], 3]
        X = X_wide[:, : sizes[0]]
        y = rng.integers(0, 3, len(X))
        batch = 256 if sizes[0] == 96 else 10
        with_zero = Network(sizes, ["relu", "tanh", "softmax"], seed=1, dropout=dropout)
        without = Network(sizes, ["relu", "tanh", "softmax"], seed=1)
        assert with_zero.to_bytes() == without.to_bytes()
        assert repr(with_zero) == repr(without)
        for net in (with_zero, without):
            net.fit(X, y, epochs=2, learning_rate=0.1, batch_size=batch, seed=2)
        assert with_zero.to_bytes() == without.to_bytes()
        np.testing.assert_array_equal(
            with_zero.forward(X, training=True, seed=1), without.forward(X)
        )
        assert with_zero.layers[0].mask is None


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("hidden", [["tanh", "sigmoid"], ["leaky_relu", "identity"]])
def test_gradient_check_with_fixed_masks(dtype, hidden):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(7, 4)), rng.integers(0, 3, 7)
    net = Network([4, 9, 6, 3], [*hidden, "softmax"], dtype=dtype, seed=3, dropout=[0.5, 0.3])
    net.forward(X, training=True, seed=4)
    masks = [layer.mask for layer in net.layers[:-1]]
    assert all(m is not None and (m == 0).any() for m in masks)
    assert net.gradient_check(X, y, masks=masks) < (1e-6 if dtype == "float64" else 2e-3)
    # Any fixed multipliers are a network of their own, and None leaves a layer alone.
    other = [rng.uniform(0, 3, m.shape) for m in masks]
    assert net.gradient_check(X, y, masks=[other[0], None]) < (1e-6 if dtype == "float64" else 2e-3)
    # The check's gradient is the training pass's: backward after forward(training=True).
    net.backward(y)
    grads = net.loss_and_gradient(X, y)[2]
    assert not np.allclose(net.layers[0].dW, grads[0][0])


def test_masks_of_gradient_check_are_checked():
    net = Network([2, 3, 4, 1], seed=0, dropout=0.5)
    X, y = np.ones((5, 2)), np.ones(5)
    with pytest.raises(ValueError, match="masks: expected 2 entries"):
        net.gradient_check(X, y, masks=[np.ones((5, 3))])
    with pytest.raises(ValueError, match=r"masks\[1\] of shape \(5, 4\)"):
        net.gradient_check(X, y, masks=[None, np.ones((5, 3))])
    with pytest.raises(ValueError, match="finite"):
        net.gradient_check(X, y, masks=[np.full((5, 3), np.nan), None])
    with pytest.raises(ValueError, match="2-D"):
        net.gradient_check(X, y, masks=[np.ones(5), None])
    with pytest.raises(TypeError, match="masks"):
        net.gradient_check(X, y, masks=3)


@pytest.mark.parametrize(
    ("dropout", "message"),
    [
        (1.0, r"dropout must be in \[0, 1\), got 1.0"),
        (1.5, r"dropout must be in \[0, 1\), got 1.5"),
        (-0.1, r"dropout must be in \[0, 1\), got -0.1"),
        (float("nan"), r"dropout must be in \[0, 1\), got nan"),
        ([0.5, 1.0], r"dropout must hold rates in \[0, 1\), got dropout\[1\] = 1.0"),
        ([0.5], r"dropout: expected 2 rates \(one per hidden layer\), got 1"),
    ],
)
def test_bad_rates_are_refused(dropout, message):
    with pytest.raises(ValueError, match=message):
        Network([2, 3, 4, 1], dropout=dropout)


def test_bad_dropout_arguments_are_refused():
    with pytest.raises(ValueError, match="has none"):
        Network([2, 1], dropout=0.5)
    assert Network([2, 1], dropout=0.0).dropout == []
    with pytest.raises(TypeError, match="dropout"):
        Network([2, 3, 1], dropout="0.5")
    with pytest.raises(TypeError, match="dropout"):
        Network([2, 3, 1], dropout=True)
    with pytest.raises(TypeError, match=r"dropout\[0\]"):
        Network([2, 3, 1], dropout=[None])
    net = Network([2, 3, 1], dropout=0.5)
    with pytest.raises(ValueError, match="training=True"):
        net.forward(np.ones((1, 2)), seed=3)
    with pytest.raises(TypeError, match="training"):
        net.forward(np.ones((1, 2)), training="yes")
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*64\)"):
        net.forward(np.ones((1, 2)), training=True, seed=-1)


def test_files_pickles_and_repr_keep_the_rates(tmp_path):
    net = Network([2, 5, 4, 1], ["relu", "tanh", "sigmoid"], seed=0, dropout=[0.25, 0.0])
    assert net.dropout == [0.25, 0.0]
    assert repr(net).endswith("dtype='float64', dropout=[0.25, 0.0])")
    assert repr(Network([2, 5, 4, 1], dropout=0.5)).endswith(", dropout=0.5)")
    net.save(tmp_path / "net.safetensors")
    for copy in (
        Network.load(tmp_path / "net.safetensors"),
        Network.from_bytes(net.to_bytes()),
        pickle.loads(pickle.dumps(net)),
    ):
        assert copy.dropout == [0.25, 0.0]
        assert copy.to_bytes() == net.to_bytes()
    from safetensors import safe_open

    with safe_open(tmp_path / "net.safetensors", "np") as f:
        meta = f.metadata()
    assert meta["dropout"] == "0.25,0.0"
    assert meta["format_version"] == "1"
    # No key without dropout: such files are the bytes of earlier versions.
    Network([2, 5, 1], seed=0).save(tmp_path / "plain.safetensors")
    with safe_open(tmp_path / "plain.safetensors", "np") as f:
        assert "dropout" not in f.metadata()


def test_bad_rates_in_a_file_are_refused():
    data = bytearray(Network([2, 5, 1], seed=0, dropout=0.5).to_bytes())
    for bad, message in [(b'"1.5"', r"dropout\[0\] = 1.5"), (b'"x.5"', "not a list of rates")]:
        text = data.replace(b'"0.5"', bad)  # as long: the header's length holds
        with pytest.raises(ValueError, match=message):
            Network.from_bytes(bytes(text))


def test_estimators_take_dropout():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    kwargs = {"hidden_layer_sizes": (12, 7), "max_iter": 5, "random_state": 0}

    def coefs(est):
        return [c.copy() for c in est.coefs_]

    for Estimator, target in ((MLPClassifier, y), (MLPRegressor, X[:, 0])):
        assert Estimator().get_params()["dropout"] == 0.0
        with pytest.warns(Warning):
            plain = coefs(Estimator(**kwargs).fit(X, target))
        with pytest.warns(Warning):
            zero = coefs(Estimator(**kwargs, dropout=0.0).fit(X, target))
        with pytest.warns(Warning):
            dropped = Estimator(**kwargs, dropout=[0.5, 0.2]).fit(X, target)
        for a, b in zip(plain, zero):
            np.testing.assert_array_equal(a, b)
        assert not np.array_equal(plain[0], dropped.coefs_[0])
        assert dropped._network.dropout == [0.5, 0.2]
        # Predictions do not drop: the same weights without dropout predict the same.
        net = Network(dropped._network.layer_sizes, dropped._network.activations, seed=0)
        net.set_weights(dropped._network.get_weights())
        np.testing.assert_array_equal(net.predict(X), dropped._network.predict(X))
        # The masks follow random_state, also without shuffling.
        with pytest.warns(Warning):
            again = Estimator(**kwargs, dropout=0.5, shuffle=False).fit(X, target)
        with pytest.warns(Warning):
            same = Estimator(**kwargs, dropout=0.5, shuffle=False).fit(X, target)
        np.testing.assert_array_equal(again.coefs_[0], same.coefs_[0])
        with pytest.raises(ValueError, match="dropout"):
            Estimator(**kwargs, dropout=1.0).fit(X, target)
        with pytest.raises(ValueError, match="dropout must hold rates"):
            Estimator(**kwargs, dropout=[0.5, 2.0]).fit(X, target)
        with pytest.raises(ValueError, match="lbfgs"):
            Estimator(**kwargs, dropout=0.5, solver="lbfgs").fit(X, target)


TORCH = os.path.join(os.path.dirname(__file__), "data", "torch_dropout.npz")
TORCH_CASES = {  # as tests/data/torch_dropout.py builds them
    "ce": ([4, 7, 6, 3], ["tanh", "relu", "softmax"], "cross_entropy", [0.5, 0.25]),
    "mse": ([4, 8, 5, 2], ["leaky_relu", "sigmoid", "identity"], "mean_squared_error", [0.3, 0.6]),
}


def torch_case(data, name):
    sizes, activations, loss, rates = TORCH_CASES[name]
    net = Network(sizes, activations, loss, seed=0, dropout=rates)
    L = len(sizes) - 1
    net.set_weights([(data[f"{name}/W{k}"], data[f"{name}/b{k}"]) for k in range(L)])
    return net, data[f"{name}/X"], data[f"{name}/y"]


@pytest.mark.parametrize("name", TORCH_CASES)
def test_gradients_with_dropout_equal_pytorchs(name):
    """With the same masks (ferroprop's, seed 123), ferroprop's training pass gives
    PyTorch's loss and gradients (``a = f(z) * mask`` through autograd, in float64)."""
    data = np.load(TORCH)
    net, X, y = torch_case(data, name)
    yhat = net.forward(X, training=True, seed=123)
    for k, layer in enumerate(net.layers[:-1]):
        np.testing.assert_array_equal(layer.mask, data[f"{name}/mask{k}"])
    loss = reference.LOSSES[TORCH_CASES[name][2]](y, yhat)
    assert loss == pytest.approx(float(data[f"{name}/loss"]), rel=1e-12)
    net.backward(y)
    for k, layer in enumerate(net.layers):
        close(layer.dW, data[f"{name}/dW{k}"], "float64", f"dW of layer {k}")
        close(layer.db, data[f"{name}/db{k}"], "float64", f"db of layer {k}")
    # torch's dropout keeps x / (1 - p): the nonzero value of every mask.
    for p in (0.25, 0.5):
        assert list(data[f"dropout_values/{p}"]) == [0.0, 1 / (1 - p)]


@pytest.mark.parametrize("name", TORCH_CASES)
def test_the_fixture_is_pytorchs_live(name):
    torch = pytest.importorskip("torch")
    data = np.load(TORCH)
    sizes, activations, loss, _ = TORCH_CASES[name]
    params = [
        (
            torch.tensor(data[f"{name}/W{k}"], requires_grad=True),
            torch.tensor(data[f"{name}/b{k}"], requires_grad=True),
        )
        for k in range(len(sizes) - 1)
    ]
    acts = {
        "tanh": torch.tanh,
        "relu": torch.relu,
        "sigmoid": torch.sigmoid,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
    }
    a = torch.tensor(data[f"{name}/X"])
    for k, (W, b) in enumerate(params):
        z = a @ W + b
        a = (
            acts[activations[k]](z) * torch.tensor(data[f"{name}/mask{k}"])
            if k < len(params) - 1
            else z
        )
    y = torch.tensor(data[f"{name}/y"])
    value = (
        torch.nn.functional.cross_entropy(a, y)
        if loss == "cross_entropy"
        else torch.nn.functional.mse_loss(a, y)
    )
    value.backward()
    net, X, y_np = torch_case(data, name)
    net.forward(X, training=True, seed=123)
    net.backward(y_np)
    for k, (layer, (W, b)) in enumerate(zip(net.layers, params)):
        close(layer.dW, W.grad.numpy(), "float64", f"dW of layer {k}")
        close(layer.db, b.grad.numpy(), "float64", f"db of layer {k}")
