"""The activations gelu, silu, elu, softplus, exp and the losses huber, mean_absolute_error,
poisson: against the reference in both dtypes and every engine, by finite differences,
against PyTorch's numbers (tests/data/torch_activations_losses.npz, written by the script
next to it; and live when torch imports), against scikit-learn's
``MLPRegressor(loss="poisson")``; and the names: any case, ``"logistic"``, "did you mean".
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest

from ferroprop import Network, reference

DATA = Path(__file__).resolve().parent / "data" / "torch_activations_losses.npz"
NEW_ACTIVATIONS = ["gelu", "silu", "elu", "softplus", "exp"]
NEW_LOSSES = ["huber", "mean_absolute_error", "poisson"]
DTYPES = ["float64", "float32"]
RTOL = {"float64": 1e-12, "float32": 1e-5}


def targets(loss, rng, n, k):
    if loss == "poisson":
        return rng.poisson(1.5, (n, k)).astype(float)
    return rng.normal(size=(n, k))


def output_for(loss):
    return "exp" if loss == "poisson" else "identity"


def close(actual, expected, dtype, what):
    expected = np.asarray(expected, np.float64)
    scale = max(np.abs(expected).max(initial=0.0), np.finfo(dtype).tiny)
    np.testing.assert_allclose(
        np.asarray(actual, np.float64),
        expected,
        rtol=RTOL[dtype],
        atol=RTOL[dtype] * scale,
        err_msg=what,
    )


# -- the reference, step for step ------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
@pytest.mark.parametrize("loss", ["mean_squared_error", *NEW_LOSSES])
def test_every_array_matches_the_reference(activation, loss, dtype):
    sizes = [4, 7, 5, 3]
    acts = [activation, activation, output_for(loss)]
    net = Network(sizes, acts, loss, dtype, seed=11)
    ref = reference.mlp.from_names(sizes, acts, loss, dtype)
    ref.set_weights(net.get_weights())
    if activation == "exp":  # three exponentials in a row: small inputs
        net.set_weights([(W * 0.5, b) for W, b in net.get_weights()])
    ref.set_weights(net.get_weights())
    rng = np.random.default_rng(5)
    X = rng.normal(size=(29, 4)) * (0.5 if activation == "exp" else 2.0)
    y = targets(loss, rng, 29, 3)
    yhat, ref_yhat = net.forward(X), ref.forward(X)
    close(yhat, ref_yhat, dtype, "yhat")
    net.backward(y)
    ref.backward(y, ref_yhat)
    for k, layer in enumerate(net.layers, 1):
        for name in ("z", "a", "dz", "dW", "db", "da"):
            got = getattr(layer, name)
            assert got.dtype == np.dtype(dtype)
            close(got, getattr(ref, name)[k], dtype, f"{name} of layer {k}")
    close(net.loss(X, y), ref.loss(X, y), dtype, "loss")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "sizes, batch_size",
    [
        ([3, 6, 5, 2], 16),  # feature-major engine (small layers)
        ([3, 40, 20, 2], 16),  # row-major engine
        ([300, 256, 2], 64),  # row-major on two halves of each batch (with 2+ threads)
    ],
)
@pytest.mark.parametrize(
    "hidden, loss",
    [
        (["gelu", "silu"], "huber"),
        (["elu", "softplus"], "mean_absolute_error"),
        (["softplus", "gelu"], "poisson"),
        (["silu", "exp"], "mean_squared_error"),
    ],
)
def test_fit_in_every_engine_matches_the_reference_loop(sizes, batch_size, hidden, loss, dtype):
    acts = [*hidden[: len(sizes) - 2], output_for(loss)]
    net = Network(sizes, acts, loss, dtype, seed=2)
    W = [(W * 0.5, b) for W, b in net.get_weights()]  # keep exp's layers moderate
    net.set_weights(W)
    ref = reference.mlp.from_names(sizes, acts, loss, dtype)
    ref.set_weights(W)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(70, sizes[0])) / np.sqrt(sizes[0])
    y = targets(loss, rng, 70, sizes[-1])
    want = ref.fit(X, y, 3, 0.05, batch_size=batch_size)
    got = net.fit(X, y, epochs=3, learning_rate=0.05, batch_size=batch_size, shuffle=False)
    close(got, want, dtype, "history")
    for k, ((W, b), (rW, rb)) in enumerate(zip(net.get_weights(), ref.get_weights())):
        close(np.r_[W.ravel(), b], np.r_[rW.ravel(), rb], dtype, f"layer {k}")


@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
@pytest.mark.parametrize("loss", ["mean_squared_error", "huber", "poisson"])
def test_gradient_check(activation, loss):
    net = Network([3, 6, 4, 2], [activation, activation, output_for(loss)], loss, seed=4)
    rng = np.random.default_rng(8)
    X = rng.normal(size=(11, 3))
    y = targets(loss, rng, 11, 2)
    assert net.gradient_check(X, y) < 1e-6


def test_gradient_check_of_the_mean_absolute_error():
    # Away from the kink at yhat = y, where finite differences see no derivative.
    net = Network([3, 5, 2], ["gelu", "identity"], "mean_absolute_error", seed=4)
    rng = np.random.default_rng(9)
    X = rng.normal(size=(11, 3))
    y = net.predict(X) + np.where(rng.random((11, 2)) < 0.5, -1.0, 1.0)
    assert net.gradient_check(X, y) < 1e-6


# -- f and f' on a grid, against closed forms and PyTorch --------------------------------


def activation_and_derivative(name, z, dtype="float64"):
    """f(z) and f'(z) as ferroprop computes them: a hidden layer of one unit with W = 1,
    b = 0, read from the step API. The output is linear with W = 1, and the mean absolute
    error against targets far below gives the hidden layer da = 1/N, N = len(z) a power of
    two: dz · N is f'(z) exactly."""
    n = len(z)
    assert n & (n - 1) == 0
    net = Network([1, 1, 1], [name, "identity"], "mean_absolute_error", dtype, seed=0)
    one, zero = np.ones((1, 1)), np.zeros(1)
    net.set_weights([(one, zero), (one, zero)])
    net.forward(np.asarray(z).reshape(-1, 1))
    net.backward(np.full((n, 1), -1e30 if dtype == "float32" else -1e300))
    hidden = net.layers[0]
    return hidden.a.ravel(), hidden.dz.ravel() * n


