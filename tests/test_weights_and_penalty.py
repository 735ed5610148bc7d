"""Sample weights and the L2 penalty of fit, against independent oracles: integer weights
are repeated rows, zero weights are dropped rows, and one penalized step is written out."""

import copy

import numpy as np
import pytest

from ferroprop import Network


def problem(loss, n=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    if loss == "cross_entropy":
        return X, rng.integers(0, 4, n), Network([3, 6, 4], ["tanh", "softmax"], loss, seed=seed)
    if loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (n, 2)).astype(float)
        return X, y, Network([3, 6, 2], ["relu", "sigmoid"], loss, seed=seed)
    if loss == "poisson":
        y = rng.poisson(1.5, (n, 2)).astype(float)
        return X, y, Network([3, 6, 2], ["gelu", "exp"], loss, seed=seed)
    y = rng.normal(size=(n, 2))
    return X, y, Network([3, 6, 2], ["leaky_relu", "identity"], loss, seed=seed)


def assert_same_weights(a, b, rtol=1e-12):
    for (Wa, ba), (Wb, bb) in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(Wa, Wb, rtol=rtol, atol=rtol * np.abs(Wb).max())
        np.testing.assert_allclose(ba, bb, rtol=rtol, atol=rtol * max(np.abs(Wb).max(), 1e-300))


LOSSES = [
    "binary_cross_entropy",
    "cross_entropy",
    "mean_squared_error",
    "huber",
    "mean_absolute_error",
    "poisson",
]
OPTIMIZERS = ["sgd", "adam"]


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_integer_weights_are_repeated_rows(loss, optimizer):
    X, y, net = problem(loss)
    w = np.random.default_rng(1).integers(1, 4, len(X))
    weighted, repeated = copy.deepcopy(net), copy.deepcopy(net)
    h1 = weighted.fit(X, y, epochs=5, learning_rate=0.1, optimizer=optimizer, sample_weight=w)
    repeated.fit(
        np.repeat(X, w, axis=0),
        np.repeat(y, w, axis=0),
        epochs=5,
        learning_rate=0.1,
        optimizer=optimizer,
    )
    assert_same_weights(weighted, repeated)
    assert np.isfinite(h1).all()


@pytest.mark.parametrize("loss", LOSSES)
def test_zero_weights_drop_rows_and_scale_does_not_matter(loss):
    X, y, net = problem(loss)
    w = np.ones(len(X))
    w[::3] = 0.0
    a, b, c = copy.deepcopy(net), copy.deepcopy(net), copy.deepcopy(net)
    a.fit(X, y, epochs=4, learning_rate=0.2, sample_weight=w)
    b.fit(X[w > 0], y[w > 0], epochs=4, learning_rate=0.2)
    c.fit(X, y, epochs=4, learning_rate=0.2, sample_weight=7.5 * w)
    assert_same_weights(a, b)
    assert_same_weights(a, c)


def test_minibatches_of_zero_weight_are_skipped():
    X, y, net = problem("mean_squared_error", n=8)
    w = np.array([0, 0, 0, 0, 1, 1, 1, 1.0])
    a, b = copy.deepcopy(net), copy.deepcopy(net)
    a.fit(X, y, epochs=3, learning_rate=0.1, batch_size=4, shuffle=False, sample_weight=w)
    b.fit(X[4:], y[4:], epochs=3, learning_rate=0.1, batch_size=4, shuffle=False)
    assert_same_weights(a, b)


