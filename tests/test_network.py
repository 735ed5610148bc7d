"""The Network API: step semantics, gradient checks, reproducibility, input handling."""

import copy
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ferroprop
from ferroprop import Network

SMOOTH = ["identity", "leaky_relu", "sigmoid", "tanh", "relu"]


def circles_like(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (np.hypot(X[:, 0], X[:, 1]) < 1.0).astype(float)
    return X, y


# -- gradients against finite differences ------------------------------------------------


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    hidden=st.lists(st.sampled_from(SMOOTH), max_size=3),
    widths=st.lists(st.integers(1, 8), min_size=5, max_size=5),
    pair=st.sampled_from(
        [
            ("sigmoid", "binary_cross_entropy"),
            ("softmax", "cross_entropy"),
            ("tanh", "mean_squared_error"),
            ("softmax", "mean_squared_error"),
        ]
    ),
    seed=st.integers(0, 2**31),
)
def test_gradient_check_on_random_architectures(hidden, widths, pair, seed):
    output, loss = pair
    sizes = widths[: len(hidden) + 2]
    sizes[-1] = max(sizes[-1], 2) if output == "softmax" else sizes[-1]
    net = Network(sizes, [*hidden, output], loss, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(7, sizes[0]))
    y = rng.integers(0, sizes[-1], 7) if loss == "cross_entropy" else rng.random((7, sizes[-1]))
    net.forward(X)
    z = np.concatenate([layer.z.ravel() for layer in net.layers])
    # A ReLU kink within the finite-difference step would make the difference wrong.
    if any(h in ("relu", "leaky_relu") for h in hidden) and np.abs(z).min() < 1e-3:
        return
    # Central differences in float64 are accurate to ~1e-10 absolutely; relative to the
    # floor of 1.2e-4 that is ~1e-6 for the smallest gradients (see gradient_check).
    assert net.gradient_check(X, y) < 1e-5


def test_backward_matches_independent_finite_differences():
    """Not through gradient_check: perturb weights with set_weights, difference loss()."""
    net = Network([3, 5, 2], ["tanh", "sigmoid"], "binary_cross_entropy", seed=3)
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(9, 3)), rng.integers(0, 2, (9, 2)).astype(float)
    net.forward(X)
    net.backward(y)
    analytic = [(layer.dW, layer.db) for layer in net.layers]
    weights = net.get_weights()
    h = 1e-6
    for k, (W, b) in enumerate(weights):
        for arr, grad in ((W, analytic[k][0]), (b, analytic[k][1])):
            for i in np.ndindex(arr.shape):
                old = arr[i]
                arr[i] = old + h
                net.set_weights(weights)
                up = net.loss(X, y)
                arr[i] = old - h
                net.set_weights(weights)
                down = net.loss(X, y)
                arr[i] = old
                assert (up - down) / (2 * h) == pytest.approx(grad[i], rel=1e-6, abs=1e-10)


def test_gradient_check_in_both_dtypes_and_sensitive_to_its_step():
    X, y = circles_like(20)
    net = Network([2, 3, 1], ["tanh", "sigmoid"], seed=0)
    assert net.gradient_check(X, y) < 1e-6
    # float32 gradients against float64 differences: the error of float32 arithmetic.
    net32 = Network([2, 3, 1], ["tanh", "sigmoid"], dtype="float32", seed=0)
    assert 1e-9 < net32.gradient_check(X, y) < 1e-4
    # A step far too large for the curvature is reported as a large error: the check
    # measures something that can fail.
    assert net.gradient_check(X, y, eps=0.5) > 1e-3


# -- the step API ---------------------------------------------------------------------


def test_layers_expose_the_last_pass_read_only():
    net = Network([2, 4, 3, 1], ["relu", "relu", "sigmoid"], seed=0)
    assert net.layers[0].z is None and net.layers[0].W.shape == (2, 4)
    X, y = circles_like(10)
    yhat = net.forward(X)
    np.testing.assert_array_equal(net.layers[-1].a, yhat)
    for layer in net.layers:
        for name in ("z", "a", "W", "b"):
            arr = getattr(layer, name)
            with pytest.raises(ValueError):
                arr[...] = 0  # read-only: assigning to a copy would silently do nothing
    net.backward(y)
    assert net.layers[1].dW.shape == (4, 3) and net.layers[1].da.shape == (10, 3)


def test_weights_can_be_assigned_through_layers():
    net = Network([2, 3, 1], ["tanh", "sigmoid"], seed=0)
    net.layers[0].W = np.ones((2, 3))
    net.layers[1].b = [0.5]
    np.testing.assert_array_equal(net.get_weights()[0][0], np.ones((2, 3)))
    assert net.get_weights()[1][1][0] == 0.5
    with pytest.raises(ValueError, match="shape"):
        net.layers[0].W = np.ones((3, 2))


