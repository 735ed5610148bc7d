"""scikit-learn's callbacks (``sklearn.callback``) on the estimators' fits: a task per
epoch (or L-BFGS iteration) with the estimator as it stands, stopping on request, and fits
without callbacks unchanged."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression

from ferroprop.sklearn import MLPClassifier, MLPRegressor

callback = pytest.importorskip("sklearn.callback", reason="scikit-learn >= 1.9 has callbacks")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def regression() -> tuple[np.ndarray, np.ndarray]:
    X, y = make_regression(150, 5, noise=1.0, random_state=0)
    return X, y / 100


class Recorder:
    """A FitCallback that records its hooks, the coefficients of each fitted estimator it
    is handed, and asks to stop at the end of epoch ``stop_after`` (1-based)."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self.events: list[tuple[str, str, int]] = []
        self.coefs: list[list[np.ndarray]] = []

    def setup(self, estimator: Any, context: Any) -> None:
        self.events.append(("setup", context.task_name, context.task_id))

    def teardown(self, estimator: Any, context: Any) -> None:
        self.events.append(("teardown", context.task_name, context.task_id))

    def on_fit_task_begin(self, estimator: Any, context: Any) -> None:
        self.events.append(("begin", context.task_name, context.task_id))

    def on_fit_task_end(
        self, estimator: Any, context: Any, *, fitted_estimator: Any = None
    ) -> bool:
        self.events.append(("end", context.task_name, context.task_id))
        if fitted_estimator is not None and context.parent is not None:
            self.coefs.append([W.copy() for W in fitted_estimator.coefs_])
        return self.stop_after is not None and context.task_id + 1 == self.stop_after


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_each_epoch_is_a_task_with_that_epochs_model(solver):
    """The estimator handed to epoch k's end hook predicts as a fit of k epochs would."""
    X, y = regression()
    kw = dict(hidden_layer_sizes=(6,), solver=solver, batch_size=40, max_iter=4, random_state=0)
    rec = Recorder()
    est = MLPRegressor(**kw).set_callbacks(rec)
    est.fit(X, y)
    assert rec.events[0] == ("setup", "fit", 0) and rec.events[-1] == ("teardown", "fit", 0)
    epochs = [e for e in rec.events if e[1] == "epoch"]
    expected = [(hook, "epoch", k) for k in range(4) for hook in ("begin", "end")]
    assert epochs == expected
    assert len(rec.coefs) == est.n_iter_ == 4
    for k, coefs in enumerate(rec.coefs, start=1):
        shorter = MLPRegressor(**{**kw, "max_iter": k}).fit(X, y)
        for a, b in zip(coefs, shorter.coefs_):
            np.testing.assert_array_equal(a, b)
    assert not hasattr(est, "_callback_fit_ctx")  # torn down


def test_a_callback_stops_the_fit():
    X, y = regression()
    rec = Recorder(stop_after=3)
    est = MLPRegressor(hidden_layer_sizes=(6,), max_iter=50, random_state=0).set_callbacks(rec)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ConvergenceWarning: the callback stopped it
        est.fit(X, y)
    assert est.n_iter_ == 3 and len(est.loss_curve_) == 3
    begun = [e for e in rec.events if e[0] == "begin" and e[1] == "epoch"]
    assert len(begun) == 3  # no epoch begun after the stop


def test_early_stopping_and_partial_fit_tasks():
    X, y = make_classification(200, 5, random_state=0)
    rec = Recorder()
    clf = MLPClassifier(
        hidden_layer_sizes=(5,), early_stopping=True, n_iter_no_change=2, random_state=0
    ).set_callbacks(rec)
    clf.fit(X, y)
    ends = [e for e in rec.events if e[0] == "end" and e[1] == "epoch"]
    begins = [e for e in rec.events if e[0] == "begin" and e[1] == "epoch"]
    assert len(ends) == len(begins) == clf.n_iter_ < clf.max_iter
    rec.events.clear()
    clf.set_params(early_stopping=False).partial_fit(X, y)
    assert [e for e in rec.events if e[1] == "epoch"] == [
        ("begin", "epoch", 0),
        ("end", "epoch", 0),
    ]


def test_lbfgs_iterations_are_tasks():
    X, y = regression()
    rec = Recorder()
    est = MLPRegressor(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=7, random_state=0)
    est.set_callbacks(rec).fit(X, y)
    ends = [e for e in rec.events if e[0] == "end" and e[1] == "lbfgs-iter"]
    assert len(ends) == est.n_iter_ + 1  # and the empty last one, as scikit-learn's
    assert len(rec.coefs) == est.n_iter_
    for a, b in zip(rec.coefs[-1], est.coefs_):
        np.testing.assert_array_equal(a, b)


def test_scoring_monitor_logs_each_epochs_score():
    X, y = regression()
    monitor = callback.ScoringMonitor(scoring="r2")
    est = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    est.set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == list(range(5))
    assert epochs[-1]["r2"] == pytest.approx(est.score(X, y), rel=1e-12)
    assert rows[0]["task_name"] == "fit" and rows[0]["r2"] == pytest.approx(est.score(X, y))


def test_progress_bar_runs_on_a_fit(capsys):
    pytest.importorskip("rich")
    X, y = regression()
    est = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0)
    est.set_callbacks(callback.ProgressBar()).fit(X, y)
    assert "MLPRegressor - fit" in capsys.readouterr().out
    assert est.n_iter_ == 5


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_callbacks_change_nothing(solver):
    X, y = regression()
    kw = dict(hidden_layer_sizes=(6,), solver=solver, max_iter=6, random_state=0)
    plain = MLPRegressor(**kw).fit(X, y)
    watched = MLPRegressor(**kw).set_callbacks(Recorder(), callback.ScoringMonitor(scoring="r2"))
    watched.fit(X, y)
    for a, b in zip(plain.coefs_ + plain.intercepts_, watched.coefs_ + watched.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert plain.n_iter_ == watched.n_iter_
