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
        (dict(schedule="cosine"), ValueError, "unknown schedule"),
        (
            dict(schedule="adaptive", optimizer="adam"),
            ValueError,
            "'constant' with optimizer 'adam'",
        ),
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