@pytest.mark.parametrize("loss", LOSSES)
def test_one_penalized_step_written_out(loss):
    X, y, net = problem(loss)
    alpha, lr, n = 0.3, 0.05, len(X)
    manual = copy.deepcopy(net)
    manual.forward(X)
    manual.backward(y)
    expected = [
        (W - lr * (layer.dW + alpha * W / n), b - lr * layer.db)
        for (W, b), layer in zip(net.get_weights(), manual.layers)
    ]
    squares = sum((W**2).sum() for W, _ in net.get_weights())
    history = net.fit(X, y, epochs=1, learning_rate=lr, alpha=alpha)
    assert history[0] == pytest.approx(manual.loss(X, y) + 0.5 * alpha * squares / n, rel=1e-12)
    for (W, b), (We, be) in zip(net.get_weights(), expected):
        np.testing.assert_allclose(W, We, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(b, be, rtol=1e-13, atol=1e-15)


def test_weighted_penalty_divides_by_the_weight_sum():
    X, y, net = problem("mean_squared_error")
    w = np.full(len(X), 2.0)
    a, b = copy.deepcopy(net), copy.deepcopy(net)
    # Doubling every weight doubles Σw: the same as halving alpha.
    a.fit(X, y, epochs=3, learning_rate=0.1, alpha=0.4, sample_weight=w)
    b.fit(X, y, epochs=3, learning_rate=0.1, alpha=0.2)
    assert_same_weights(a, b)


@pytest.mark.parametrize(
    ("w", "error", "match"),
    [
        (np.ones(29), ValueError, "30 weights"),
        (-np.ones(30), ValueError, "non-negative"),
        (np.r_[np.nan, np.ones(29)], ValueError, "finite"),
        (np.zeros(30), ValueError, "all weights zero"),
        (np.ones((30, 1)), ValueError, "1-D"),
        (np.ones(30, dtype=complex), TypeError, "complex"),
        ("heavy", TypeError, "sample_weight"),
    ],
)
def test_bad_sample_weight(w, error, match):
    X, y, net = problem("mean_squared_error")
    before = net.get_weights()
    with pytest.raises(error, match=match):
        net.fit(X, y, epochs=1, sample_weight=w)
    for (W, _), (W0, _) in zip(net.get_weights(), before):
        np.testing.assert_array_equal(W, W0)


def test_bad_alpha():
    X, y, net = problem("mean_squared_error")
    with pytest.raises(ValueError, match="alpha"):
        net.fit(X, y, alpha=-1.0)
    with pytest.raises(ValueError, match="alpha"):
        net.fit(X, y, alpha=float("inf"))


def test_loss_and_gradient_is_the_weighted_penalized_objective():
    X, y, net = problem("binary_cross_entropy")
    w = np.random.default_rng(2).integers(1, 4, len(X)).astype(float)
    data, penalty, grads = net.loss_and_gradient(X, y, sample_weight=w, alpha=0.2)
    Xr, yr = np.repeat(X, w.astype(int), axis=0), np.repeat(y, w.astype(int), axis=0)
    assert data == pytest.approx(net.loss(Xr, yr), rel=1e-12)
    squares = sum((W**2).sum() for W, _ in net.get_weights())
    assert penalty == pytest.approx(0.1 * squares / w.sum(), rel=1e-12)
    net.forward(Xr)
    net.backward(yr)
    for (dW, db), layer, (W, _) in zip(grads, net.layers, net.get_weights()):
        np.testing.assert_allclose(dW, layer.dW + 0.2 * W / w.sum(), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db, layer.db, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="sample_weight"):
        net.loss_and_gradient(X, y, sample_weight=-w)


# -- weights of any finite size ------------------------------------------------------------


def fitted(net, X, y, **kw):
    net = copy.deepcopy(net)
    history = net.fit(X, y, epochs=3, learning_rate=0.1, seed=3, **kw)
    return history, net.get_weights()


def assert_bits(a, b):
    (ha, wa), (hb, wb) = a, b
    assert ha == hb
    for (Wa, ba), (Wb, bb) in zip(wa, wb):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("width", [6, 40])  # the small-network engine and the other
@pytest.mark.parametrize("batch_size", [None, 7])
@pytest.mark.parametrize("weight", [3.0, 1e308, 1e-310, 5e-324, 1.7976931348623157e308])
def test_uniform_weights_of_any_size_train_exactly_as_no_weights(dtype, width, batch_size, weight):
    X, y, _ = problem("binary_cross_entropy")
    net = Network([3, width, 2], ["relu", "sigmoid"], "binary_cross_entropy", dtype, seed=0)
    for optimizer in OPTIMIZERS:
        kw = {"batch_size": batch_size, "optimizer": optimizer}
        assert_bits(
            fitted(net, X, y, sample_weight=np.full(len(X), weight), **kw),
            fitted(net, X, y, **kw),
        )


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_huge_and_tiny_weights_train_as_the_same_weights_scaled(loss, dtype):
    X, y, net = problem(loss)
    net = Network(net.layer_sizes, net.activations, loss, dtype, seed=0)
    w = np.random.default_rng(4).uniform(0.5, 2.0, len(X))
    w[::5] = 0.0
    base = fitted(net, X, y, sample_weight=w, batch_size=8)
    # Scaled by powers of two: the same bits, over the whole range of float64.
    for power in (1000, -1000, -1020):
        assert_bits(fitted(net, X, y, sample_weight=np.ldexp(w, power), batch_size=8), base)
    # Scaled by other factors: the same weights, rounded.
    for factor in (1e300, 1e-300):
        history, weights = fitted(net, X, y, sample_weight=w * factor, batch_size=8)
        np.testing.assert_allclose(history, base[0], rtol=1e-5 if dtype == "float32" else 1e-12)
        for (W, _), (W0, _) in zip(weights, base[1]):
            np.testing.assert_allclose(W, W0, rtol=1e-4 if dtype == "float32" else 1e-11)


def test_tiny_uniform_weights_do_not_blame_the_learning_rate():
    X, y, net = problem("mean_squared_error")
    history = net.fit(X, y, epochs=2, learning_rate=0.1, sample_weight=np.full(len(X), 1e-310))
    assert np.isfinite(history).all()


def test_the_penalty_keeps_its_meaning_with_huge_and_tiny_weights():
    X, y, net = problem("mean_squared_error")
    for scale in (2.0**1000, 2.0**-1000):
        # alpha / Σw is what counts: doubling the weights is halving alpha, at any scale.
        a = fitted(net, X, y, sample_weight=np.full(len(X), scale), alpha=0.4 * scale)
        b = fitted(net, X, y, alpha=0.4)
        assert_bits(a, b)
        data, penalty, grads = net.loss_and_gradient(
            X, y, sample_weight=np.full(len(X), scale), alpha=0.4 * scale
        )
        assert (data, penalty) == net.loss_and_gradient(X, y, alpha=0.4)[:2]


def test_a_penalty_beyond_the_range_is_refused():
    X, y, net = problem("mean_squared_error")
    w = np.full(len(X), 5e-324)  # alpha / Σw = 1e-4 / 1.5e-322 overflows
    with pytest.raises(ValueError, match=r"alpha / sum\(sample_weight\) overflows"):
        net.fit(X, y, epochs=1, alpha=1e-4, sample_weight=w)
    with pytest.raises(ValueError, match="alpha"):
        net.loss_and_gradient(X, y, sample_weight=w, alpha=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loss_and_gradient_with_weights_of_any_size(dtype):
    X, y, _ = problem("binary_cross_entropy")
    net = Network([3, 6, 2], ["relu", "sigmoid"], "binary_cross_entropy", dtype, seed=0)
    plain = net.loss_and_gradient(X, y)
    for weight in (1e308, 1e-310, 3.0):
        got = net.loss_and_gradient(X, y, sample_weight=np.full(len(X), weight))
        assert got[:2] == plain[:2]
        for (dW, db), (dW0, db0) in zip(got[2], plain[2]):
            np.testing.assert_array_equal(dW, dW0)
            np.testing.assert_array_equal(db, db0)
    w = np.random.default_rng(5).uniform(0.5, 2.0, len(X))
    a = net.loss_and_gradient(X, y, sample_weight=w)
    b = net.loss_and_gradient(X, y, sample_weight=np.ldexp(w, 1020))
    assert a[:2] == b[:2]


@pytest.mark.parametrize(
    ("dtype", "small"), [("float32", 1e-40), ("float32", 1e-300), ("float64", 1e-300)]
)
def test_weights_whose_ratios_the_dtype_cannot_hold_are_refused(dtype, small):
    X, y, _ = problem("mean_squared_error")
    net = Network([3, 6, 2], ["leaky_relu", "identity"], "mean_squared_error", dtype, seed=0)
    w = np.ones(len(X))
    w[0], w[1] = 1e308 if dtype == "float64" else 1e30, small
    with pytest.raises(ValueError, match="would count as 0"):
        net.fit(X, y, epochs=1, sample_weight=w)
    with pytest.raises(ValueError, match="would count as 0"):
        net.loss_and_gradient(X, y, sample_weight=w)