def test_predict_and_loss_leave_the_step_values_alone():
    net = Network([2, 4, 1], ["relu", "sigmoid"], seed=0)
    X, y = circles_like(10)
    net.forward(X)
    net.backward(y)
    before = {n: getattr(net.layers[0], n) for n in ("z", "a", "dz", "dW", "db", "da")}
    net.predict(X[:3])
    net.loss(X[:4], y[:4])
    for n, v in before.items():
        np.testing.assert_array_equal(getattr(net.layers[0], n), v)


def test_calls_out_of_order_are_refused():
    net = Network([2, 3, 1], ["tanh", "sigmoid"], seed=0)
    X, y = circles_like(5)
    with pytest.raises(ValueError, match="forward"):
        net.backward(y)
    net.forward(X)
    with pytest.raises(ValueError, match="backward"):
        net.update(0.1)
    net.backward(y)
    net.update(0.1)
    with pytest.raises(ValueError, match="forward"):
        net.backward(y)


def test_update_is_gradient_descent():
    net = Network([2, 3, 1], ["tanh", "sigmoid"], seed=0)
    X, y = circles_like(8)
    (W0, b0), (W1, b1) = net.get_weights()
    net.forward(X)
    net.backward(y)
    dW0, db1 = net.layers[0].dW, net.layers[1].db
    net.update(0.25)
    (W0n, _), (_, b1n) = net.get_weights()
    np.testing.assert_array_equal(W0n, W0 - 0.25 * dW0)
    np.testing.assert_array_equal(b1n, b1 - 0.25 * db1)


# -- fit ----------------------------------------------------------------------------


def test_same_seed_is_bit_identical_and_seeds_differ():
    X, y = circles_like(200)

    def train(seed, optimizer):
        net = Network([2, 8, 8, 1], ["relu", "tanh", "sigmoid"], seed=seed)
        h = net.fit(
            X, y, epochs=20, learning_rate=0.01, batch_size=16, optimizer=optimizer, seed=seed
        )
        return h, net.get_weights()

    for optimizer in ("sgd", "adam"):
        h1, w1 = train(5, optimizer)
        h2, w2 = train(5, optimizer)
        assert h1 == h2
        for (a, b), (c, d) in zip(w1, w2):
            assert np.array_equal(a, c) and np.array_equal(b, d)
        _, w3 = train(6, optimizer)
        assert not np.array_equal(w1[0][0], w3[0][0])


def test_fit_learns_and_keeps_the_adam_state_across_calls():
    X, y = circles_like(200)
    a = Network([2, 16, 1], ["tanh", "sigmoid"], seed=1)
    b = copy.deepcopy(a)
    h = a.fit(X, y, epochs=40, learning_rate=0.05, optimizer="adam")
    b.fit(X, y, epochs=25, learning_rate=0.05, optimizer="adam")
    b.fit(X, y, epochs=15, learning_rate=0.05, optimizer="adam")
    assert h[-1] < 0.5 * h[0]
    for (Wa, ba), (Wb, bb) in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)


def test_callback_sees_each_epoch_and_can_stop():
    X, y = circles_like(50)
    net = Network([2, 4, 1], ["tanh", "sigmoid"], seed=0)
    seen = []
    history = net.fit(X, y, epochs=10, callback=lambda e, loss: seen.append((e, loss)) or e == 4)
    assert [e for e, _ in seen] == [1, 2, 3, 4] and history == [loss for _, loss in seen]

    def boom(epoch, loss):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        net.fit(X, y, epochs=10, callback=boom)


def test_divergence_raises_and_leaves_finite_weights():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(50, 3)) * 100, rng.normal(size=(50, 1)) * 100
    net = Network([3, 16, 1], ["identity", "identity"], "mean_squared_error", seed=0)
    with pytest.raises(ValueError, match="restored"):
        net.fit(X, y, epochs=100, learning_rate=1.0, batch_size=1)
    assert all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in net.get_weights())


def test_float32_stays_float32():
    net = Network([2, 4, 1], dtype="float32", seed=0, loss="binary_cross_entropy")
    X, y = circles_like(30)
    assert net.forward(X).dtype == np.float32
    assert net.predict(X).dtype == np.float32
    assert all(W.dtype == np.float32 for W, _ in net.get_weights())
    net.fit(X, y, epochs=3)
    assert net.get_weights()[0][0].dtype == np.float32
    assert Network([2, 1], dtype=np.float32, seed=0).dtype == np.float32


