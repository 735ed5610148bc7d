"""ferroprop's estimators draw from ``random_state`` exactly as scikit-learn's do: the same
Glorot draw, early stopping's split, and each epoch's ``shuffle`` (NumPy's legacy MT19937
stream, run in Rust), so the same ``random_state`` gives scikit-learn's model, and leaves a
``RandomState`` where scikit-learn leaves it. Also: diverging fits end as scikit-learn's."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn import neural_network as sknn
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

from ferroprop import Network
from ferroprop.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    "ignore:Got `batch_size` less than 1:UserWarning",
)


def data(kind: str, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    if kind == "digits":
        X, y = load_digits(return_X_y=True)
        return MinMaxScaler().fit_transform(X[:300]), y[:300]
    X, y = make_regression(n_samples=240, n_features=8, noise=5.0, random_state=3)
    return X, (y - y.mean()) / y.std()


def estimators(kind: str) -> tuple[Any, Any]:
    if kind == "digits":
        return MLPClassifier, sknn.MLPClassifier
    return MLPRegressor, sknn.MLPRegressor


def largest_difference(ours: Any, theirs: Any) -> float:
    params = zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_)
    diffs = [float(np.max(np.abs(a - b))) for a, b in params]
    diffs.append(float(np.max(np.abs(np.subtract(ours.loss_curve_, theirs.loss_curve_)))))
    if theirs.validation_scores_ is not None:
        scores = np.subtract(ours.validation_scores_, theirs.validation_scores_)
        diffs.append(float(np.max(np.abs(scores))))
    return max(diffs)


SETTINGS = {
    "sgd": dict(solver="sgd", momentum=0.0, learning_rate_init=0.05),
    "momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "invscaling": dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.2),
    "adaptive": dict(
        solver="sgd", learning_rate="adaptive", n_iter_no_change=1, tol=1e3, max_iter=12
    ),
    "adam": dict(solver="adam"),
    "adam-early-stopping": dict(solver="adam", early_stopping=True, n_iter_no_change=2),
    "sgd-early-stopping": dict(solver="sgd", early_stopping=True, validation_fraction=0.2),
    "full-batch": dict(solver="adam", batch_size=10_000),
}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("settings", SETTINGS.values(), ids=SETTINGS.keys())
@pytest.mark.parametrize("kind", ["digits", "regression"])
def test_shuffled_fits_are_sklearns_model(kind, settings, weighted):
    """shuffle=True (the default), batches that do not divide n, several epochs: the same
    random_state gives scikit-learn's weights, losses and scores (to rounding)."""
    X, y = data(kind)
    ours_cls, their_cls = estimators(kind)
    kw = dict(hidden_layer_sizes=(16, 8), batch_size=37, max_iter=5, random_state=0)
    kw.update(settings)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y)) if weighted else None
    ours = ours_cls(**kw).fit(X, y, sample_weight=sw)
    theirs = their_cls(**kw).fit(X, y, sample_weight=sw)
    assert (ours.n_iter_, ours.t_) == (theirs.n_iter_, theirs.t_)
    assert largest_difference(ours, theirs) < 1e-12


def states_equal(a: np.random.RandomState, b: np.random.RandomState) -> bool:
    sa, sb = a.get_state(), b.get_state()
    return bool(np.array_equal(sa[1], sb[1]) and sa[2:] == sb[2:])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 37, 624, 625, 1000])
def test_the_random_state_ends_where_sklearns_does(n):
    """A RandomState instance is advanced by exactly scikit-learn's draws (Glorot, then one
    shuffle of n indices per epoch): NumPy's permutations, for any n."""
    rng = np.random.default_rng(n)
    X, y = rng.normal(size=(n, 3)), rng.normal(size=n)
    kw = dict(hidden_layer_sizes=(4,), batch_size=2, max_iter=3, learning_rate_init=1e-3)
    ours_rs, their_rs = np.random.RandomState(7), np.random.RandomState(7)
    ours = MLPRegressor(random_state=ours_rs, **kw).fit(X, y)
    theirs = sknn.MLPRegressor(random_state=their_rs, **kw).fit(X, y)
    assert states_equal(ours_rs, their_rs)
    assert largest_difference(ours, theirs) < 1e-12


def test_partial_fit_and_warm_start_continue_the_stream():
    """partial_fit and warm starts draw from the same RandomState instance call after call,
    as scikit-learn's do; so does the global stream (random_state=None)."""
    X, y = data("digits")
    classes = np.unique(y)
    kw = dict(hidden_layer_sizes=(10,), batch_size=50, solver="sgd", learning_rate_init=0.1)
    ours_rs, their_rs = np.random.RandomState(3), np.random.RandomState(3)
    ours = MLPClassifier(random_state=ours_rs, **kw)
    theirs = sknn.MLPClassifier(random_state=their_rs, **kw)
    for _ in range(3):
        ours.partial_fit(X, y, classes=classes)
        theirs.partial_fit(X, y, classes=classes)
    assert states_equal(ours_rs, their_rs)
    assert largest_difference(ours, theirs) < 1e-12
    ours.set_params(warm_start=True, max_iter=3)
    theirs.set_params(warm_start=True, max_iter=3)
    for _ in range(2):
        ours.fit(X, y)
        theirs.fit(X, y)
    assert states_equal(ours_rs, their_rs)
    assert largest_difference(ours, theirs) < 1e-12
    # The global stream: random_state=None.
    np.random.seed(11)  # noqa: NPY002 (the global stream is what is tested)
    ours = MLPClassifier(**kw, max_iter=2).fit(X, y)
    after_ours = np.random.get_state()  # noqa: NPY002
    np.random.seed(11)  # noqa: NPY002 (the global stream is what is tested)
    theirs = sknn.MLPClassifier(**kw, max_iter=2).fit(X, y)
    after_theirs = np.random.get_state()  # noqa: NPY002
    assert np.array_equal(after_ours[1], after_theirs[1]) and after_ours[2] == after_theirs[2]
    assert largest_difference(ours, theirs) < 1e-12


