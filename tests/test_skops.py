"""skops files: estimators and networks round-trip through ``skops.io``, and the only
types a user has to trust are ferroprop's own (the README lists them)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

sio = pytest.importorskip("skops.io")
pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from ferroprop import Network  # noqa: E402
from ferroprop.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

NETWORK = "ferroprop.network.Network"
CLASSIFIER = "ferroprop.sklearn._classifier.MLPClassifier"
REGRESSOR = "ferroprop.sklearn._regressor.MLPRegressor"
README = Path(__file__).resolve().parents[1] / "README.md"


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 4))
    return X, X[:, 0] + X[:, 1] ** 2


def fitted(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def round_trip(obj, path, expected_types):
    sio.dump(obj, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert sorted(untrusted) == sorted(expected_types)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(path)
    return sio.load(path, trusted=untrusted)


def test_classifier_with_early_stopping(tmp_path):
    X, t = data()
    y = np.array(["low", "mid", "high"])[np.digitize(t, [0.5, 2.0])]
    clf = fitted(MLPClassifier((16,), early_stopping=True, max_iter=50, random_state=0), X, y)
    assert clf.validation_scores_  # early stopping ran
    loaded = round_trip(clf, tmp_path / "clf.skops", [NETWORK, CLASSIFIER])
    assert type(loaded) is MLPClassifier and loaded.get_params() == clf.get_params()
    X_new, _ = data(seed=1)
    np.testing.assert_array_equal(loaded.predict(X_new), clf.predict(X_new))
    np.testing.assert_array_equal(loaded.predict_proba(X_new), clf.predict_proba(X_new))
    assert loaded.validation_scores_ == clf.validation_scores_
    assert loaded.best_validation_score_ == clf.best_validation_score_
    assert list(loaded.classes_) == list(clf.classes_)
    for W, W_loaded in zip(clf.coefs_, loaded.coefs_):
        np.testing.assert_array_equal(W_loaded, W)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regressor(tmp_path, dtype):
    X, t = data()
    reg = MLPRegressor(hidden_layer_sizes=(8, 4), max_iter=50, random_state=0, dtype=dtype)
    fitted(reg, X, np.column_stack([t, -t]))
    loaded = round_trip(reg, tmp_path / "reg.skops", [NETWORK, REGRESSOR])
    X_new, _ = data(seed=1)
    prediction = loaded.predict(X_new)
    assert prediction.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(prediction, reg.predict(X_new))
    assert loaded.loss_curve_ == reg.loss_curve_
    fitted(loaded, X, np.column_stack([t, -t]))  # trains again after loading


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_network(tmp_path, dtype):
    X, t = data()
    net = Network([4, 8, 1], ["tanh", "identity"], dtype=dtype, seed=0)
    net.fit(X, t, epochs=5, learning_rate=0.01)
    loaded = round_trip(net, tmp_path / "net.skops", [NETWORK])
    assert repr(loaded) == repr(net)
    np.testing.assert_array_equal(loaded.predict(X), net.predict(X))


def test_dtype_given_as_a_numpy_dtype_adds_numpy_dtype(tmp_path):
    X, t = data()
    clf = fitted(MLPClassifier((4,), max_iter=5, dtype=np.dtype("float32")), X, t > 1)
    loaded = round_trip(clf, tmp_path / "clf.skops", [NETWORK, CLASSIFIER, "numpy.dtype"])
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def readme_skops_block():
    section = README.read_text(encoding="utf-8").split("### skops", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_lists_exactly_these_types():
    block = readme_skops_block()
    assert {NETWORK, CLASSIFIER, REGRESSOR} <= set(re.findall(r'"(ferroprop\.[\w.]+)"', block))


def test_readme_lines(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, t = data()
    clf = fitted(MLPClassifier((4,), max_iter=5, random_state=0), X, t > 1)
    namespace = {"clf": clf}
    exec(readme_skops_block(), namespace)
    np.testing.assert_array_equal(namespace["clf"].predict_proba(X), clf.predict_proba(X))
    assert namespace["clf"] is not clf
