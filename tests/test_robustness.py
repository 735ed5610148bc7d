"""No input reaches a Rust panic or returns garbage: every public call either works, with
finite results, or raises ValueError / TypeError. Hypothesis drives random architectures,
shapes, dtypes and values (NaN, infinities, huge and tiny numbers, empty arrays)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ferroprop import ACTIVATIONS, LOSSES, Network

ALLOWED = (ValueError, TypeError)
DTYPES = [
    np.float64,
    np.float32,
    np.float16,
    np.int8,
    np.int64,
    np.uint64,
    np.bool_,
    np.complex64,
]
VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, 1e30, 0.5, 1.0, 2.0, -1.0]),
)


@st.composite
def arrays(draw, max_rows=6, max_cols=6):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(
        st.one_of(
            st.tuples(st.integers(0, max_rows), st.integers(0, max_cols)),
            st.tuples(st.integers(0, max_rows)),
            st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
        )
    )
    if dtype in (np.float64, np.float32, np.float16, np.complex64):
        with np.errstate(all="ignore"):
            return draw(hnp.arrays(dtype, shape, elements=VALUES.map(lambda v: dtype(v))))
    return draw(hnp.arrays(dtype, shape))


@st.composite
def networks(draw):
    depth = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 5), min_size=depth + 1, max_size=depth + 1))
    activations = draw(st.lists(st.sampled_from(ACTIVATIONS), min_size=depth, max_size=depth))
    loss = draw(st.sampled_from(LOSSES))
    dtype = draw(st.sampled_from(["float32", "float64"]))
    try:
        return Network(sizes, activations, loss, dtype, seed=draw(st.integers(0, 2**32)))
    except ALLOWED:
        return Network(
            sizes, ["tanh"] * (depth - 1) + ["identity"], "mean_squared_error", dtype, seed=0
        )


def finite(result):
    if isinstance(result, np.ndarray):
        assert np.isfinite(result).all()
    elif isinstance(result, float):
        assert np.isfinite(result)
    elif isinstance(result, list):
        for r in result:
            finite(r)


def call(f, *args, **kwargs):
    """Run ``f``; an allowed exception is fine, anything else (PanicException is a
    BaseException) fails the test; a result must be finite."""
    try:
        result = f(*args, **kwargs)
    except ALLOWED:
        return
    assert_finite = finite
    try:
        assert_finite(result)
    except AssertionError:
        raise AssertionError(f"{f.__name__} returned a non-finite result: {result!r}") from None


SETTINGS = settings(
    max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@SETTINGS
@given(networks(), st.data())
def test_no_input_crashes_any_method(net, data):
    X = data.draw(st.one_of(arrays(), hnp.arrays(np.float64, (3, net.layer_sizes[0]))))
    y = data.draw(st.one_of(arrays(), hnp.arrays(np.float64, (3, net.layer_sizes[-1]))))
    X_copy, y_copy = X.copy(), y.copy()
    call(net.predict, X)
    call(net.forward, X)
    call(net.backward, y)
    call(net.update, data.draw(st.floats(allow_nan=True, allow_infinity=True)))
    call(net.loss, X, y)
    call(net.gradient_check, X, y)
    call(
        net.fit,
        X,
        y,
        epochs=data.draw(st.integers(1, 3)),
        learning_rate=data.draw(st.sampled_from([1e-3, 0.5, 1e3])),
        batch_size=data.draw(st.sampled_from([None, 1, 2, 100])),
        optimizer=data.draw(st.sampled_from(["sgd", "adam"])),
    )
    W, b = data.draw(arrays()), data.draw(arrays())
    call(net.set_weights, [(W, b)] * (len(net.layer_sizes) - 1))
    # Whatever happened, the user's arrays are untouched and the weights are finite.
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(y, y_copy)
    for W, b in net.get_weights():
        assert np.isfinite(W).all() and np.isfinite(b).all()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    sizes=st.lists(
        st.one_of(st.integers(-5, 10), st.integers(2**31, 2**70), st.floats(), st.text()),
        max_size=5,
    ),
    activations=st.one_of(st.none(), st.text(), st.lists(st.text(), max_size=4)),
    loss=st.one_of(st.none(), st.text(), st.integers()),
    dtype=st.one_of(st.text(), st.sampled_from(["float32", "float64", "int32", "float16"])),
    seed=st.one_of(st.none(), st.integers(-(2**70), 2**70), st.floats()),
)
def test_no_constructor_argument_crashes(sizes, activations, loss, dtype, seed):
    try:
        Network(sizes, activations, loss, dtype, seed)
    except ALLOWED:
        pass


def test_huge_inputs_are_an_error_not_a_prediction():
    net = Network([2, 3, 1], ["identity", "sigmoid"], seed=0)
    net.set_weights(
        [(np.array([[1.0, -1.0, 1.0]] * 2), np.zeros(3)), (np.ones((3, 1)), np.zeros(1))]
    )
    with pytest.raises(ValueError, match="not finite"):
        net.predict([[1e308, 1e308]])