def torch_data():
    return np.load(DATA)


def within(actual, expected, rtol, atol, what):
    """``|actual − expected| <= rtol |expected| + atol`` elementwise (atol may be an array)."""
    excess = np.abs(actual - expected) - (rtol * np.abs(expected) + atol)
    worst = int(np.argmax(excess))
    assert excess[worst] <= 0, f"{what}: {actual[worst]!r} vs {expected[worst]!r} at {worst}"


def torch_tolerance(name, z, derivative):
    """A few ulp, plus where the formulas cancel: PyTorch's GELU is ``z (1 + erf(z/√2))/2``,
    whose ``1 + erf`` is only good to ``ε`` absolute where Φ(z) is tiny (it is 0 below
    z ≈ -8; ferroprop's ``erfc`` keeps the relative accuracy); the derivatives of GELU
    and SiLU are sums of terms of size ``1 + |z|`` that cancel near their zeros; those of
    the sigmoid and tanh are computed from the rounded ``a``."""
    eps = np.finfo(np.float64).eps
    atol = np.zeros_like(z)
    if name == "gelu":
        atol = np.where(z < 0, 4 * eps * np.abs(z) * (1 + z * z), 0.0)
    if derivative and name in ("gelu", "silu"):
        atol = atol + 4 * eps * (1 + np.abs(z))
    if derivative and name in ("sigmoid", "tanh"):
        atol = atol + 2 * eps
    return 8 * eps, atol


@pytest.mark.parametrize("name", ["gelu", "silu", "elu", "softplus", "exp", "sigmoid", "tanh"])
def test_activations_match_torch(name):
    data = torch_data()
    z = data["z"]
    value, grad = data[f"{name}_value"], data[f"{name}_grad"]
    # exp(1e4) is inf in both (ferroprop refuses the output); ferroprop's sigmoid clips z
    # to ±500, as the tutorial's does.
    keep = np.isfinite(value) & ((np.abs(z) <= 500) | (name != "sigmoid"))
    z, value, grad = z[keep], value[keep], grad[keep]
    z = np.resize(z, 256)  # a power of two, repeating some points
    value, grad = np.resize(value, 256), np.resize(grad, 256)
    a, da = activation_and_derivative(name, z)
    within(a, value, *torch_tolerance(name, z, False), name)
    within(da, grad, *torch_tolerance(name, z, True), f"{name}'")


