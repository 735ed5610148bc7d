"""Overflow is an error wherever it happens, never a value: a pre-activation z that is not
finite in any layer (whatever the activation hides it behind: ReLU's 0 for NaN, the
sigmoid's clip, tanh's ±1, softmax's 0 for -inf), a loss, a penalty or a gradient that
is not finite. Through every entry point, both dtypes, both training engines (layers of at
most 16 units train in their own kernels)."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from ferroprop import Network
from ferroprop.sklearn import MLPClassifier, MLPRegressor

HIDDEN = ["relu", "leaky_relu", "sigmoid", "tanh", "identity"]
OUTPUTS = {
    "mean_squared_error": ("identity", 1),
    "binary_cross_entropy": ("sigmoid", 1),
    "cross_entropy": ("softmax", 2),
}
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
DTYPES = ["float32", "float64"]
BIG = {"float32": 3e38, "float64": 1e308}


def network(hidden, loss, dtype, width=1, column=(2.0, -1.9)):
    """Two inputs into ``width`` hidden units; unit 0 gets weights ``column``, the others 0.
    ``width`` above 16 takes fit's large-network engine."""
    out, n_out = OUTPUTS[loss]
    net = Network([2, width, n_out], [hidden, out], loss, dtype, seed=0)
    W = np.zeros((2, width))
    W[:, 0] = column
    net.set_weights([(W, np.zeros(width)), (np.ones((width, n_out)), np.zeros(n_out))])
    return net