def test_without_shuffling_nothing_is_drawn_after_the_split():
    X, y = data("regression")
    rs = np.random.RandomState(0)
    MLPRegressor(hidden_layer_sizes=(4,), shuffle=False, max_iter=3, random_state=rs).fit(X, y)
    expected = np.random.RandomState(0)
    # Only the Glorot draw: (8x4 + 4) then (4x1 + 1) uniforms.
    expected.uniform(size=8 * 4 + 4 + 4 + 1)
    assert states_equal(rs, expected)


@pytest.mark.parametrize("learning_rate", ["invscaling", "constant", "adaptive"])
def test_step_sizes_follow_sklearn(learning_rate):
    """The step size scikit-learn keeps in its private _optimizer is ferroprop's
    _learning_rate, after warm starts and when the adaptive schedule ends a fit (what
    scikit-learn's test_learning_rate_warmstart and test_adaptive_learning_rate check)."""
    X, y = [[3, 2], [1, 6], [5, 6], [-2, -4]], [1, 1, 1, 0]
    kw = dict(solver="sgd", hidden_layer_sizes=4, learning_rate=learning_rate, power_t=0.25)
    kw.update(dict(tol=0.5, max_iter=3000) if learning_rate == "adaptive" else dict(max_iter=1))
    ours = MLPClassifier(warm_start=True, random_state=0, **kw)
    theirs = sknn.MLPClassifier(warm_start=True, random_state=0, **kw)
    for _ in range(2):
        ours.fit(X, y)
        theirs.fit(X, y)
        assert ours._learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-15)
        assert ours.n_iter_ == theirs.n_iter_
    if learning_rate == "adaptive":
        assert ours._learning_rate < 1e-6 and ours.n_iter_ < ours.max_iter


def diverging(early_stopping: bool) -> dict[str, Any]:
    return dict(
        hidden_layer_sizes=100,
        activation="identity",
        solver="sgd",
        learning_rate_init=1,
        max_iter=20,
        early_stopping=early_stopping,
        random_state=0,
    )


def test_a_diverging_fit_with_early_stopping_ends_as_sklearns():
    """scikit-learn trains on with NaN weights: NaN scores to max_iter, then the best
    weights. ferroprop records the same epochs, scores and draws without computing them."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:150] / 4, y[:150].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's overflows
        ours = MLPRegressor(**diverging(True)).fit(X, y)
        theirs = sknn.MLPRegressor(**diverging(True)).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 20 and ours.t_ == theirs.t_
    scores, expected = np.array(ours.validation_scores_), np.array(theirs.validation_scores_)
    np.testing.assert_array_equal(np.isnan(scores), np.isnan(expected))
    assert np.isnan(scores[-1]) and isinstance(ours.validation_scores_[-1], float)
    np.testing.assert_allclose(scores[~np.isnan(scores)], expected[~np.isnan(expected)])
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12)  # the best epoch's weights


def test_a_diverging_fit_without_early_stopping_raises_sklearns_error():
    X, y = load_digits(return_X_y=True)
    X, y = X[:150] / 4, y[:150].astype(float)
    msg = "Solver produced non-finite parameter weights"
    est = MLPRegressor(**diverging(False))
    with pytest.warns(ConvergenceWarning), pytest.raises(ValueError, match=msg) as info:
        est.fit(X, y)
    assert "epoch" in str(info.value)  # and which epoch diverged
    assert est.n_iter_ == 20 and np.isnan(est.loss_curve_[-1])
    assert all(np.isfinite(W).all() for W in est.coefs_)  # the last finite weights
    # Network.fit keeps its own rule: it stops at the diverging epoch with an error.
    net = Network([X.shape[1], 8, 1], ["identity", "identity"], "mean_squared_error", seed=0)
    with pytest.raises(ValueError, match="overflowed|became"):
        net.fit(X, y.reshape(-1, 1), epochs=20, learning_rate=1.0, batch_size=10)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_with_an_int_random_state_follows_sklearn(solver):
    """An int random_state is a fresh RandomState each call: every partial_fit epoch draws
    the same permutation, in scikit-learn as in ferroprop."""
    X, y = data("digits")
    kw = dict(hidden_layer_sizes=(10,), batch_size=32, solver=solver, random_state=4)
    ours, theirs = MLPClassifier(**kw), sknn.MLPClassifier(**kw)
    for _ in range(4):
        ours.partial_fit(X, y, classes=np.unique(y))
        theirs.partial_fit(X, y, classes=np.unique(y))
    assert largest_difference(ours, theirs) < 1e-12
    # Warm starts too: a fit of a network that exists draws only its shuffling stream.
    ours.set_params(warm_start=True, max_iter=3)
    theirs.set_params(warm_start=True, max_iter=3)
    for _ in range(2):
        ours.fit(X, y)
        theirs.fit(X, y)
    assert largest_difference(ours, theirs) < 1e-12


def test_a_random_state_over_another_bit_generator_seeds_the_cores_stream():
    """NumPy's legacy shuffle is emulated for MT19937 only; a RandomState over another bit
    generator seeds ferroprop's own stream from one draw (same seed, same model)."""
    X, y = data("regression")
    kw = dict(hidden_layer_sizes=(4,), batch_size=50, max_iter=3)
    fits = [
        MLPRegressor(random_state=np.random.RandomState(np.random.PCG64(0)), **kw).fit(X, y)
        for _ in range(2)
    ]
    assert largest_difference(*fits) == 0
