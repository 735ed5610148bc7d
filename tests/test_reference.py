"""Tests of ``ferroprop.reference`` alone: finite differences, the tutorial's figure, dtypes."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

try:
    from ferroprop import reference
except ImportError:  # the package may need a compiled _core that is not built yet
    _path = Path(__file__).resolve().parents[1] / "python" / "ferroprop" / "reference.py"
    _spec = importlib.util.spec_from_file_location("ferroprop_reference", _path)
    reference = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(reference)

mlp = reference.mlp
H = 1e-6  # central-difference step: truncation ~H^2, rounding ~eps/H, both far below 1e-6

# (output activation, loss, output size): every supported pair
PAIRS = [
    ("sigmoid", "binary_cross_entropy", 1),
    ("sigmoid", "binary_cross_entropy", 3),
    ("softmax", "cross_entropy", 4),
    ("softmax", "mean_squared_error", 3),
    ("identity", "mean_squared_error", 2),
    ("tanh", "mean_squared_error", 2),
    ("sigmoid", "mean_squared_error", 2),
    ("relu", "mean_squared_error", 2),
    ("leaky_relu", "mean_squared_error", 2),
    ("exp", "poisson", 2),
    ("gelu", "huber", 2),
    ("identity", "mean_absolute_error", 2),
    ("softplus", "mean_squared_error", 2),
]
HIDDEN = [
    [],
    ["tanh", "leaky_relu"],
    ["relu", "sigmoid"],
    ["identity"],
    ["gelu", "silu"],
    ["elu", "softplus"],
]
KINKED = {"relu", "leaky_relu"}


def numgrad(f, arr):
    """Central finite differences of the scalar ``f()`` with respect to ``arr``, in place."""
    g = np.zeros_like(arr)
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + H
        up = f()
        arr[i] = old - H
        down = f()
        arr[i] = old
        g[i] = (up - down) / (2 * H)
    return g


def rel_err(num, ana):
    return np.linalg.norm(num - ana) / max(np.linalg.norm(num) + np.linalg.norm(ana), 1e-300)


def targets(rng, out, loss, n):
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (n, out)).astype(float)
    if loss == "cross_entropy":
        return rng.integers(0, out, n)
    if loss == "poisson":
        return rng.poisson(1.5, (n, out)).astype(float)
    return rng.normal(size=(n, out))


def random_case(seed, hidden, act, loss, out, dtype="float64", n=5):
    rng = np.random.default_rng(seed)
    sizes = [int(s) for s in rng.integers(1, 5, len(hidden) + 1)] + [out]
    net = mlp.from_names(sizes, hidden + [act], loss, dtype=dtype)
    net.initialize(seed=seed, sigma=1.0)  # large weights: gradients well above FD noise
    return net, rng.normal(size=(n, sizes[0])), targets(rng, out, loss, n)


@pytest.mark.parametrize("hidden", HIDDEN, ids=lambda h: "-".join(h) or "none")
@pytest.mark.parametrize("act, loss, out", PAIRS)
def test_gradients_match_finite_differences(hidden, act, loss, out):
    net, x, y = random_case(len(hidden) + out, hidden, act, loss, out)
    yhat = net.forward(x)
    net.backward(y, yhat)
    for k, name in enumerate(hidden + [act], 1):
        if name in KINKED:  # a step of H must not cross the kink at 0
            assert np.abs(net.z[k]).min() > 1e-3
    f = lambda: net.loss(x, y)  # noqa: E731
    assert sum(np.linalg.norm(g) for g in net.dW[1:]) > 1e-3  # a check of zeros proves nothing
    for k in range(1, len(net.layersizes)):
        for ana, param in ((net.dW[k], net.W[k]), (net.db[k], net.b[k])):
            assert rel_err(numgrad(f, param), ana) < 1e-6
    assert rel_err(numgrad(f, x), net.da[0]) < 1e-6


@pytest.mark.parametrize("loss", list(reference.LOSSES))
@pytest.mark.parametrize("dense", [True, False])
def test_loss_derivatives_match_finite_differences(loss, dense):
    rng = np.random.default_rng(1)
    yhat = rng.uniform(0.05, 0.95, (6, 3))
    y = targets(rng, 3, loss, 6)
    if loss == "cross_entropy" and dense:
        y = rng.dirichlet(np.ones(3), 6)
    num = numgrad(lambda: reference.LOSSES[loss](y, yhat), yhat)
    assert rel_err(num, reference.LOSS_DERIVATIVES[loss](y, yhat)) < 1e-8


@pytest.mark.parametrize("name", list(reference.DERIVATIVES))
def test_activation_derivatives_match_finite_differences(name):
    z = np.concatenate([np.linspace(-3, -0.1, 7), np.linspace(0.1, 3, 7)])
    f = reference.ACTIVATIONS[name]
    num = (f(z + H) - f(z - H)) / (2 * H)
    np.testing.assert_allclose(reference.DERIVATIVES[name](z), num, rtol=1e-7, atol=1e-10)


def test_activation_edge_values():
    zero = np.zeros(1)
    assert reference.relu_deriv(zero)[0] == 0
    assert reference.leaky_relu_deriv(zero)[0] == 0.01
    assert reference.sigmoid_deriv(zero)[0] == 0.25  # s(1 - s), not the tutorial's 2 s(1 - s)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for dtype in (np.float32, np.float64):
            big = np.array([-1e4, 1e4], dtype=dtype)
            clipped = np.array([-500, 500], dtype=dtype)  # the input is clipped to [-500, 500]
            np.testing.assert_array_equal(reference.sigmoid(big), reference.sigmoid(clipped))
            np.testing.assert_allclose(reference.sigmoid(big), [0, 1], atol=1e-200)
            s = reference.softmax(np.array([[1000.0, 1000.0, -1000.0]], dtype=dtype))
            np.testing.assert_allclose(s, [[0.5, 0.5, 0]])


def test_tutorial_figure():
    pytest.importorskip("sklearn")
    X, y = reference.tutorial_data()
    assert X.shape == (1000, 2) and y.shape == (1000, 1)
    net = mlp.from_names([2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy")
    net.initialize(seed=42)
    yhat = net.forward(X)
    # the tutorial printed the sum over samples (its y.shape[1] divisor is 1): mean * 1000
    assert abs(reference.binary_cross_entropy(y, yhat) * 1000 - 693.62972747) < 1e-6


def test_labels_and_one_hot_agree():
    net, x, labels = random_case(3, ["tanh"], "softmax", "cross_entropy", 4, n=7)
    onehot = np.eye(4)[labels]
    results = []
    for y in (labels, onehot):
        yhat = net.forward(x)
        net.backward(y, yhat)
        results.append([net.loss(x, y), *net.dW[1:], *net.db[1:], *net.da])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        reference.cross_entropy(np.array([0, 4, 1, 0, 0, 2, 3]), net.predict(x))


def test_float32_end_to_end():
    for act, loss, out in PAIRS:
        net, x, y = random_case(0, ["tanh", "leaky_relu"], act, loss, out, dtype="float32")
        net.backward(y, net.forward(x))  # x and y are float64: the model casts
        for name in ("z", "a", "dz", "dW", "db"):
            assert all(v.dtype == np.float32 for v in getattr(net, name)[1:]), name
        assert all(v.dtype == np.float32 for v in net.a[:1] + net.da)
        history = net.fit(x, y, epochs=2, eta=0.1, batch_size=2)
        assert all(isinstance(h, float) and np.isfinite(h) for h in history)
        assert all(W.dtype == b.dtype == np.float32 for W, b in net.get_weights())
    z = np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)
    for name, f in reference.ACTIVATIONS.items():
        assert f(z).dtype == np.float32, name
        assert reference.DERIVATIVES.get(name, f)(z).dtype == np.float32, name
    p = reference.softmax(z)
    for name, f in reference.LOSSES.items():
        assert f(np.eye(3)[[0, 2]], p).dtype == np.float32, name
        assert reference.LOSS_DERIVATIVES[name](np.eye(3)[[0, 2]], p).dtype == np.float32


def test_float32_close_to_float64():
    nets = [
        random_case(4, ["tanh"], "softmax", "cross_entropy", 3, dtype=d)
        for d in ("float32", "float64")
    ]
    for net, x, y in nets:
        net.backward(y, net.forward(x))
    (n32, _, _), (n64, _, _) = nets
    for g32, g64 in zip(n32.dW[1:] + n32.db[1:], n64.dW[1:] + n64.db[1:]):
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-6)


def test_tutorial_constructor_matches_fused_delta():
    r = reference
    raw = mlp(
        [3, 4, 2],
        [r.tanh, r.sigmoid],
        [r.tanh_deriv, r.sigmoid_deriv],
        r.binary_cross_entropy_deriv,
    )
    named = mlp.from_names([3, 4, 2], ["tanh", "sigmoid"], "binary_cross_entropy")
    x, y = np.random.default_rng(0).normal(size=(5, 3)), np.eye(2)[[0, 1, 1, 0, 1]]
    for net in (raw, named):
        net.initialize(seed=7)
        net.backward(y, net.forward(x))
    assert raw.output_delta is None and raw.loss(x, y) == named.loss(x, y)
    for g_raw, g_named in zip(raw.dW[1:] + raw.db[1:], named.dW[1:] + named.db[1:]):
        np.testing.assert_allclose(g_raw, g_named, rtol=1e-10)


def test_fit_is_plain_minibatch_descent_in_order():
    net, x, y = random_case(5, ["tanh"], "identity", "mean_squared_error", 2, n=10)
    twin = mlp.from_names(net.layersizes, ["tanh", "identity"], "mean_squared_error")
    twin.set_weights(net.get_weights())
    history = net.fit(x, y, epochs=2, eta=0.05, batch_size=4)
    for _ in range(2):
        total = 0.0
        for s in (slice(0, 4), slice(4, 8), slice(8, 10)):  # the last batch is shorter
            yhat = twin.forward(x[s])
            total += reference.mean_squared_error(y[s], yhat) * len(yhat)
            twin.backward(y[s], yhat)
            twin.update(0.05)
        assert history.pop(0) == pytest.approx(total / 10, rel=1e-14)
    for (W, b), (W2, b2) in zip(net.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(W, W2)
        np.testing.assert_array_equal(b, b2)


def test_loss_leaves_cache_and_weights_are_copies():
    net, x, y = random_case(6, ["relu"], "sigmoid", "binary_cross_entropy", 1)
    a = net.forward(x).copy()
    net.loss(x[:2] + 1, y[:2])
    np.testing.assert_array_equal(net.a[-1], a)
    W, b = net.get_weights()[0]
    W += 1
    assert not np.any(net.W[1] == W)
    net.set_weights([(W, b[None, :]), net.get_weights()[1]])  # b of shape (1, n) is accepted
    assert net.b[1].shape == b.shape and np.all(net.W[1] == W)
    with pytest.raises(ValueError):
        net.set_weights([(W.T, b), net.get_weights()[1]])
    with pytest.raises(ValueError):
        net.loss(x, y.ravel())  # (n,) against (n, 1) would broadcast silently


@pytest.mark.parametrize(
    "acts, loss",
    [
        (["relu", "softmax"], "binary_cross_entropy"),
        (["relu", "sigmoid"], "cross_entropy"),
        (["softmax", "identity"], "mean_squared_error"),
        (["relu", "swish"], "mean_squared_error"),
        (["relu", "sigmoid"], "hinge"),
        (["relu"], "mean_squared_error"),
    ],
)
def test_unsupported_combinations_are_refused(acts, loss):
    with pytest.raises(ValueError):
        mlp.from_names([2, 3, 2], acts, loss)


def test_bad_dtype_is_refused():
    with pytest.raises(ValueError):
        mlp.from_names([2, 1], ["sigmoid"], "binary_cross_entropy", dtype="int32")
