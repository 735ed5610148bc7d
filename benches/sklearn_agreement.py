"""The largest difference between ferroprop's estimators and scikit-learn's own, fitted
with the same settings and ``random_state`` (shuffling, early stopping's split and sample
weights included), for each solver and option: the weights, loss curves and validation
scores. Asserts nothing (tests/test_sklearn_rng.py does); prints a table.

    python benches/sklearn_agreement.py
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn import neural_network as sknn
from sklearn.datasets import load_digits, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import MinMaxScaler

from ferroprop.sklearn import MLPClassifier, MLPRegressor


def data(kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "digits":
        X, y = load_digits(return_X_y=True)
        return MinMaxScaler().fit_transform(X[:500]), y[:500]
    X, y = make_regression(n_samples=300, n_features=8, noise=5.0, random_state=3)
    return X, (y - y.mean()) / y.std()


SETTINGS: dict[str, dict[str, Any]] = {
    "sgd": dict(solver="sgd", momentum=0.0, learning_rate_init=0.05),
    "sgd momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "sgd nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "sgd invscaling": dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.2),
    "sgd adaptive": dict(
        solver="sgd", learning_rate="adaptive", n_iter_no_change=1, tol=1e3, max_iter=12
    ),
    "adam": dict(solver="adam"),
    "adam early stopping": dict(solver="adam", early_stopping=True, n_iter_no_change=3),
    "sgd early stopping": dict(solver="sgd", early_stopping=True, validation_fraction=0.2),
    "adam batch 200": dict(solver="adam", batch_size=200),
    "adam full batch": dict(solver="adam", batch_size=10_000),
    "lbfgs": dict(solver="lbfgs", max_iter=30),
}


def max_difference(ours: Any, theirs: Any) -> float:
    diffs = [
        float(np.max(np.abs(a - b)))
        for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_)
    ]
    if hasattr(theirs, "loss_curve_"):
        diffs.append(float(np.max(np.abs(np.subtract(ours.loss_curve_, theirs.loss_curve_)))))
    if getattr(theirs, "validation_scores_", None):
        diffs.append(
            float(np.max(np.abs(np.subtract(ours.validation_scores_, theirs.validation_scores_))))
        )
    return max(diffs)


def compare(kind: str, name: str, weighted: bool) -> tuple[float, int, int]:
    X, y = data(kind)
    ours_cls, their_cls = (
        (MLPClassifier, sknn.MLPClassifier)
        if kind == "digits"
        else (MLPRegressor, sknn.MLPRegressor)
    )
    kw = dict(hidden_layer_sizes=(16, 8), batch_size=37, max_iter=6, random_state=0)
    kw.update(SETTINGS[name])
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y)) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # batch_size clipped
        ours = ours_cls(**kw).fit(X, y, sample_weight=sw)
        theirs = their_cls(**kw).fit(X, y, sample_weight=sw)
    return max_difference(ours, theirs), ours.n_iter_, theirs.n_iter_


def main() -> None:
    print(f"{'data':8} {'settings':22} {'weights':8} {'max |diff|':>11}  epochs")
    for kind in ("digits", "regression"):
        for name in SETTINGS:
            for weighted in (False, True):
                diff, n_ours, n_theirs = compare(kind, name, weighted)
                epochs = f"{n_ours}" if n_ours == n_theirs else f"{n_ours} vs {n_theirs}"
                print(f"{kind:8} {name:22} {str(weighted):8} {diff:11.3g}  {epochs}")


if __name__ == "__main__":
    main()
