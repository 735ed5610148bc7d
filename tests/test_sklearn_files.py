"""``est.save(path)`` and ``MLPClassifier.load`` / ``MLPRegressor.load``: a safetensors
file with the estimator in its metadata, no pickle; the loaded estimator predicts and
trains on exactly as the saved one."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import NotFittedError

from ferroprop import Network
from ferroprop.sklearn import MLPClassifier, MLPRegressor
from ferroprop.sklearn._files import METADATA_KEY

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def problem(task: str) -> tuple[Any, Any]:
    if task == "binary":
        X, y = make_classification(120, 5, random_state=0)
        return X, np.array(["no", "yes"])[y]
    if task == "multiclass":
        X, y = make_classification(120, 5, n_informative=3, n_classes=3, random_state=0)
        return X, y + 10
    if task == "multilabel":
        return make_multilabel_classification(120, 5, n_classes=3, random_state=0)
    X, y = make_regression(120, 5, n_targets=2, noise=1.0, random_state=0)
    return X, y / 100


def same_attributes(a: Any, b: Any) -> None:
    """Every attribute of ``a`` (fitted ones, parameters) is ``b``'s, type included."""
    assert set(vars(a)) - {"_callback_stop"} <= set(vars(b)) | {"_callback_stop"}
    for name, value in vars(a).items():
        if name in ("_network", "_best_network", "_callback_stop", "_label_binarizer"):
            continue
        other = getattr(b, name)
        if isinstance(value, np.random.RandomState):
            assert np.array_equal(value.get_state()[1], other.get_state()[1]), name
            continue
        assert type(other) is type(value), name
        if isinstance(value, np.ndarray):
            assert other.dtype == value.dtype, name
            np.testing.assert_array_equal(other, value)
        else:
            assert repr(other) == repr(value), name
    if hasattr(a, "_label_binarizer"):
        for name, value in vars(a._label_binarizer).items():
            assert repr(getattr(b._label_binarizer, name)) == repr(value), name


def same_weights(a: Any, b: Any) -> None:
    for x, y in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


CASES = [
    ("binary", dict(solver="adam")),
    ("multiclass", dict(solver="sgd", class_weight={10: 2.0, 11: 1.0, 12: 0.5})),
    ("multilabel", dict(solver="lbfgs")),
    ("regression", dict(solver="sgd", early_stopping=True, learning_rate="adaptive")),
    ("regression", dict(solver="adam", dtype="float32")),
]


@pytest.mark.parametrize(("task", "settings"), CASES)
def test_a_loaded_estimator_is_the_saved_one(tmp_path, task, settings):
    X, y = problem(task)
    cls = MLPRegressor if task == "regression" else MLPClassifier
    est = cls(hidden_layer_sizes=(6, 4), max_iter=8, random_state=0, **settings).fit(X, y)
    path = tmp_path / "est.safetensors"
    est.save(path)
    loaded = cls.load(path)
    assert type(loaded) is cls
    assert repr(loaded.get_params()) == repr(est.get_params())
    same_attributes(est, loaded)
    same_weights(est, loaded)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    if cls is MLPClassifier:
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    # The network alone, by ferroprop and by any safetensors reader.
    net = Network.load(path)
    np.testing.assert_array_equal(net.predict(X.astype(net.dtype)), est._network.predict(X))
    safetensors = pytest.importorskip("safetensors")
    with safetensors.safe_open(str(path), framework="numpy") as f:
        document = json.loads(f.metadata()[METADATA_KEY])
    assert document["estimator"] == cls.__name__


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("random_state", [0, "instance"])
def test_training_continues_bit_for_bit(tmp_path, solver, random_state):
    """partial_fit and warm-started fits after load: the optimizer's state (momentum,
    Adam's moments and step count), the schedule's and the rule's state, and a
    RandomState's stream carry over."""
    X, y = problem("multiclass")
    state = np.random.RandomState(5) if random_state == "instance" else random_state
    kw = dict(hidden_layer_sizes=(6,), solver=solver, batch_size=25, random_state=state)
    est = MLPClassifier(learning_rate="invscaling", max_iter=3, **kw)
    est.partial_fit(X, y, classes=np.unique(y))
    est.partial_fit(X, y)
    est.save(tmp_path / "est.safetensors")
    loaded = MLPClassifier.load(tmp_path / "est.safetensors")
    for model in (est, loaded):
        model.partial_fit(X, y)
        model.set_params(warm_start=True)
        model.fit(X, y)
    same_weights(est, loaded)
    assert loaded.loss_curve_ == est.loss_curve_ and loaded.t_ == est.t_
    assert loaded._learning_rate == est._learning_rate


def test_early_stopping_and_warm_start_continue_from_the_best(tmp_path):
    X, y = problem("binary")
    kw = dict(hidden_layer_sizes=(6,), early_stopping=True, warm_start=True, max_iter=6)
    est = MLPClassifier(random_state=0, **kw).fit(X, y)
    est.save(tmp_path / "est.safetensors")
    loaded = MLPClassifier.load(tmp_path / "est.safetensors")
    assert loaded._best_network is not None
    for model in (est, loaded):
        model.fit(X, y)
    same_weights(est, loaded)
    assert loaded.validation_scores_ == est.validation_scores_


def test_feature_names_are_kept(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = problem("binary")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    est = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(frame, y)
    est.save(tmp_path / "est.safetensors")
    loaded = MLPClassifier.load(tmp_path / "est.safetensors")
    np.testing.assert_array_equal(loaded.feature_names_in_, est.feature_names_in_)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning
        np.testing.assert_array_equal(loaded.predict(frame), est.predict(frame))


def test_wrong_files_are_refused_clearly(tmp_path):
    X, y = problem("binary")
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    path = tmp_path / "clf.safetensors"
    clf.save(path)
    with pytest.raises(ValueError, match="holds an MLPClassifier, not an MLPRegressor"):
        MLPRegressor.load(path)
    clf._network.save(tmp_path / "net.safetensors")
    with pytest.raises(ValueError, match="holds no estimator.*Network.load"):
        MLPClassifier.load(tmp_path / "net.safetensors")
    (tmp_path / "junk").write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00hello")
    with pytest.raises(ValueError, match="not a safetensors file"):
        MLPClassifier.load(tmp_path / "junk")
    with pytest.raises(IsADirectoryError):
        MLPClassifier.load(tmp_path)
    with pytest.raises(FileNotFoundError):
        MLPClassifier.load(tmp_path / "missing.safetensors")
    with pytest.raises(NotFittedError):
        MLPClassifier().save(tmp_path / "unfitted.safetensors")