def test_defaults_follow_the_loss_and_output():
    assert Network([2, 3, 1], loss="binary_cross_entropy").activations == ["relu", "sigmoid"]
    assert Network([2, 3, 4], loss="cross_entropy").activations == ["relu", "softmax"]
    assert Network([2, 3, 4], ["tanh", "softmax"]).loss_name == "cross_entropy"
    assert Network([2, 3, 1], "tanh").activations == ["tanh", "identity"]
    assert Network([2, 3, 1]).loss_name == "mean_squared_error"


def test_pickle_and_deepcopy_round_trip():
    net = Network([2, 5, 3], ["tanh", "softmax"], dtype="float32", seed=4)
    X, _ = circles_like(6)
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert repr(clone) == repr(net)
        np.testing.assert_array_equal(clone.predict(X), net.predict(X))


# -- inputs ---------------------------------------------------------------------------


def test_layouts_and_integer_inputs_give_the_same_results_and_are_not_modified():
    net = Network([3, 4, 1], ["relu", "sigmoid"], seed=0)
    rng = np.random.default_rng(0)
    X = rng.integers(-3, 4, (12, 3)).astype(float)
    y = rng.integers(0, 2, 12)
    want = net.predict(X)
    variants = [
        np.asfortranarray(X),
        X.astype(np.int64),
        X.astype(np.float32),
        np.repeat(X, 2, axis=0)[::2],  # strided
        X.tolist(),
    ]
    ro = X.copy()
    ro.flags.writeable = False
    variants.append(ro)
    for v in variants:
        np.testing.assert_array_equal(net.predict(v), want)
    for yv in (y, y.astype(bool), y.astype(float).reshape(-1, 1), y.tolist()):
        Xc, yc = X.copy(), copy.copy(yv)
        a = copy.deepcopy(net)
        a.fit(Xc, yc, epochs=2, seed=0)
        np.testing.assert_array_equal(Xc, X)
        np.testing.assert_array_equal(np.asarray(yc), np.asarray(yv))


BAD_INIT = [
    (dict(layer_sizes=[2]), ValueError, "at least 2"),
    (dict(layer_sizes=[2, 0, 1]), ValueError, "layer_sizes\\[1\\] = 0"),
    (dict(layer_sizes=[2, -3, 1]), ValueError, "layer_sizes\\[1\\]"),
    (dict(layer_sizes=[2, 2.5, 1]), TypeError, "integer"),
    (dict(layer_sizes="21"), TypeError, "layer_sizes"),
    (dict(layer_sizes=[2, 2**40, 2**40, 1]), ValueError, "fewer than 2\\*\\*64 parameters"),
    (dict(layer_sizes=[2, 1], activations=["mish"]), ValueError, "unknown activations 'mish'"),
    (dict(layer_sizes=[2, 1], activations=["relu", "relu"]), ValueError, "1 names"),
    (
        dict(layer_sizes=[2, 3, 1], activations=["softmax", "sigmoid"]),
        ValueError,
        "output layer only",
    ),
    (
        dict(layer_sizes=[2, 1], activations=["relu"], loss="binary_cross_entropy"),
        ValueError,
        "sigmoid",
    ),
    (
        dict(layer_sizes=[2, 3], activations=["sigmoid"], loss="cross_entropy"),
        ValueError,
        "softmax",
    ),
    (dict(layer_sizes=[2, 1], loss="hinge"), ValueError, "unknown loss 'hinge'"),
    (dict(layer_sizes=[2, 1], dtype="float16"), ValueError, "dtype"),
    (dict(layer_sizes=[2, 1], seed=-1), ValueError, "seed"),
    (dict(layer_sizes=[2, 1], seed="a"), TypeError, "seed"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD_INIT)
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Network(**kwargs)


def _net():
    return Network([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy", seed=0)


X_OK = np.zeros((4, 2))
Y_OK = np.array([0.0, 1.0, 1.0, 0.0])
BAD_X = [
    (np.zeros((4, 3)), ValueError, "2 features"),
    (np.zeros(2), ValueError, "2-D"),
    (np.zeros((0, 2)), ValueError, "at least one row"),
    (np.array([[np.nan, 0.0]]), ValueError, "NaN"),
    (np.array([[np.inf, 0.0]]), ValueError, "NaN or infinity"),
    (np.zeros((2, 2), dtype=complex), TypeError, "complex"),
    (np.array([["a", "b"]]), TypeError, "dtype"),
    (np.array([[1, None]], dtype=object), TypeError, "object"),
    ("ab", TypeError, "X"),
    (None, TypeError, "X"),
    ([[1.0, 2.0], [3.0]], ValueError, "X"),
]


@pytest.mark.parametrize(("X", "error", "match"), BAD_X)
@pytest.mark.parametrize("method", ["forward", "predict", "loss", "fit", "gradient_check"])
def test_bad_X_everywhere(method, X, error, match):
    net = _net()
    args = (X,) if method in ("forward", "predict") else (X, Y_OK)
    with pytest.raises(error, match=match):
        getattr(net, method)(*args)


BAD_Y = [
    (np.zeros(5), ValueError, "shape"),
    (np.zeros((4, 2)), ValueError, "shape"),
    (np.array([0.0, 1.0, 2.0, 0.0]), ValueError, r"\[0, 1\]"),
    (np.array([0.0, np.nan, 1.0, 0.0]), ValueError, "NaN"),
    (np.zeros((4, 1, 1)), ValueError, "1-D or 2-D"),
    (np.zeros(4, dtype=complex), TypeError, "complex"),
]


@pytest.mark.parametrize(("y", "error", "match"), BAD_Y)
@pytest.mark.parametrize("method", ["backward", "loss", "fit", "gradient_check"])
def test_bad_y_everywhere(method, y, error, match):
    net = _net()
    if method == "backward":
        net.forward(X_OK)
        args = (y,)
    else:
        args = (X_OK, y)
    with pytest.raises(error, match=match):
        getattr(net, method)(*args)


def test_bad_class_labels():
    net = Network([2, 3], ["softmax"], "cross_entropy", seed=0)
    for y, match in [
        (np.array([0, 1, 3, 0]), "out of range"),
        (np.array([0, -1, 1, 0]), "out of range"),
        (np.array([0.5, 1, 1, 0]), "integer class labels"),
        (np.full((4, 3), 0.5), "sum to 1|summing to 1"),
    ]:
        with pytest.raises(ValueError, match=match):
            net.loss(X_OK, y)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(epochs=0), ValueError, "epochs"),
        (dict(epochs=2.0), TypeError, "epochs"),
        (dict(learning_rate=0), ValueError, "learning_rate"),
        (dict(learning_rate=-1), ValueError, "learning_rate"),
        (dict(learning_rate=float("nan")), ValueError, "learning_rate"),
        (dict(learning_rate="fast"), TypeError, "learning_rate"),
        (dict(batch_size=0), ValueError, "batch_size"),
        (dict(optimizer="rmsprop"), ValueError, "unknown optimizer"),
        (dict(momentum=1.0), ValueError, "momentum"),
        (dict(beta_2=-0.1), ValueError, "beta_2"),
        (dict(epsilon=0), ValueError, "epsilon"),
        (dict(seed=2**64), ValueError, "seed"),
        (dict(callback=3), TypeError, "callback"),
    ],
)
def test_bad_fit_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        _net().fit(X_OK, Y_OK, **kwargs)


