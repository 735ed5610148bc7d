"""ferroprop against the pure-NumPy reference: forward values, every gradient, the weights
after update steps and after fit, over random architectures, losses, batch sizes, dtypes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ferroprop import Network, reference

HIDDEN = ["identity", "relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "elu", "softplus"]
# (output activation, loss, kind of targets): every accepted pair.
PAIRS = [
    ("sigmoid", "binary_cross_entropy", "binary"),
    ("softmax", "cross_entropy", "one_hot"),
    ("softmax", "cross_entropy", "labels"),
    ("softmax", "cross_entropy", "probabilities"),
    ("identity", "mean_squared_error", "real"),
    ("relu", "mean_squared_error", "real"),
    ("leaky_relu", "mean_squared_error", "real"),
    ("sigmoid", "mean_squared_error", "real"),
    ("tanh", "mean_squared_error", "real"),
    ("softmax", "mean_squared_error", "real"),
    ("exp", "poisson", "counts"),
    ("exp", "mean_squared_error", "real"),
    ("gelu", "mean_squared_error", "real"),
    ("silu", "mean_squared_error", "real"),
    ("elu", "mean_squared_error", "real"),
    ("softplus", "mean_squared_error", "real"),
    ("identity", "huber", "real"),
    ("tanh", "huber", "real"),
    # Not softmax with huber: where every |ŷ − y| ≥ 1, da is ±1/N and softmax's Jacobian
    # product cancels to exactly 0 (a gradient of rounding noise, in float32 ~1e-5).
    ("sigmoid", "huber", "real"),
    ("identity", "mean_absolute_error", "real"),
    ("softplus", "mean_absolute_error", "real"),
]
RTOL = {"float64": 1e-12, "float32": 1e-5}


def make_targets(rng, kind, n, k):
    if kind == "binary":
        return rng.integers(0, 2, (n, k)).astype(float)
    if kind == "labels":
        return rng.integers(0, k, n)
    if kind == "one_hot":
        return np.eye(k)[rng.integers(0, k, n)]
    if kind == "probabilities":
        p = rng.random((n, k)) + 0.1
        return p / p.sum(axis=1, keepdims=True)
    if kind == "counts":
        return rng.poisson(1.5, (n, k)).astype(float)
    return rng.normal(size=(n, k))


def close(actual, expected, dtype, what, scale=None):
    """Equal to ``RTOL`` relative to ``scale``, by default the magnitude of the expected
    array."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if scale is None:
        scale = max(np.abs(expected).max(initial=0.0), np.finfo(dtype).tiny)
    np.testing.assert_allclose(
        actual, expected, rtol=RTOL[dtype], atol=RTOL[dtype] * scale, err_msg=what
    )


def same_weights(net, ref, dtype):
    """Each layer's parameters, W and b together, agree relative to their magnitude.

    A bias that starts at zero is a sum of update steps that can nearly cancel; its
    rounding error is relative to the size of those steps, like W's, not to the small
    difference they leave, so W and b are compared as one vector of the layer.
    """
    for k, ((W, b), (rW, rb)) in enumerate(zip(net.get_weights(), ref.get_weights()), 1):
        close(np.concatenate([W.ravel(), b]), np.concatenate([rW.ravel(), rb]), dtype, f"layer {k}")