def targets(loss, n):
    return np.zeros(n, dtype=np.int64) if loss == "cross_entropy" else np.zeros((n, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", list(OUTPUTS))
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("column", [(2.0, -1.9), (2.0, -2.0)])  # z = ±inf, or inf − inf
def test_a_hidden_overflow_is_an_error_in_every_evaluation(hidden, loss, dtype, sign, column):
    net = network(hidden, loss, dtype, column=column)
    X = np.array([[0.5, 0.5], [sign * BIG[dtype], sign * BIG[dtype]]])
    y = targets(loss, 2)
    match = r"X: the pre-activation z of layer 0 \(layers\[0\]\) overflowed"
    for method in ("predict", "forward", "loss", "loss_and_gradient", "gradient_check"):
        args = (X,) if method in ("predict", "forward") else (X, y)
        with pytest.raises(ValueError, match=match):
            getattr(net, method)(*args)
    # The rows that do not overflow still work.
    assert np.isfinite(net.predict(X[:1])).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_overflow_in_a_deeper_layer_names_that_layer(dtype):
    big = BIG[dtype]
    net = Network([1, 3, 2, 1], ["relu", "tanh", "identity"], "mean_squared_error", dtype)
    net.set_weights(
        [
            (np.full((1, 3), 1.0), np.zeros(3)),
            (np.array([[big, -big]] * 3), np.zeros(2)),  # 3·big overflows; tanh hides it
            (np.ones((2, 1)), np.zeros(1)),
        ]
    )
    with pytest.raises(ValueError, match=r"layer 1 \(layers\[1\]\)"):
        net.predict([[1.0]])
    assert np.isfinite(net.predict([[0.1]])).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_hides_no_minus_infinity(dtype):
    big = BIG[dtype]
    net = Network([1, 2], ["softmax"], "cross_entropy", dtype)
    net.set_weights([(np.array([[-big, 1.0]]), np.zeros(2))])
    # z = [−inf, 2]: softmax would say [0, 1].
    with pytest.raises(ValueError, match="layer 0"):
        net.predict([[2.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_finite_values_are_not_an_overflow(dtype):
    big = BIG[dtype]
    for hidden in HIDDEN:
        net = network(hidden, "mean_squared_error", dtype, width=3, column=(4 / big, 0.0))
        X = np.array([[big / 8, 0.0], [-big / 8, 1.0]])
        assert np.isfinite(net.predict(X)).all()
        assert np.isfinite(net.fit(X, np.zeros((2, 1)), epochs=1, learning_rate=1e-30)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [1, 20])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("batch_size", [None, 2])
def test_fit_ends_on_an_overflow_with_the_weights_restored(hidden, dtype, width, batch_size):
    net = network(hidden, "mean_squared_error", dtype, width=width)
    before = net.get_weights()
    X = np.array([[BIG[dtype], BIG[dtype]], [0.5, 0.5], [0.25, 0.0]])
    with pytest.raises(ValueError, match=r"z of layer 0 \(layers\[0\]\) overflowed") as err:
        net.fit(X, np.zeros((3, 1)), epochs=3, batch_size=batch_size, shuffle=False)
    assert "before any update" in str(err.value)
    assert "learning_rate" not in str(err.value)
    for (W, b), (W0, b0) in zip(net.get_weights(), before):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("width", [3, 20])
def test_fit_ends_on_an_overflow_after_updates(width):
    # The overflowing row comes in the second batch, after an update.
    net = network("relu", "mean_squared_error", "float64", width=width)
    X = np.array([[0.5, 0.5], [0.25, 0.0], [1e308, 1e308]])
    with pytest.raises(ValueError, match="epoch 1 \\(batch 2\\).*learning_rate"):
        net.fit(X, np.zeros((3, 1)), epochs=3, batch_size=2, shuffle=False)
    assert all(np.isfinite(W).all() for W, _ in net.get_weights())


# The weights an epoch started from come back when it diverges after updates: from the
# fit's own copy, or, for the first epoch of each run of epochs (every epoch with a
# callback), from the network, which holds them while fit trains its private copy. The
# sizes take the feature-major engine, the row-major one and threaded products.
@pytest.mark.parametrize("sizes", [[2, 8, 1], [2, 64, 1], [256, 1024, 1]])
def test_a_diverging_epoch_gives_back_the_weights_it_started_from(sizes):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, sizes[0])), rng.normal(size=(16, 1))
    net = Network(sizes, ["relu", "identity"], "mean_squared_error", seed=0)
    before = net.get_weights()
    kw = dict(batch_size=8, shuffle=False)
    with pytest.raises(ValueError, match=r"epoch 1 \(batch 2\).*were restored"):
        net.fit(X, y, epochs=2, learning_rate=1e200, **kw)
    for (W, b), (W0, b0) in zip(net.get_weights(), before):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
    shown = []
    with pytest.raises(ValueError, match=r"epoch 3 \(batch 2\).*were restored"):
        net.fit(
            X,
            y,
            epochs=4,
            learning_rate=lambda epoch: 1e200 if epoch == 2 else 1e-3,
            callback=lambda epoch, loss: shown.append(net.get_weights()),
            **kw,
        )
    assert len(shown) == 2
    for (W, b), (W0, b0) in zip(net.get_weights(), shown[-1]):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
    assert not np.array_equal(shown[-1][0][0], before[0][0])
    # The estimators record the diverged epochs as NaN, keep those weights and raise
    # scikit-learn's error.
    est = MLPRegressor(hidden_layer_sizes=(sizes[1],), batch_size=8, max_iter=1, solver="sgd")
    est.set_params(shuffle=False, momentum=0.0, random_state=0, warm_start=True)
    with pytest.warns(ConvergenceWarning):
        est.fit(X, y[:, 0])
    kept = [W.copy() for W in est.coefs_ + est.intercepts_]
    est.set_params(learning_rate_init=1e200, max_iter=3)
    with pytest.raises(ValueError, match="epoch 1; the weights from the start"):
        est.fit(X, y[:, 0])
    assert np.isnan(est.loss_curve_[-3:]).all()
    for W, W0 in zip(est.coefs_ + est.intercepts_, kept):
        np.testing.assert_array_equal(W, W0)


def test_fit_refuses_validation_data_that_overflows():
    net = network("tanh", "mean_squared_error", "float64")
    X = np.array([[0.5, 0.5], [0.25, 0.0]])
    with pytest.raises(ValueError, match="validation_data X: the pre-activation z of layer 0"):
        net.fit(
            X,
            np.zeros((2, 1)),
            epochs=2,
            validation_data=(np.array([[1e308, 1e308]]), np.zeros((1, 1))),
        )


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_gradient_overflow_is_an_error(dtype):
    big = BIG[dtype]
    net = Network([1, 1, 1], ["identity", "identity"], "mean_squared_error", dtype)
    W2 = np.array([[big / 2]], dtype=dtype)
    net.set_weights([(np.ones((1, 1)), np.zeros(1)), (W2, np.zeros(1))])
    X, y = np.ones((1, 1)), np.array([[-big]])  # ŷ − y = 1.5 · big overflows
    net.forward(X)
    with pytest.raises(ValueError, match="gradient dW of layer 1"):
        net.backward(y)
    with pytest.raises(ValueError, match="update needs gradients"):
        net.update(0.1)
    np.testing.assert_array_equal(net.get_weights()[1][0], W2)
    with pytest.raises(ValueError, match="overflowed"):
        net.loss_and_gradient(X, y)
    with pytest.raises(ValueError, match="overflowed"):
        net.gradient_check(X, y)


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_and_gradient_refuses_what_loss_refuses(dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50, 3))
    net = Network([3, 4, 1], ["tanh", "identity"], "mean_squared_error", dtype, seed=0)
    huge = np.full((50, 1), 1e200 if dtype == "float64" else 1e30)
    with pytest.raises(ValueError, match="the loss is inf"):
        net.loss(X, huge)
    with pytest.raises(ValueError, match="the loss is inf"):
        net.loss_and_gradient(X, huge)
    # alpha/2 · Σ‖W‖² / n beyond the range, with Σ‖W‖² = 1600 and n = 1.
    heavy = Network([3, 4, 1], ["tanh", "identity"], "mean_squared_error", dtype, seed=0)
    heavy.set_weights([(np.full((3, 4), 10.0), np.zeros(4)), (np.full((4, 1), 10.0), np.zeros(1))])
    with pytest.raises(ValueError, match="alpha is too large"):
        heavy.loss_and_gradient(X[:1], np.zeros((1, 1)), alpha=1e308)
    # A large penalty that is a number is returned as one.
    data, penalty, grads = net.loss_and_gradient(X, np.zeros((50, 1)), alpha=1e30)
    assert np.isfinite([data, penalty]).all() and penalty > 1e25
    assert all(np.isfinite(dW).all() and np.isfinite(db).all() for dW, db in grads)


def test_estimators_refuse_to_predict_from_an_overflow():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    for est in (MLPClassifier(max_iter=20, random_state=0), MLPRegressor(max_iter=20)):
        est.fit(X, y)
        W = est.coefs_[0].copy()
        W[:, 0] = [2.0, -1.9, 0.0]  # z of hidden unit 0 = 2 · 1e308 − 1.9 · 1e308
        est.coefs_ = [W, *est.coefs_[1:]]
        assert np.isfinite(est.predict(X)).all()
        with pytest.raises(ValueError, match="layer 0.*overflowed"):
            est.predict(np.array([[1e308, 1e308, 0.0]]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_of_large_layers_in_halves_reports_the_overflow(dtype):
    # 300 → 256 units over 64 rows: fit passes each batch as two halves on two threads.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 300))
    X[50] = BIG[dtype]
    net = Network([300, 256, 1], ["relu", "identity"], "mean_squared_error", dtype, seed=0)
    before = net.get_weights()
    with pytest.raises(ValueError, match=r"z of layer 0 \(layers\[0\]\) overflowed"):
        net.fit(X, np.zeros((64, 1)), epochs=2)
    for (W, _), (W0, _) in zip(net.get_weights(), before):
        np.testing.assert_array_equal(W, W0)
    with pytest.raises(ValueError, match="layer 0"):
        net.predict(X)