def test_bad_weights_and_steps():
    net = _net()
    good = net.get_weights()
    for weights, error, match in [
        (good[:1], ValueError, "2 \\(W, b\\) pairs"),
        ([good[0], (good[1][0], np.zeros(2))], ValueError, "b of layer 1"),
        ([good[0], (good[1][0].T, good[1][1])], ValueError, "W of layer 1"),
        ([good[0], (np.full((3, 1), np.nan), good[1][1])], ValueError, "NaN"),
        ("weights", TypeError, "weights"),
        ([(1, 2, 3), good[1]], TypeError, "pair"),
    ]:
        with pytest.raises(error, match=match):
            net.set_weights(weights)
    for W, _b in net.get_weights():  # nothing half-applied
        assert np.isfinite(W).all()
    np.testing.assert_array_equal(net.get_weights()[1][1], good[1][1])
    net.forward(X_OK)
    net.backward(Y_OK)
    for lr, error in [(0, ValueError), (np.inf, ValueError), ("x", TypeError)]:
        with pytest.raises(error, match="learning_rate"):
            net.update(lr)


def test_version():
    assert isinstance(ferroprop.__version__, str)


def test_reset_optimizer_restarts_adam():
    X, y = circles_like(100)
    a = Network([2, 8, 1], ["tanh", "sigmoid"], seed=0)
    b, c = copy.deepcopy(a), copy.deepcopy(a)
    for net in (a, b, c):
        net.fit(X, y, epochs=3, learning_rate=0.05, optimizer="adam")
    b.reset_optimizer()  # b restarts Adam; a continues it
    c.set_weights(c.get_weights())  # so does set_weights
    for net in (a, b, c):
        net.fit(X, y, epochs=3, learning_rate=0.05, optimizer="adam")
    assert not np.array_equal(a.get_weights()[0][0], b.get_weights()[0][0])
    np.testing.assert_array_equal(b.get_weights()[0][0], c.get_weights()[0][0])