def test_gelu_against_erfc_to_a_few_ulp():
    """GELU's Φ by libm's erfc against Python's math.erfc (glibc) on a fine grid, to 4 ulp
    of the result, in the tails included."""
    z = np.concatenate([np.linspace(-37.0, 9.0, 4096 - 4), [0.0, -1e-10, 1e-10, 5e-324]])
    a, _ = activation_and_derivative("gelu", z)
    want = np.array([v * (0.5 * math.erfc(-v * math.sqrt(0.5))) for v in z])
    ulp = np.spacing(np.abs(want))
    assert np.all(np.abs(a - want) <= 4 * ulp)


@pytest.mark.parametrize("dtype", DTYPES)
def test_float32_activations_match_float64(dtype):
    z = np.linspace(-12.0, 12.0, 512)
    for name in NEW_ACTIVATIONS:
        a64, d64 = activation_and_derivative(name, z)
        a, d = activation_and_derivative(name, z.astype(dtype), dtype)
        close(a, a64, dtype, name)
        close(d, d64, dtype, f"{name}'")


def loss_and_gradient(loss, yhat, y):
    """The mean loss and dL/dyhat from a network of one linear layer with W = I, b = 0."""
    k = yhat.shape[1]
    net = Network([k, k], ["identity"], loss, seed=0)
    net.set_weights([(np.eye(k), np.zeros(k))])
    net.forward(yhat)
    net.backward(y)
    return net.loss(yhat, y), net.layers[0].dz


@pytest.mark.parametrize("loss", ["huber", "mean_absolute_error"])
def test_losses_match_torch(loss):
    data = torch_data()
    value, grad = loss_and_gradient(loss, data["yhat"], data["y"])
    assert value == pytest.approx(float(data[f"{loss}_value"]), rel=1e-15)
    np.testing.assert_allclose(grad, data[f"{loss}_grad"], rtol=1e-15, atol=0)
    if loss == "mean_absolute_error":
        assert np.all(grad[0] == 0)  # torch's subgradient at yhat = y


def test_poisson_matches_torch_on_the_log_mean():
    """ferroprop's poisson with an exp output is PyTorch's PoissonNLLLoss on the log-mean z
    plus the constant mean(y ln y − y); the gradients with respect to z are the same."""
    data = torch_data()
    z, counts = data["log_mean"], data["counts"]
    k = z.shape[1]
    net = Network([k, k], ["exp"], "poisson", seed=0)
    net.set_weights([(np.eye(k), np.zeros(k))])
    net.forward(z)
    net.backward(counts)
    with np.errstate(divide="ignore", invalid="ignore"):
        constant = np.mean(np.where(counts > 0, counts * np.log(counts), 0.0) - counts)
    loss = net.loss(z, counts)
    assert loss == pytest.approx(float(data["poisson_nll_value"]) + constant, rel=1e-14)
    np.testing.assert_allclose(net.layers[0].dz, data["poisson_nll_grad_z"], rtol=1e-14, atol=0)


def test_torch_live():
    """The .npz is what the installed torch computes (skipped without torch)."""
    pytest.importorskip("torch")
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", DATA.with_suffix(".py"))
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    stored = torch_data()
    yhat, y, z, counts = gen.batch()
    live = {**gen.activations(gen.grid()), **gen.losses(yhat, y, z, counts)}
    for key, value in live.items():
        np.testing.assert_allclose(value, stored[key], rtol=1e-15, atol=0, err_msg=key)


# -- scikit-learn's MLPRegressor(loss="poisson") ----------------------------------------


def poisson_data(n_outputs):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    means = np.exp(X[:, :n_outputs] * 0.5)
    return X, rng.poisson(means).astype(float).reshape(150, n_outputs).squeeze()


