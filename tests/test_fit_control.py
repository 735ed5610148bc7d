"""fit's validation scores, no-improvement stopping, early stopping and step-size
schedules, checked against scikit-learn's metrics and its rules written out."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, r2_score

from ferroprop import Network


def classification(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 1)
    return X, y


def test_validation_scores_are_scikit_learn_metrics():
    X, y = classification()
    net = Network([4, 16, 3], ["tanh", "softmax"], "cross_entropy", seed=0)
    net.fit(
        X[:150],
        y[:150],
        epochs=5,
        learning_rate=0.1,
        validation_data=(X[150:], y[150:]),
        validation_metric="accuracy",
    )
    h = net.history_
    assert len(h["val_score"]) == len(h["val_loss"]) == 5
    pred = net.predict(X[150:]).argmax(axis=1)
    assert h["val_score"][-1] == accuracy_score(y[150:], pred)
    assert h["val_loss"][-1] == pytest.approx(net.loss(X[150:], y[150:]), rel=1e-12)

    rng = np.random.default_rng(1)
    Xr = rng.normal(size=(120, 3))
    yr = np.c_[Xr[:, 0] - Xr[:, 1], np.sin(Xr[:, 2])]
    reg = Network([3, 8, 2], ["tanh", "identity"], "mean_squared_error", seed=0)
    reg.fit(
        Xr[:90],
        yr[:90],
        epochs=3,
        learning_rate=0.05,
        validation_data=(Xr[90:], yr[90:]),
        validation_metric="r2",
    )
    assert reg.history_["val_score"][-1] == pytest.approx(
        r2_score(yr[90:], reg.predict(Xr[90:])), rel=1e-12
    )


def test_no_improvement_stops_as_scikit_learn_counts():
    X, y = classification()
    net = Network([4, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    # No epoch can improve by 1e9: the count grows from the second epoch on, and training
    # stops once it exceeds n_iter_no_change = 3, after 5 epochs.
    history = net.fit(X, y, epochs=100, n_iter_no_change=3, tol=1e9)
    assert len(history) == 5 and net.history_["stopped"] == "no_improvement"
    net.fit(X, y, epochs=7)
    assert net.history_["stopped"] == "max_epochs"
    net.fit(X, y, epochs=7, callback=lambda e, loss: e == 2)
    assert net.history_["stopped"] == "callback" and len(net.history_["loss"]) == 2


def test_early_stopping_keeps_the_best_validation_weights():
    X, y = classification(300)
    net = Network([4, 32, 3], ["relu", "softmax"], "cross_entropy", seed=3)
    net.fit(
        X[:200],
        y[:200],
        epochs=200,
        learning_rate=0.5,
        batch_size=8,
        seed=0,
        validation_data=(X[200:], y[200:]),
        validation_metric="accuracy",
        n_iter_no_change=5,
        tol=0.0,
        early_stopping=True,
    )
    h = net.history_
    assert h["best_val_score"] == max(h["val_score"])
    assert accuracy_score(y[200:], net.predict(X[200:]).argmax(axis=1)) == h["best_val_score"]


def test_schedules():
    X, y = classification()
    net = Network([4, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    net.fit(X, y, epochs=3, learning_rate=0.2, schedule="invscaling", power_t=0.25)
    n = len(X)
    assert net.history_["learning_rate"] == [0.2, 0.2 / (n + 1) ** 0.25, 0.2 / (2 * n + 1) ** 0.25]
    net.fit(X, y, epochs=500, learning_rate=0.2, schedule="adaptive", n_iter_no_change=1, tol=1e9)
    lrs = net.history_["learning_rate"]
    assert net.history_["stopped"] == "learning_rate" and lrs[-1] <= 1e-6
    assert lrs[:5] == [0.2, 0.2, 0.2, pytest.approx(0.04), pytest.approx(0.04)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(schedule="cosine_restarts"), ValueError, "unknown schedule"),
        (dict(early_stopping=True), ValueError, "validation"),
        (dict(n_iter_no_change=0), ValueError, "n_iter_no_change"),
        (dict(tol=-1.0), ValueError, "tol"),
        (dict(power_t=-1.0, schedule="invscaling"), ValueError, "power_t"),
        (dict(validation_data=np.zeros((3, 4))), TypeError, "pair"),
        (dict(validation_data=(np.zeros((3, 5)), [0, 1, 2])), ValueError, "validation_data X"),
        (dict(validation_data=(np.zeros((3, 4)), [0, 1, 7])), ValueError, "out of range"),
        (
            dict(validation_data=(np.zeros((3, 4)), [0, 1, 2]), validation_metric="auc"),
            ValueError,
            "unknown validation_metric",
        ),
        (
            dict(validation_data=(np.zeros((3, 4)), [0, 1, 2]), validation_metric="r2"),
            TypeError,
            "r2",
        ),
    ],
)
def test_bad_control_arguments(kwargs, error, match):
    X, y = classification(20)
    net = Network([4, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    with pytest.raises(error, match=match):
        net.fit(X, y, epochs=2, **kwargs)


def test_progress_bar(capsys):
    pytest.importorskip("tqdm")
    X, y = classification(50)
    net = Network([4, 8, 3], ["relu", "softmax"], "cross_entropy", seed=0)
    seen = []
    net.fit(X, y, epochs=4, progress=True, callback=lambda e, loss: seen.append(e))
    assert seen == [1, 2, 3, 4]
    err = capsys.readouterr().err
    assert "4/4" in err and "loss=" in err


_CORE = dict(
    epochs=2,
    learning_rate=0.1,
    batch_size=10,
    shuffle=True,
    seed=0,
    optimizer="sgd",
    momentum=0.0,
    nesterov=False,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-8,
)


@pytest.mark.parametrize(
    ("keywords", "error", "match"),
    [
        (dict(scales=(0.0, 1.0, 1.0)), ValueError, "scales loss must be positive"),
        (dict(scales=(1.0, np.inf, 1.0)), ValueError, "scales penalty must be positive"),
        (dict(scales=(1.0, 1.0, np.nan)), ValueError, "scales step must be positive"),
        (dict(resume=(0, 1.0, 0.0, 0, 0.0)), ValueError, "resume learning_rate"),
        (dict(resume=(0, np.nan, 0.0, 0, 0.1)), ValueError, "resume best loss"),
        (dict(validation_sample_weight=np.ones(3)), ValueError, "validation sample_weight"),
        (dict(validation_sample_weight=-np.ones(50)), ValueError, "validation sample_weight"),
        (
            dict(validation_sample_weight=np.ones(50, dtype=np.float32)),
            TypeError,
            "validation sample_weight",
        ),
        (
            dict(early_stopping=True, best_weights=[(np.zeros((2, 2)), np.zeros(2))]),
            ValueError,
            "best weights",
        ),
        (dict(report=lambda r: 1 / 0), ZeroDivisionError, "division"),
    ],
)
def test_the_estimators_core_keywords_refuse_bad_values(keywords, error, match):
    """What the estimators pass to the core (scales, resume, validation weights, best
    weights, report) is checked there: a clear error, the network unchanged."""
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((50, 3)), (rng.random((50, 1)) > 0.5) * 1.0
    net = Network([3, 5, 1], ["relu", "sigmoid"], "binary_cross_entropy", seed=0)
    before = net.get_weights()
    validation = (
        {} if keywords.keys() <= {"scales", "resume", "report"} else {"validation_data": (X, Y)}
    )
    with pytest.raises(error, match=match):
        net._core.fit(X, Y, **_CORE, **validation, **keywords)
    if error is not ZeroDivisionError:  # the report runs after an epoch has trained
        for (W, b), (W0, b0) in zip(net.get_weights(), before):
            np.testing.assert_array_equal(W, W0)
            np.testing.assert_array_equal(b, b0)


def test_resumed_fits_continue_the_rule():
    """Network-level resume: two fits, the second resumed from the first's last report,
    take the steps, step sizes and decisions of one fit (adaptive schedule, no shuffling)."""
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((40, 3)), (rng.random((40, 1)) > 0.5) * 1.0
    kw = dict(_CORE, shuffle=False, schedule="adaptive", n_iter_no_change=1, tol=1e-2)
    whole = Network([3, 5, 1], ["relu", "sigmoid"], "binary_cross_entropy", seed=0)
    parts = Network([3, 5, 1], ["relu", "sigmoid"], "binary_cross_entropy", seed=0)
    h_whole = whole._core.fit(X, Y, **dict(kw, epochs=12))
    reports = []
    h_1 = parts._core.fit(X, Y, **dict(kw, epochs=5), report=reports.append)
    last = reports[-1]
    resume = tuple(
        last[k] for k in ("count", "best_loss", "best_score", "samples_seen", "learning_rate")
    )
    h_2 = parts._core.fit(X, Y, **dict(kw, epochs=7), resume=resume)
    assert h_1["loss"] + h_2["loss"] == h_whole["loss"]
    assert h_1["learning_rate"] + h_2["learning_rate"] == h_whole["learning_rate"]
    # The count carried over: the step size is divided in the resumed part.
    assert min(h_2["learning_rate"]) < max(h_1["learning_rate"])
    assert h_2["t"] == h_whole["t"] == 40 * 12
    for (W, b), (W0, b0) in zip(parts.get_weights(), whole.get_weights()):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)