@st.composite
def cases(draw):
    hidden = draw(st.lists(st.sampled_from(HIDDEN), min_size=0, max_size=3))
    output, loss, kind = draw(st.sampled_from(PAIRS))
    sizes = draw(st.lists(st.integers(1, 32), min_size=len(hidden) + 2, max_size=len(hidden) + 2))
    if output == "softmax" and sizes[-1] == 1:
        sizes[-1] = 2
    return {
        "sizes": sizes,
        "activations": [*hidden, output],
        "loss": loss,
        "kind": kind,
        "n": draw(st.integers(1, 64)),
        "dtype": draw(st.sampled_from(["float64", "float32"])),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def build(case):
    net = Network(case["sizes"], case["activations"], case["loss"], case["dtype"], case["seed"])
    ref = reference.mlp.from_names(case["sizes"], case["activations"], case["loss"], case["dtype"])
    ref.set_weights(net.get_weights())
    rng = np.random.default_rng(case["seed"])
    X = rng.normal(size=(case["n"], case["sizes"][0]))
    y = make_targets(rng, case["kind"], case["n"], case["sizes"][-1])
    return net, ref, X, y


SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@SETTINGS
@given(cases())
def test_forward_and_backward_match_the_reference(case):
    net, ref, X, y = build(case)
    dtype = case["dtype"]
    yhat = net.forward(X)
    assert yhat.dtype == np.dtype(dtype)
    ref_yhat = ref.forward(X)
    close(yhat, ref_yhat, dtype, "yhat")
    net.backward(y)
    ref.backward(y, ref_yhat)
    for k, layer in enumerate(net.layers, 1):
        for name in ("z", "a", "dz", "dW", "db", "da"):
            got, want = getattr(layer, name), getattr(ref, name)[k]
            assert got.shape == want.shape, (name, k)
            assert got.dtype == np.dtype(dtype), (name, k)
            close(got, want, dtype, f"{name} of layer {k}")
    close(net.loss(X, y), ref.loss(X, y), dtype, "loss")


@SETTINGS
@given(cases(), st.floats(1e-3, 0.5), st.integers(1, 4))
def test_weights_after_update_steps_match(case, eta, steps):
    net, ref, X, y = build(case)
    for _ in range(steps):
        net.forward(X)
        net.backward(y)
        net.update(eta)
        ref.backward(y, ref.forward(X))
        ref.update(eta)
    same_weights(net, ref, case["dtype"])


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(cases(), st.integers(1, 70), st.integers(1, 4))
def test_fit_matches_the_reference_loop(case, batch_size, epochs):
    net, ref, X, y = build(case)
    with np.errstate(all="ignore"):
        ref_history = ref.fit(X, y, epochs, 0.02, batch_size=batch_size)
    # A run that diverges amplifies rounding differences without bound: not a parity case.
    assume(np.all(np.isfinite(ref_history)) and max(ref_history) < 100 * max(ref_history[0], 1))
    history = net.fit(X, y, epochs=epochs, learning_rate=0.02, batch_size=batch_size, shuffle=False)
    # A loss near zero is a difference of nearly equal terms (ŷ − y, or ln p at p ≈ 1):
    # its rounding error is relative to those terms, of order 1, not to the small result.
    close(history, ref_history, case["dtype"], "history", scale=max(1.0, max(ref_history)))
    same_weights(net, ref, case["dtype"])


def test_tutorial_initial_loss_is_the_published_figure():
    """The tutorial's data and initial weights give its printed loss, 693.62972747 summed
    over 1000 samples (the tutorial's "mean" was a sum)."""
    X, y = reference.tutorial_data()
    ref = reference.mlp.from_names(
        [2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy"
    )
    ref.initialize(seed=42)
    net = Network([2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy")
    net.set_weights(ref.get_weights())
    assert net.loss(X, y) * len(X) == pytest.approx(693.62972747, abs=1e-6)
    net.forward(X)
    net.backward(y)
    assert net.layers[-1].dz.sum() * len(X) == pytest.approx((net.layers[-1].a - y).sum())


def test_one_hot_and_labels_give_the_same_gradients():
    net = Network([3, 5, 4], ["tanh", "softmax"], "cross_entropy", seed=1)
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(10, 3)), rng.integers(0, 4, 10)
    grads = []
    for y in (labels, np.eye(4)[labels], labels.astype(np.float32), labels.astype(np.uint8)):
        net.forward(X)
        net.backward(y)
        grads.append([layer.dW for layer in net.layers])
    for g in grads[1:]:
        for a, b in zip(grads[0], g):
            np.testing.assert_array_equal(a, b)  # the same rounding on both paths