@pytest.mark.parametrize(
    "params",
    [
        dict(solver="sgd"),
        dict(solver="adam"),
        dict(solver="sgd", alpha=0.1, n_outputs=2),
        dict(solver="adam", n_outputs=2, weighted=True),
        dict(solver="adam", early_stopping=True, max_iter=25),
        dict(solver="sgd", activation="tanh", learning_rate="invscaling"),
        dict(solver="lbfgs", n_outputs=2, max_iter=20),
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_poisson_regressor_matches_scikit_learn(params):
    sklearn_mlp = pytest.importorskip("sklearn.neural_network")
    from ferroprop.sklearn import MLPRegressor

    params = dict(params)
    X, y = poisson_data(params.pop("n_outputs", 1))
    weights = (
        np.random.default_rng(1).uniform(0.2, 2.0, len(X)) if params.pop("weighted", 0) else None
    )
    kw = dict(
        hidden_layer_sizes=(6,),
        loss="poisson",
        max_iter=8,
        shuffle=False,
        random_state=0,
        learning_rate_init=0.01,
        batch_size=32,
    )
    kw.update(params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = MLPRegressor(**kw).fit(X, y, sample_weight=weights)
        theirs = sklearn_mlp.MLPRegressor(**kw).fit(X, y, sample_weight=weights)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    assert ours.n_iter_ == theirs.n_iter_
    if kw["solver"] == "lbfgs":
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-12)
    else:
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    if kw.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
    for mine, other in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, other, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)


def test_poisson_regressor_refuses_negative_targets():
    pytest.importorskip("sklearn")
    from ferroprop.sklearn import MLPRegressor

    X, y = poisson_data(1)
    y[3] = -1.0
    with pytest.raises(ValueError, match=r'y must be non-negative for "poisson".*\[-1'):
        MLPRegressor(loss="poisson", max_iter=2).fit(X, y)


@pytest.mark.parametrize("activation", ["sigmoid", "leaky_relu", *NEW_ACTIVATIONS[:-1]])
def test_estimators_take_ferroprop_hidden_activations(activation):
    pytest.importorskip("sklearn")
    from ferroprop.sklearn import MLPClassifier

    X, y = poisson_data(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((5,), activation=activation, max_iter=3, random_state=0)
        clf.fit(X, y > 1)
    assert clf._network.activations == [activation, "sigmoid"]
    assert clf.out_activation_ == "logistic"


# -- names ------------------------------------------------------------------------------


def test_names_ignore_case_and_logistic_is_the_sigmoid():
    net = Network([2, 3, 1], ["GELU", "Logistic"], "Binary_Cross_Entropy", seed=0)
    assert net.activations == ["gelu", "sigmoid"]
    assert net.loss_name == "binary_cross_entropy"
    # The loss follows a "logistic" output, the output a "Poisson" loss.
    assert Network([2, 3, 1], ["relu", "logistic"], seed=0).loss_name == "binary_cross_entropy"
    assert Network([2, 3, 1], "tanh", "Poisson", seed=0).activations == ["tanh", "exp"]
    assert Network([2, 3, 1], ["relu", "exp"], seed=0).loss_name == "poisson"
    assert Network([2, 1], ["relu"], dtype="Float32", seed=0).dtype == np.float32
    net.fit(np.zeros((4, 2)), np.ones(4), epochs=1, optimizer="ADAM", learning_rate=0.01)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(activations=["gelus", "identity"]),
            "unknown activations 'gelus'; .*did you mean 'gelu'\\?$",
        ),
        (dict(activations=["relu", "sigmod"]), "did you mean 'sigmoid'\\?$"),
        (dict(activations=["relu", "identity"], loss="huberr"), "did you mean 'huber'\\?$"),
        (
            dict(activations=["relu", "identity"], loss="mean_absolute"),
            "did you mean 'mean_absolute_error'\\?$",
        ),
        (dict(activations=["relu", "identity"], loss="hinge"), "expected one of .*'poisson'$"),
        (
            dict(activations=["relu", "identity"], loss="poisson"),
            'must end with "exp" for loss "poisson"',
        ),
        (dict(activations=["relu", "identity"], dtype="float65"), "did you mean 'float64'\\?$"),
    ],
)
def test_unknown_names_suggest_the_nearest(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Network([2, 3, 1], seed=0, **kwargs)


def test_fit_names_suggest_the_nearest():
    net = Network([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="unknown optimizer 'adma'; .*did you mean 'adam'\\?$"):
        net.fit(np.zeros((4, 2)), np.ones(4), epochs=1, optimizer="adma")


def test_poisson_refuses_negative_targets():
    net = Network([2, 3, 1], "relu", "poisson", seed=0)
    with pytest.raises(
        ValueError,
        match=r'^y must be non-negative for "poisson" \(counts or rates\), got values in \[-2, 3\]',
    ):
        net.fit(np.zeros((3, 2)), [1.0, -2.0, 3.0], epochs=1)


@pytest.mark.parametrize("activation", NEW_ACTIVATIONS)
def test_new_names_round_trip_through_files(tmp_path, activation):
    loss = "poisson" if activation == "exp" else "huber"
    net = Network([3, 4, 2], [activation, output_for(loss)], loss, seed=1)
    net.save(tmp_path / "m.safetensors")
    back = Network.load(tmp_path / "m.safetensors")
    assert back.activations == net.activations and back.loss_name == loss
    X = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(back.predict(X), net.predict(X))
