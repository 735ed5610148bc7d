"""ONNX export (``ferroprop.onnx``), checked by running the models in ONNX Runtime.

Agreement is measured against the size of what each output's computation rounds: a
forward pass over magnitudes (``|a| @ |W| + |b|`` through each activation's slope, see
``magnitude``). Two correct implementations that sum in different orders differ by a few
units in the last place of those magnitudes, however much the sums cancel; an output that
is far from its terms (an identity unit near 0, a sigmoid near 1/2 with inputs of 1000)
cannot be compared relatively to itself. ONNX and ferroprop must agree to RTOL times the
magnitude (1e-6 in float32, 1e-12 in float64), plus twice the smallest normal number:
ferroprop's exp flushes results below about that to 0, ONNX Runtime's returns subnormals.
"""

from __future__ import annotations

import doctest
import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import ferroprop.onnx  # noqa: E402
from ferroprop import ACTIVATIONS, Network  # noqa: E402
from ferroprop.onnx import to_onnx  # noqa: E402
from ferroprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}
DTYPES = ["float32", "float64"]
# exp as a hidden layer overflows on `inputs`' large rows: see test_exp_output_of_poisson.
HIDDEN = [a for a in ACTIVATIONS if a not in ("softmax", "exp")]
# Every output the library supports, with its loss.
OUTPUTS = [
    ("identity", "mean_squared_error"),
    ("relu", "mean_squared_error"),
    ("leaky_relu", "mean_squared_error"),
    ("tanh", "mean_squared_error"),
    ("sigmoid", "mean_squared_error"),
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "cross_entropy"),
]
# scikit-learn's hidden activations, in ferroprop's words.
SKLEARN_HIDDEN = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
README = Path(__file__).resolve().parents[1] / "README.md"


def session(model):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def inputs(n_features, dtype="float64", seed=0):
    """Unit-scale rows, every tenth one scaled by 1000 (so that sigmoids are clipped)."""
    X = np.random.default_rng(seed).normal(size=(200, n_features))
    X[::10] *= 1000.0
    return X.astype(dtype)


def magnitude(weights, activations, X):
    """Per output element, the size of the numbers its computation rounds (float64)."""
    a = np.asarray(X, np.float64)
    m = np.abs(a)
    for (W, b), f in zip(weights, activations):
        W, b = W.astype(np.float64), b.astype(np.float64)
        z = a @ W + b
        mz = m @ np.abs(W) + np.abs(b)
        if f == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
            m = a * (mz + (a * mz).sum(axis=1, keepdims=True)) + a
            continue
        if f == "identity":
            a, slope = z, 1.0
        elif f == "relu":
            a, slope = np.maximum(z, 0.0), (z > 0) * 1.0
        elif f == "leaky_relu":
            a, slope = np.where(z > 0, z, 0.01 * z), np.where(z > 0, 1.0, 0.01)
        elif f == "sigmoid":
            a = 1.0 / (1.0 + np.exp(-np.clip(z, -500.0, 500.0)))
            slope = a * (1.0 - a)
        elif f in SMOOTH:
            a, slope, term = SMOOTH[f](z)
            m = np.abs(slope) * mz + np.abs(a) + term
            continue
        else:
            a = np.tanh(z)
            slope = 1.0 - a * a
        m = slope * mz + np.abs(a)
    return m


def _gelu(z):
    cdf = 0.5 * np.vectorize(math.erfc)(-z * np.sqrt(0.5))
    # The graph's z (1 + erf(z/√2))/2 rounds terms of size |z|, whatever the result.
    return z * cdf, cdf + z * np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi), np.abs(z)


def _silu(z):
    with np.errstate(over="ignore"):  # exp(-z) of a very negative z is inf: s is 0
        s = 1.0 / (1.0 + np.exp(-z))
    return z * s, s * (1 + z * (1 - s)), 0.0


def _elu(z):
    e = np.exp(np.minimum(z, 0.0))
    return np.where(z > 0, z, e - 1), np.where(z > 0, 1.0, e), 1.0  # Exp(z) − 1: terms of 1


def _softplus(z):
    e = np.exp(np.minimum(z, 20.0))
    return np.where(z > 20, z, np.log1p(e)), np.where(z > 20, 1.0, e / (1 + e)), 1.0  # Log(1 + e)


# The activations with an exponential or erf: (a, slope, the size of the terms the graph
# rounds beyond a itself), by closed forms in float64.
SMOOTH = {
    "gelu": _gelu,
    "silu": _silu,
    "elu": _elu,
    "softplus": _softplus,
    "exp": lambda z: (np.exp(z), np.exp(z), 0.0),
}


def assert_agree(actual, expected, scale, dtype):
    dtype = np.dtype(dtype)
    assert actual.shape == expected.shape
    difference = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
    allowed = RTOL[dtype] * scale + 2 * np.finfo(dtype).tiny
    worst = np.unravel_index(np.argmax(difference - allowed), difference.shape)
    assert np.all(difference <= allowed), (
        f"{actual[worst]!r} vs {expected[worst]!r} at {worst}: "
        f"{difference[worst] / scale[worst]:.3g} of the magnitude {scale[worst]:.3g}"
    )


def estimator_layers(est):
    weights = list(zip(est.coefs_, est.intercepts_))
    hidden = [SKLEARN_HIDDEN[est.activation]] * (len(weights) - 1)
    output = {"identity": "identity", "logistic": "sigmoid", "softmax": "softmax", "exp": "exp"}
    return weights, [*hidden, output[est.out_activation_]]


def fitted(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


# -- Network ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output, loss", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_network_outputs_what_predict_returns(hidden, output, loss, dtype):
    if hidden == "gelu" and dtype == "float64":
        pytest.skip("no float64 GELU: test_float64_gelu_is_refused")
    net = Network([6, 16, 8, 3], [hidden, hidden, output], loss, dtype=dtype, seed=3)
    model = to_onnx(net)
    run = session(model)
    for X in (inputs(6, dtype), inputs(6, dtype, seed=1)[:1]):  # the batch dimension is free
        (y,) = run.run(None, {"X": X})
        expected = net.predict(X)
        assert y.dtype == expected.dtype == np.dtype(dtype)
        assert_agree(y, expected, magnitude(net.get_weights(), net.activations, X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_network_model_declares_dtype_and_free_batch(dtype):
    net = Network([4, 5, 2], ["relu", "softmax"], dtype=dtype, seed=0)
    model = to_onnx(net, input_name="features")
    elem = onnx.TensorProto.FLOAT if dtype == "float32" else onnx.TensorProto.DOUBLE
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("features", "y")
    for value, width in ((inp, 4), (out, 2)):
        assert value.type.tensor_type.elem_type == elem
        batch, features = value.type.tensor_type.shape.dim
        assert not batch.HasField("dim_value") and features.dim_value == width
    assert all(t.data_type == elem for t in model.graph.initializer)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", ["gelu", "silu", "elu", "softplus", "tanh"])
def test_exp_output_of_poisson(hidden, dtype):
    if hidden == "gelu" and dtype == "float64":
        pytest.skip("no float64 GELU: test_float64_gelu_is_refused")
    net = Network([6, 16, 8, 2], [hidden, hidden, "exp"], "poisson", dtype=dtype, seed=3)
    run = session(to_onnx(net))
    X = np.random.default_rng(0).normal(size=(200, 6)).astype(dtype)
    (y,) = run.run(None, {"X": X})
    expected = net.predict(X)
    assert_agree(y, expected, magnitude(net.get_weights(), net.activations, X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["gelu", "silu", "elu", "softplus", "exp"])
def test_smooth_activations_on_a_grid(activation, dtype):
    """Zero, both sides of softplus's threshold, the tails (exp: within range)."""
    if activation == "gelu" and dtype == "float64":
        pytest.skip("no float64 GELU: test_float64_gelu_is_refused")
    net = Network([1, 1], [activation], dtype=dtype, seed=0)
    net.set_weights([(np.ones((1, 1)), np.zeros(1))])
    top = 80.0 if activation == "exp" else 1e4
    z = np.r_[np.linspace(-40, 40, 401), 19.999, 20.0, 20.001, -top, top, 0.0, -1e-8]
    X = z.reshape(-1, 1).astype(dtype)
    (y,) = session(to_onnx(net)).run(None, {"X": X})
    assert_agree(y, net.predict(X), magnitude(net.get_weights(), [activation], X), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_poisson_regressor(dtype):
    X = np.random.default_rng(0).normal(size=(100, 3)).astype(dtype)
    y = np.random.default_rng(1).poisson(np.exp(X[:, 0] / 2)).astype(float)
    est = MLPRegressor(hidden_layer_sizes=(5,), loss="poisson", max_iter=20, random_state=0)
    est = fitted(est.set_params(dtype=dtype), X, y)
    (out,) = session(to_onnx(est)).run(None, {"X": X})
    assert_agree(out.ravel(), est.predict(X), magnitude(*estimator_layers(est), X).ravel(), dtype)


def test_float64_gelu_is_refused():
    net = Network([2, 3, 1], ["gelu", "identity"], dtype="float64", seed=0)
    with pytest.raises(ValueError, match="'gelu' has no float64 ONNX export.*float32"):
        to_onnx(net)
    est = MLPRegressor(
        hidden_layer_sizes=(3,), activation="gelu", max_iter=2, random_state=0, dtype="float64"
    )
    with pytest.raises(ValueError, match="'gelu' has no float64 ONNX export"):
        to_onnx(fitted(est, inputs(2)[:20], np.arange(20.0)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_is_clipped_at_500(dtype):
    net = Network([1, 1], ["sigmoid"], dtype=dtype, seed=0)
    net.set_weights([(np.ones((1, 1)), np.zeros(1))])
    z = np.array([-800, -600, -500.5, -500, -499, -88, -30, 0, 30, 499, 500, 600])
    X = z.reshape(-1, 1).astype(dtype)
    (y,) = session(to_onnx(net)).run(None, {"X": X})
    expected = net.predict(X)
    scale = np.abs(expected) + 2 * np.finfo(dtype).tiny / RTOL[np.dtype(dtype)]
    assert_agree(y, expected, scale, dtype)
    if dtype == "float64":  # in float32, e^500 overflows whether clipped or not
        assert y[0, 0] == y[1, 0] == y[3, 0] == 1 / (1 + np.exp(500.0)) > 0


@pytest.mark.parametrize("dtype", DTYPES)
def test_leaky_relu_slope_is_in_the_networks_dtype(dtype):
    net = Network([1, 1], ["leaky_relu"], dtype=dtype, seed=0)
    net.set_weights([(np.ones((1, 1)), np.zeros(1))])
    X = -np.geomspace(1e-3, 1e3, 50).reshape(-1, 1).astype(dtype)
    (y,) = session(to_onnx(net)).run(None, {"X": X})
    np.testing.assert_array_equal(y, net.predict(X))  # one correctly rounded product each


def one_node_model(op, dtype, opset, **attrs):
    elem = onnx.TensorProto.FLOAT if dtype == "float32" else onnx.TensorProto.DOUBLE
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node(op, ["x"], ["y"], **attrs)],
        op,
        [onnx.helper.make_tensor_value_info("x", elem, [None])],
        [onnx.helper.make_tensor_value_info("y", elem, [None])],
    )
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])


def test_why_sigmoid_and_leaky_relu_are_written_out():
    # What the README says of ONNX Runtime's own Sigmoid and LeakyRelu kernels.
    z = np.linspace(-40.0, -10.0, 301, dtype=np.float32)
    (y,) = session(one_node_model("Sigmoid", "float32", 13)).run(None, {"x": z})
    exact = 1 / (1 + np.exp(-z.astype(np.float64)))
    assert np.max(np.abs(y / exact - 1)) > 1e-3  # the tail is lost
    z = -np.geomspace(1e-3, 1e3, 50)
    leaky = one_node_model("LeakyRelu", "float64", 16, alpha=0.01)  # its float64 kernel: 16-18
    (y,) = session(leaky).run(None, {"x": z})
    np.testing.assert_array_equal(y, np.float64(np.float32(0.01)) * z)  # a float32 slope
    assert not np.any(y == 0.01 * z)


@pytest.mark.parametrize("target_opset", [9, 13, None])
def test_opsets(target_opset):
    net = Network([3, 8, 2], ["leaky_relu", "sigmoid"], dtype="float64", seed=0)
    model = to_onnx(net, target_opset=target_opset)
    if target_opset is not None:
        assert model.opset_import[0].version == target_opset
    X = inputs(3)
    (y,) = session(model).run(None, {"X": X})
    assert_agree(y, net.predict(X), magnitude(net.get_weights(), net.activations, X), "float64")


def test_writes_the_file(tmp_path):
    net = Network([2, 3, 1], seed=0)
    path = tmp_path / "net.onnx"
    model = to_onnx(net, path)
    assert path.read_bytes() == model.SerializeToString()
    assert onnx.load(str(path)) == model
    to_onnx(net, str(path))  # replaces it
    assert sorted(tmp_path.iterdir()) == [path]


# -- the estimators -----------------------------------------------------------------------

CLASSIFICATION = {
    "binary": lambda X: (X[:, 0] + X[:, 1] > 0).astype(int),
    "multiclass": lambda X: np.digitize(X[:, 0], [-0.5, 0.5]) * 3 - 4,  # -4, -1, 2
    "multilabel": lambda X: (X[:, :3] > 0).astype(int),
}
LABELS = {
    "int": lambda y: y,
    "str": lambda y: np.array(["cat", "dog", "émeu"])[np.unique(y, return_inverse=True)[1]],
    "bool": lambda y: y == y.max(),
    "float": lambda y: y.astype(np.float64),
}


def check_classifier(clf, X, outputs, dtype):
    label, proba = outputs
    np.testing.assert_array_equal(label, clf.predict(X))
    assert proba.dtype == np.dtype(dtype)
    weights, activations = estimator_layers(clf)
    scale = magnitude(weights, activations, X.astype(dtype))
    if clf.n_outputs_ == 1:
        scale = np.hstack([scale, scale])
    assert_agree(proba, clf.predict_proba(X), scale, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", list(SKLEARN_HIDDEN))
@pytest.mark.parametrize("problem", list(CLASSIFICATION))
def test_classifier_predict_and_predict_proba(problem, activation, dtype):
    X = inputs(4, dtype)
    y = CLASSIFICATION[problem](inputs(4, dtype, seed=1) / 1000)
    clf = MLPClassifier((8, 5), activation, max_iter=30, random_state=0, dtype=dtype)
    fitted(clf, inputs(4, dtype, seed=1) / 1000, y)
    for model in (to_onnx(clf), skl2onnx.to_onnx(clf, X[:1], options={"zipmap": False})):
        assert [o.name for o in model.graph.output] == ["label", "probabilities"]
        check_classifier(clf, X, session(model).run(None, {"X": X}), dtype)


@pytest.mark.parametrize("labels", list(LABELS))
@pytest.mark.parametrize("problem", ["binary", "multiclass"])
def test_classifier_labels_of_every_type(problem, labels):
    X = inputs(4)
    train = inputs(4, seed=1) / 1000
    y = LABELS[labels](CLASSIFICATION[problem](train))
    clf = fitted(MLPClassifier((6,), max_iter=30, random_state=0), train, y)
    label, proba = session(to_onnx(clf)).run(None, {"X": X})
    expected = clf.predict(X)
    if labels == "str":
        assert label.dtype == object and list(label) == list(expected)
    else:  # skl2onnx's int64 labels, for booleans and integral floats as well
        assert label.dtype == np.int64
        np.testing.assert_array_equal(label, expected.astype(np.int64))
    assert proba.shape == (len(X), len(clf.classes_))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("activation", list(SKLEARN_HIDDEN))
def test_regressor_predict(activation, n_outputs, dtype):
    train = inputs(5, dtype, seed=1) / 1000
    y = train[:, :n_outputs] * 3 + 1 if n_outputs > 1 else train[:, 0] * 3 + 1
    reg = MLPRegressor(
        hidden_layer_sizes=(8,), activation=activation, max_iter=30, random_state=0, dtype=dtype
    )
    fitted(reg, train, y)
    X = inputs(5, dtype)
    weights, activations = estimator_layers(reg)
    scale = magnitude(weights, activations, X)
    for model in (to_onnx(reg), skl2onnx.to_onnx(reg, X[:1])):
        assert [o.name for o in model.graph.output] == ["variable"]
        (y_onnx,) = session(model).run(None, {"X": X})
        assert y_onnx.shape == (len(X), n_outputs) and y_onnx.dtype == np.dtype(dtype)
        assert_agree(y_onnx, reg.predict(X).reshape(len(X), -1), scale, dtype)


@pytest.mark.parametrize("network_dtype", DTYPES)
@pytest.mark.parametrize("input_dtype", ["float32", "float64", "int64"])
def test_skl2onnx_inputs_of_another_dtype_are_cast_as_predict_casts_them(
    input_dtype, network_dtype
):
    train = inputs(3, seed=1) / 1000
    reg = fitted(
        MLPRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0, dtype=network_dtype),
        train,
        train[:, 0],
    )
    X = np.round(inputs(3) * 10).astype(input_dtype)
    (y,) = session(skl2onnx.to_onnx(reg, X[:1])).run(None, {"X": X})
    # skl2onnx's convention: outputs in the input's float type (float32 for integers)
    assert y.dtype == (np.float64 if input_dtype == "float64" else np.float32)
    expected = reg.predict(X).reshape(-1, 1)
    weights, activations = estimator_layers(reg)
    scale = magnitude(weights, activations, X.astype(network_dtype))
    coarser = "float32" if np.float32 in (y.dtype, np.dtype(network_dtype)) else "float64"
    assert_agree(y, expected.astype(y.dtype), scale, coarser)


# -- skl2onnx's options and pipelines -----------------------------------------------------


@pytest.fixture(scope="module")
def classifier():
    train = inputs(4, seed=1) / 1000
    y = np.array(["cat", "dog", "emu"])[np.digitize(train[:, 0], [-0.5, 0.5])]
    return fitted(MLPClassifier((6,), max_iter=30, random_state=0), train, y)


def plain_outputs(clf, X):
    """``label`` and ``probabilities`` without options (checked against ``predict_proba``
    above); the options change what follows them, not the network."""
    return session(to_onnx(clf)).run(None, {"X": X})


@pytest.mark.parametrize("dtype", DTYPES)
def test_zipmap(classifier, dtype):
    X = inputs(4, dtype)
    model = skl2onnx.to_onnx(classifier, X[:1])  # zipmap is skl2onnx's default
    label, maps = session(model).run(None, {"X": X})
    np.testing.assert_array_equal(label, classifier.predict(X))
    _, proba = plain_outputs(classifier, X.astype(np.float64))
    assert [sorted(m) for m in maps] == [list(classifier.classes_)] * len(X)
    got = np.array([[m[c] for c in classifier.classes_] for m in maps])
    np.testing.assert_array_equal(got, proba.astype(np.float32))  # ZipMap holds float32


def test_zipmap_columns(classifier):
    X = inputs(4)
    model = to_onnx(classifier, options={"zipmap": "columns"})
    label, *columns = session(model).run(None, {"X": X})
    np.testing.assert_array_equal(label, classifier.predict(X))
    np.testing.assert_array_equal(np.column_stack(columns), plain_outputs(classifier, X)[1])


def test_nocl_gives_class_indices(classifier):
    X = inputs(4)
    label, proba = session(to_onnx(classifier, options={"nocl": True})).run(None, {"X": X})
    assert label.dtype == np.int64
    np.testing.assert_array_equal(classifier.classes_[label], classifier.predict(X))
    np.testing.assert_array_equal(proba, plain_outputs(classifier, X)[1])


def test_output_class_labels(classifier):
    X = inputs(4)
    model = to_onnx(classifier, options={"output_class_labels": True})
    label, proba, classes = session(model).run(None, {"X": X})
    assert list(classes) == list(classifier.classes_)
    np.testing.assert_array_equal(label, classifier.predict(X))


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_pipeline_with_a_scaler(estimator):
    train = inputs(4, seed=1) / 1000 * [1, 100, 0.01, 1] + [0, 50, 3, 0]
    X = inputs(4) * [1, 100, 0.01, 1] + [0, 50, 3, 0]
    if estimator == "classifier":
        y = np.digitize(train[:, 0], [-0.5, 0.5])
        last = MLPClassifier((6,), "logistic", max_iter=30, random_state=0)
    else:
        y, last = train[:, 1], MLPRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0)
    pipe = fitted(make_pipeline(StandardScaler(), last), train, y)
    scale = magnitude(*estimator_layers(last), pipe[0].transform(X))
    options = {"zipmap": False} if estimator == "classifier" else None
    model = skl2onnx.to_onnx(pipe, X[:1], options=options)
    outputs = session(model).run(None, {"X": X})
    if estimator == "classifier":
        np.testing.assert_array_equal(outputs[0], pipe.predict(X))
        assert_agree(outputs[1], pipe.predict_proba(X), scale, "float64")
        label, _ = session(skl2onnx.to_onnx(pipe, X[:1])).run(None, {"X": X})  # zipmap
        np.testing.assert_array_equal(label, pipe.predict(X))
    else:
        assert_agree(outputs[0], pipe.predict(X).reshape(-1, 1), scale, "float64")


# -- what is refused ----------------------------------------------------------------------


def test_unfitted_estimators_are_refused():
    X = inputs(3)
    for est in (MLPClassifier(), MLPRegressor()):
        with pytest.raises(NotFittedError):
            to_onnx(est)
        with pytest.raises(NotFittedError):
            skl2onnx.to_onnx(est, X[:1])
        with pytest.raises(NotFittedError):
            skl2onnx.to_onnx(make_pipeline(StandardScaler().fit(X), est), X[:1])


def test_other_models_are_refused():
    with pytest.raises(TypeError, match="Pipeline with skl2onnx.to_onnx"):
        to_onnx(make_pipeline(StandardScaler()))
    with pytest.raises(TypeError, match="input_name"):
        to_onnx(Network([2, 1], seed=0), input_name="")


def test_bad_options_are_refused(classifier):
    net = Network([2, 1], seed=0)
    with pytest.raises(ValueError, match="takes no options"):
        to_onnx(net, options={"zipmap": False})
    with pytest.raises(ValueError, match="target_opset"):
        to_onnx(net, target_opset=8)
    with pytest.raises(TypeError, match="target_opset"):
        to_onnx(net, target_opset="13")
    with pytest.raises(ValueError, match="unknown option 'zip'"):
        to_onnx(classifier, options={"zip": False})
    with pytest.raises(ValueError, match="must be one of"):
        to_onnx(classifier, options={"zipmap": 1})
    reg = fitted(MLPRegressor(hidden_layer_sizes=(3,), max_iter=5), inputs(3), inputs(3)[:, 0])
    with pytest.raises(ValueError, match="unknown option 'zipmap'"):
        to_onnx(reg, options={"zipmap": False})


def test_what_onnx_cannot_express_is_refused():
    train = inputs(3, seed=1) / 1000
    multilabel = fitted(MLPClassifier((4,), max_iter=5), train, train > 0)
    with pytest.raises(ValueError, match="multilabel"):
        skl2onnx.to_onnx(multilabel, train[:1])  # zipmap=True
    booleans = fitted(MLPClassifier((4,), max_iter=5), train, train[:, 0] > 0)
    with pytest.raises(ValueError, match="output_class_labels"):
        to_onnx(booleans, options={"output_class_labels": True})
    single = fitted(MLPClassifier((4,), max_iter=5), train, np.zeros(len(train)))
    with pytest.raises(ValueError, match="single class"):
        to_onnx(single)


# -- the package, the docs ----------------------------------------------------------------


def test_the_core_package_never_imports_onnx():
    code = (
        "import sys, ferroprop, ferroprop.sklearn, ferroprop.reference\n"
        "assert not {'onnx', 'skl2onnx', 'onnxruntime'} & set(sys.modules), sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_docstring_examples_run():
    result = doctest.testmod(ferroprop.onnx, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_numpydoc():
    validate = pytest.importorskip("numpydoc.validate").validate
    optional = {"ES01", "SA01", "EX01"}
    assert ferroprop.onnx.__doc__ and ferroprop.onnx.__all__ == ["to_onnx"]
    errors = [e for e in validate("ferroprop.onnx.to_onnx")["errors"] if e[0] not in optional]
    assert not errors


def readme_block(heading):
    """The first ``python`` code block under ``heading`` in README.md."""
    text = README.read_text(encoding="utf-8")
    section = text.split(heading, 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_onnx_lines(tmp_path, monkeypatch, classifier):
    monkeypatch.chdir(tmp_path)
    X = inputs(4)
    namespace = {"clf": classifier, "X": X}
    exec(readme_block("### ONNX"), namespace)
    np.testing.assert_array_equal(namespace["labels"], classifier.predict(X))
    scale = magnitude(*estimator_layers(classifier), X)
    assert_agree(namespace["probabilities"], classifier.predict_proba(X), scale, "float64")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
