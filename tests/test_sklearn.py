"""ferroprop.sklearn against scikit-learn: its estimator checks, its meta-estimators, and
its own MLPs, step for step from the same weights and fit for fit on generated data."""

import importlib.util
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import neural_network as sknn
from sklearn.base import clone
from sklearn.datasets import make_classification, make_multilabel_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.estimator_checks import parametrize_with_checks

from ferroprop import Network
from ferroprop.sklearn import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# -- scikit-learn's estimator checks, with no expected failure ----------------------------


@parametrize_with_checks(
    [MLPClassifier(max_iter=100, random_state=0), MLPRegressor(max_iter=100, random_state=0)]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# -- data ---------------------------------------------------------------------------------


def problem(task, n=60, seed=0):
    if task == "binary":
        return make_classification(n, 5, random_state=seed)
    if task == "multiclass":
        X, y = make_classification(
            n, 5, n_informative=3, n_redundant=0, n_classes=3, random_state=seed
        )
        return X, np.array(["cat", "dog", "eel"])[y]  # string labels on the way
    if task == "multilabel":
        return make_multilabel_classification(n, 5, n_classes=3, random_state=seed)
    n_targets = 3 if task == "multioutput" else 1
    X, y = make_regression(n, 5, n_targets=n_targets, noise=1.0, random_state=seed)
    return X, y / 100


CLASSES = {"binary", "multiclass", "multilabel"}
TASKS = ["binary", "multiclass", "multilabel", "regression", "multioutput"]


def estimators(task):
    if task in CLASSES:
        return MLPClassifier, sknn.MLPClassifier
    return MLPRegressor, sknn.MLPRegressor


def assert_same_weights(ours, theirs, rtol=1e-10):
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max())


# -- step-for-step parity with scikit-learn ----------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_one_sgd_epoch_from_the_same_weights(task):
    """One full-batch epoch of plain SGD with an L2 penalty, from weights set by hand in
    both estimators (warm start), takes scikit-learn's step: loss conventions mapped."""
    X, y = problem(task)
    ours_cls, their_cls = estimators(task)
    kw = dict(
        hidden_layer_sizes=(7, 4),
        activation="tanh",
        solver="sgd",
        momentum=0.0,
        alpha=0.3,
        learning_rate_init=0.05,
        batch_size=len(X),
        shuffle=False,
        max_iter=1,
        warm_start=True,
        random_state=0,
    )
    ours, theirs = ours_cls(**kw).fit(X, y), their_cls(**kw).fit(X, y)
    rng = np.random.default_rng(42)
    coefs = [rng.normal(scale=0.5, size=W.shape) for W in theirs.coefs_]
    intercepts = [rng.normal(scale=0.5, size=b.shape) for b in theirs.intercepts_]
    theirs.coefs_, theirs.intercepts_ = [c.copy() for c in coefs], [b.copy() for b in intercepts]
    ours.coefs_, ours.intercepts_ = coefs, intercepts
    ours.fit(X, y)
    theirs.fit(X, y)
    assert_same_weights(ours, theirs)
    # The loss of that epoch, penalty included, in scikit-learn's convention.
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-12)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize(
    "settings",
    [
        dict(solver="sgd", momentum=0.9, batch_size=16, max_iter=6),
        dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1, max_iter=8),
        dict(solver="adam", batch_size=16, max_iter=6),
        dict(solver="adam", batch_size=16, max_iter=20, n_iter_no_change=1, tol=1e9),
    ],
    ids=["momentum", "invscaling", "adam", "adam-stops"],
)
def test_fresh_fits_follow_sklearn(task, settings):
    """Same random_state, same Glorot draw, same minibatches (no shuffling): a fresh fit
    is one Rust call that ends on scikit-learn's weights, epochs and losses."""
    X, y = problem(task)
    ours_cls, their_cls = estimators(task)
    kw = dict(hidden_layer_sizes=(7, 4), alpha=0.3, shuffle=False, random_state=0, **settings)
    ours, theirs = ours_cls(**kw).fit(X, y), their_cls(**kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    assert ours._no_improvement_count == theirs._no_improvement_count
    assert_same_weights(ours, theirs)
    # The loss in scikit-learn's convention, the penalty's share of multi-output regression
    # included: the core judges it batch by batch (`Scales`).
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-12)
    np.testing.assert_allclose(ours.best_loss_, theirs.best_loss_, rtol=1e-12)


@pytest.mark.parametrize("task", ["multiclass", "binary", "regression", "multioutput"])
def test_early_stopping_follows_sklearn(task):
    X, y = problem(task, n=200)
    ours_cls, their_cls = estimators(task)
    kw = dict(
        hidden_layer_sizes=(10,),
        early_stopping=True,
        n_iter_no_change=3,
        max_iter=60,
        shuffle=False,
        batch_size=50,
        random_state=0,
    )
    w = np.random.default_rng(0).integers(1, 4, len(X)).astype(float)
    for sample_weight in (None, w):  # with weights: scored in Python, weighted
        ours = ours_cls(**kw).fit(X, y, sample_weight=sample_weight)
        theirs = their_cls(**kw).fit(X, y, sample_weight=sample_weight)
        assert ours.n_iter_ == theirs.n_iter_
        assert len(ours.validation_scores_) == ours.n_iter_
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-12)
        assert ours.best_validation_score_ == max(ours.validation_scores_)
        assert ours.best_loss_ is None
        assert_same_weights(ours, theirs)  # the best epoch's weights, restored


def test_adaptive_learning_rate_and_verbose_output_follow_sklearn(capsys):
    X, y = problem("multiclass", n=200)
    kw = dict(
        hidden_layer_sizes=(10,),
        solver="sgd",
        learning_rate="adaptive",
        n_iter_no_change=2,
        tol=1e-2,
        max_iter=150,
        shuffle=False,
        batch_size=50,
        random_state=0,
    )
    quiet = MLPClassifier(**kw).fit(X, y)
    loud = MLPClassifier(verbose=True, **kw).fit(X, y)
    captured = capsys.readouterr()
    ours_out = captured.out
    # A progress bar on stderr, when tqdm is installed; stdout stays scikit-learn's.
    if importlib.util.find_spec("tqdm") is not None:
        assert f"{loud.n_iter_}/150" in captured.err
    theirs = sknn.MLPClassifier(verbose=True, **kw).fit(X, y)
    assert capsys.readouterr().out == ours_out
    assert "Setting learning rate to" in ours_out
    for ours in (quiet, loud):
        assert ours.n_iter_ == theirs.n_iter_
        assert ours._learning_rate == theirs._optimizer.learning_rate
        assert_same_weights(ours, theirs)


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("task", ["multiclass", "multioutput"])
def test_partial_fit_and_warm_start_follow_sklearn(task, solver):
    X, y = problem(task, n=150)
    ours_cls, their_cls = estimators(task)
    kw = dict(
        hidden_layer_sizes=(10,),
        solver=solver,
        learning_rate="invscaling",
        learning_rate_init=0.05,
        shuffle=False,
        batch_size=20,
        random_state=0,
    )
    extra = {"classes": np.unique(y)} if task in CLASSES else {}
    ours, theirs = ours_cls(**kw), their_cls(**kw)
    for rows in np.array_split(np.arange(len(X)), 5):
        ours.partial_fit(X[rows], y[rows], **extra)
        theirs.partial_fit(X[rows], y[rows], **extra)
    assert ours.n_iter_ == theirs.n_iter_ == 1 and ours.t_ == theirs.t_
    assert_same_weights(ours, theirs)
    ours, theirs = (
        ours_cls(warm_start=True, max_iter=4, **kw),
        their_cls(warm_start=True, max_iter=4, **kw),
    )
    for _ in range(3):
        ours.fit(X, y)
        theirs.fit(X, y)
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 12
    assert_same_weights(ours, theirs, rtol=1e-9)


@pytest.mark.parametrize("task", TASKS)
def test_lbfgs_follows_sklearn(task):
    X, y = problem(task)
    ours_cls, their_cls = estimators(task)
    kw = dict(hidden_layer_sizes=(6,), solver="lbfgs", alpha=0.1, max_iter=15, random_state=0)
    ours, theirs = ours_cls(**kw).fit(X, y), their_cls(**kw).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-8)
    assert_same_weights(ours, theirs, rtol=1e-6)


def test_lbfgs_sample_weights_follow_sklearn():
    X, y = problem("multiclass")
    w = np.random.default_rng(0).uniform(0, 3, len(X))
    kw = dict(hidden_layer_sizes=(6,), solver="lbfgs", alpha=0.1, max_iter=15, random_state=0)
    ours = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    theirs = sknn.MLPClassifier(**kw).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(ours.loss_, theirs.loss_, rtol=1e-8)
    assert_same_weights(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("batch_size", ["auto", 16])
def test_verbose_prints_and_changes_nothing(capsys, batch_size):
    """Verbose output comes from the core's per-epoch reports: the fit is the same call,
    with the same shuffles, steps and stopping epoch, bit for bit."""
    X, y = problem("binary", n=100)
    kw = dict(
        hidden_layer_sizes=(8,),
        solver="sgd",
        n_iter_no_change=2,
        tol=1e-3,
        random_state=3,
        batch_size=batch_size,
    )
    quiet = MLPClassifier(**kw).fit(X, y)
    loud = MLPClassifier(verbose=1, **kw).fit(X, y)
    assert quiet.n_iter_ == loud.n_iter_ < 200
    assert quiet.loss_curve_ == loud.loss_curve_
    assert quiet._no_improvement_count == loud._no_improvement_count == 3
    assert quiet.t_ == loud.t_ == 100 * quiet.n_iter_
    assert_same_weights(quiet, loud, rtol=0)
    out = capsys.readouterr().out
    assert out.count("Iteration ") == loud.n_iter_
    assert "Training loss did not improve" in out


# -- fits on generated data, against scikit-learn's scores ----------------------------------


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_scores_comparable_to_sklearn(task, solver):
    X, y = problem(task, n=400, seed=2)
    X = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    ours_cls, their_cls = estimators(task)
    kw = dict(hidden_layer_sizes=(16,), solver=solver, max_iter=200, random_state=1)
    ours = ours_cls(**kw).fit(X_train, y_train)
    theirs = their_cls(**kw).fit(X_train, y_train)
    ours_score, their_score = ours.score(X_test, y_test), theirs.score(X_test, y_test)
    assert ours_score >= their_score - 0.05, (ours_score, their_score)
    # Well above chance (scikit-learn: binary 0.79-0.91, multiclass 0.71-0.74, multilabel
    # subsets of 3 labels 0.39-0.45, R² 0.95-1.0).
    floor = {"binary": 0.75, "multiclass": 0.6, "multilabel": 0.3}.get(task, 0.9)
    assert ours_score > floor, (ours_score, their_score)
    assert ours.predict(X_test).shape == y_test.shape
    if task in CLASSES:
        proba = ours.predict_proba(X_test)
        assert proba.shape == (len(X_test), 2 if task == "binary" else 3)
        assert np.all((proba >= 0) & (proba <= 1))


# -- scikit-learn's meta-estimators and pickling -------------------------------------------


def test_pickle_goes_through_the_network_bytes():
    X, y = problem("multiclass")
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(X, y)
    data = pickle.dumps(clf)
    assert clf._network.to_bytes() in data  # the safetensors bytes, as Network pickles
    assert not any(
        isinstance(v, list) and v and isinstance(v[0], np.ndarray) for v in vars(clf).values()
    )
    back = pickle.loads(data)
    assert isinstance(back._network, Network)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X), clf.predict(X))
    back.partial_fit(X, y)  # and it trains on


def test_clone_pipeline_and_grid_search():
    X, y = problem("binary", n=150)
    clf = MLPClassifier(
        hidden_layer_sizes=(6,), alpha=1e-3, learning_rate_init=0.01, max_iter=50, random_state=0
    )
    fitted = clone(clf).fit(X, y)
    cloned = clone(fitted)
    assert not hasattr(cloned, "n_iter_") and cloned.get_params() == clf.get_params()
    pipe = make_pipeline(StandardScaler(), clone(clf)).fit(X, y)
    assert pipe.score(X, y) > 0.8
    search = GridSearchCV(clf, {"alpha": [1e-4, 1e-2, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["alpha"] in (1e-4, 1e-2, 1.0)
    assert len(search.cv_results_["mean_test_score"]) == 3
    assert search.best_estimator_.predict(X).shape == y.shape


# -- the rest of the API -----------------------------------------------------------------


@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_float32_stays_float32(solver):
    X, y = problem("regression")
    X32 = X.astype(np.float32)
    reg = MLPRegressor(hidden_layer_sizes=(5,), solver=solver, max_iter=5, random_state=0)
    reg.fit(X32, y)
    assert all(W.dtype == np.float32 for W in reg.coefs_ + reg.intercepts_)
    assert reg.predict(X32).dtype == np.float32
    clf = MLPClassifier(hidden_layer_sizes=(5,), solver=solver, max_iter=5, random_state=0)
    clf.fit(X32, y > 0)
    assert clf.coefs_[0].dtype == np.float32 and clf.predict_proba(X32).dtype == np.float32
    # float64 data, unless asked otherwise; lbfgs works in float64 as scikit-learn's.
    assert MLPRegressor(max_iter=2).fit(X, y).coefs_[0].dtype == np.float64
    assert MLPRegressor(max_iter=2, dtype="float32").fit(X, y).coefs_[0].dtype == np.float32
    assert MLPRegressor(max_iter=2, dtype=np.float64).fit(X32, y).coefs_[0].dtype == np.float64
    assert MLPRegressor(solver="lbfgs", max_iter=2).fit(X32, y).coefs_[0].dtype == np.float64


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_class_weight_is_sample_weight(solver):
    X, y = problem("multiclass")
    y = y.copy()
    y[:20] = "cat"  # unbalanced
    kw = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=30, random_state=0)
    balanced = MLPClassifier(class_weight="balanced", **kw).fit(X, y)
    weighted = MLPClassifier(**kw).fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    assert_same_weights(balanced, weighted, rtol=0)
    weights = {"cat": 0.5, "dog": 2.0, "eel": 1.0}
    by_dict = MLPClassifier(class_weight=weights, **kw).fit(
        X, y, sample_weight=np.full(len(y), 3.0)
    )
    by_hand = MLPClassifier(**kw).fit(X, y, sample_weight=3.0 * np.vectorize(weights.get)(y))
    assert_same_weights(by_dict, by_hand, rtol=0)
    with pytest.raises(ValueError, match="balanced"):
        MLPClassifier(class_weight="balanced").partial_fit(X, y, classes=np.unique(y))


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
@pytest.mark.parametrize("weight", [3.0, 1e308, 1e-310])
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_uniform_weights_of_any_size_fit_as_no_weights(task, solver, weight):
    X, y = problem(task)
    est = MLPRegressor if task == "regression" else MLPClassifier
    kw = dict(hidden_layer_sizes=(5,), solver=solver, alpha=0.0, max_iter=5, random_state=0)
    plain = est(**kw).fit(X, y)
    fits = [(est(**kw), np.full(len(y), weight))]
    if task != "regression":
        fits.append((est(class_weight=dict.fromkeys(np.unique(y), weight), **kw), None))
    for fit, sample_weight in fits:
        fit.fit(X, y, sample_weight=sample_weight)
        assert_same_weights(fit, plain, rtol=0)
        if solver != "lbfgs":
            assert fit.loss_curve_ == plain.loss_curve_
        if weight >= 1:  # (tiny weights make the default alpha / Σw huge)
            # With the default alpha, the penalty alpha / Σw is a number too.
            fit.set_params(alpha=1e-4).fit(X, y, sample_weight=sample_weight)
            assert np.isfinite(fit.loss_) and all(np.isfinite(W).all() for W in fit.coefs_)


def test_early_stopping_scores_with_huge_weights():
    X, y = problem("binary", n=100)
    kw = dict(hidden_layer_sizes=(5,), early_stopping=True, max_iter=5, random_state=0)
    clf = MLPClassifier(**kw).fit(X, y, sample_weight=np.full(len(y), 1e308))
    assert np.isfinite(clf.validation_scores_).all()
    plain = MLPClassifier(**kw).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(clf.validation_scores_, plain.validation_scores_, rtol=1e-12)


@pytest.mark.parametrize(
    ("class_weight", "sample_weight", "match"),
    [
        ({0: -1.0, 1: 1.0}, None, "class_weight: the weight of class 0 must be"),
        ({0: 1.0, 1: np.nan}, None, "class_weight: the weight of class 1 must be"),
        ({0: 1.0, 1: np.inf}, None, "class_weight: the weight of class 1 must be"),
        ({0: 1.0, 1: "heavy"}, None, "class_weight: the weight of class 1 must be"),
        ({0: 0.0, 1: 0.0}, None, "class_weight gives every sample a weight of 0"),
        ({0: 10.0, 1: 10.0}, 1e308, "sample_weight × class_weight overflows"),
        ({0: 1e-300, 1: 1.0}, 1e-300, "sample_weight × class_weight underflows"),
    ],
)
def test_bad_class_weights_name_class_weight(class_weight, sample_weight, match):
    X, y = problem("binary")
    weights = None if sample_weight is None else np.full(len(y), sample_weight)
    with pytest.raises(ValueError, match=match):
        MLPClassifier(class_weight=class_weight, max_iter=2).fit(X, y, sample_weight=weights)


def test_partial_fit():
    X, y = problem("multiclass")
    clf = MLPClassifier(hidden_layer_sizes=(5,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:30], y[:30], classes=["cat", "dog", "eel"])
    clf.partial_fit(X[30:], y[30:])
    assert clf.n_iter_ == 1 and clf.t_ == len(X)
    assert list(clf.classes_) == ["cat", "dog", "eel"]
    with pytest.raises(ValueError, match="not the same as on last call"):
        clf.partial_fit(X, y, classes=["cat", "dog"])
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        MLPRegressor(early_stopping=True).partial_fit(X, np.arange(len(X)))


@pytest.mark.parametrize(
    "classes, batch",
    [
        (np.array([0, 1]), np.array([1, 0, 1, 1])),  # binary: one column
        (np.array([3, 7]), np.array([7, 7, 7], dtype=np.uint8)),  # another integer type
        (np.array([-2, 0, 5]), np.array([5, -2, 0, 5])),  # multiclass
        (np.arange(6), np.array([4, 4, 1])),  # classes the batch lacks
        (np.array(["cat", "dog", "eel"]), np.array(["eel", "cat", "cat"])),
    ],
)
def test_partial_fit_indicator_is_the_label_binarizers(classes, batch):
    # partial_fit's batches skip LabelBinarizer.transform for labels all among classes_.
    X = np.random.default_rng(0).normal(size=(len(batch), 3))
    clf = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    clf.partial_fit(X, batch, classes=classes)
    fast = clf._known_indicator(batch)
    assert fast is not None
    np.testing.assert_array_equal(fast, clf._label_binarizer.transform(batch).astype(bool))
    # Labels it does not know, or of another kind, take the general path.
    unknown = np.concatenate(
        [batch[:-1], [np.max(classes) + 1 if classes.dtype.kind != "U" else "zebra"]]
    )
    assert clf._known_indicator(unknown) is None
    with pytest.raises(ValueError, match="has classes not in `self.classes_`"):
        clf.partial_fit(X, unknown)
    assert (
        clf._known_indicator(
            batch.astype(float) if classes.dtype.kind != "U" else batch.astype(object)
        )
        is None
    )
    clf.partial_fit(X, batch)  # and it trains


def test_early_stopping_attributes():
    X, y = problem("binary", n=200)
    clf = MLPClassifier(hidden_layer_sizes=(5,), early_stopping=True, random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    reg = MLPRegressor(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(
        *problem("regression")
    )
    assert reg.validation_scores_ is None and reg.best_validation_score_ is None
    assert reg.best_loss_ == min(reg.loss_curve_)


def test_sparse_input_is_densified():
    X, y = problem("multiclass")
    kw = dict(hidden_layer_sizes=(5,), max_iter=10, random_state=0)
    dense = MLPClassifier(**kw).fit(X, y)
    sparse = MLPClassifier(**kw).fit(sp.csr_matrix(X), y)
    assert_same_weights(dense, sparse, rtol=0)
    np.testing.assert_array_equal(sparse.predict_proba(sp.csc_matrix(X)), dense.predict_proba(X))


def test_predict_log_proba():
    X, y = problem("binary")
    clf = MLPClassifier(hidden_layer_sizes=(5,), max_iter=50, random_state=0).fit(X, y)
    proba, log_proba = clf.predict_proba(X), clf.predict_log_proba(X)
    np.testing.assert_allclose(log_proba, np.log(proba), rtol=1e-12)
    # log1p for the first class's probability 1 - p: exact where 1 - p rounds to 1.
    clf.intercepts_ = [clf.intercepts_[0], np.array([-60.0])]
    p = clf.predict_proba(X[:3])[:, 1]
    np.testing.assert_array_equal(clf.predict_log_proba(X[:3])[:, 0], np.log1p(-p))
    assert np.all(clf.predict_log_proba(X[:3])[:, 0] < 0)


def test_weights_are_read_only_copies_and_can_be_set():
    X, y = problem("regression")
    reg = MLPRegressor(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="read-only"):
        reg.coefs_[0][0, 0] = 1.0
    reg.coefs_ = [np.zeros_like(W) for W in reg.coefs_]
    reg.intercepts_ = [np.zeros_like(reg.intercepts_[0]), np.array([2.5])]
    np.testing.assert_array_equal(reg.predict(X), np.full(len(X), 2.5))


def test_hidden_layers_and_output_attributes():
    X, y = problem("multilabel")
    clf = MLPClassifier(hidden_layer_sizes=(), max_iter=5, random_state=0).fit(X, y)
    assert clf.n_layers_ == 2 and clf.n_outputs_ == 3 and clf.out_activation_ == "logistic"
    assert clf._network.layer_sizes == [5, 3]
    X, y = problem("multiclass")
    clf = MLPClassifier(hidden_layer_sizes=7, activation="logistic", max_iter=5).fit(X, y)
    assert clf._network.activations == ["sigmoid", "softmax"] and clf.out_activation_ == "softmax"
    with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
        MLPClassifier(hidden_layer_sizes=(3, 0)).fit(X, y)
    X, y = problem("regression")
    reg = MLPRegressor(loss="poisson", max_iter=5).fit(X, np.abs(y))
    assert reg._network.activations[-1] == "exp" and reg.out_activation_ == "exp"


@pytest.mark.parametrize("weighted", [False, True])  # weighted: scored in Python
def test_early_stopping_with_rows_that_overflow_ends_as_sklearns(weighted):
    """Rows that overflow make every epoch's loss and score NaN; scikit-learn trains on and
    ends with the best (here the initial) weights, and so does ferroprop, without error."""
    X, y = problem("regression", n=100)
    X = X.copy()
    X[::2] *= 1e306  # every other row: in the training and the validation split
    weights = np.ones(len(y)) if weighted else None
    kw = dict(hidden_layer_sizes=(5,), early_stopping=True, max_iter=3, random_state=0)
    ours = MLPRegressor(**kw).fit(X, y, sample_weight=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scikit-learn's overflows
        theirs = sknn.MLPRegressor(**kw).fit(X, y, sample_weight=weights)
    assert np.isnan(ours.validation_scores_).all() and np.isnan(theirs.validation_scores_).all()
    assert ours.n_iter_ == theirs.n_iter_ == 3
    assert_same_weights(ours, theirs, rtol=0)


def test_single_class_early_stopping_follows_sklearn():
    """One class: every prediction is right, so each validation score is 1 (scikit-learn's
    accuracy) and the rule stops after n_iter_no_change + 1 epochs with the first best."""
    X, _ = problem("binary", n=60)
    y = np.zeros(len(X), dtype=int)
    kw = dict(hidden_layer_sizes=(4,), early_stopping=True, n_iter_no_change=3, random_state=0)
    ours = MLPClassifier(**kw).fit(X, y)
    theirs = sknn.MLPClassifier(**kw).fit(X, y)
    assert ours.validation_scores_ == theirs.validation_scores_ == [1.0] * ours.n_iter_
    assert ours.n_iter_ == theirs.n_iter_ == 5
    assert (ours.predict(X) == 0).all()


def test_warm_started_early_stopping_keeps_the_best_of_every_fit():
    """A warm start continues the rule: the scores, the best score and its weights carry
    over, so the best is the best of both fits (and the weights those that scored it)."""
    X, y = problem("multiclass", n=200)
    kw = dict(hidden_layer_sizes=(8,), early_stopping=True, max_iter=4, random_state=0)
    clf = MLPClassifier(warm_start=True, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        first = list(clf.validation_scores_)
        clf.fit(X, y)
    assert clf.validation_scores_[: len(first)] == first
    assert len(clf.validation_scores_) == len(first) + clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_weights_assigned_before_any_fit_are_continued(task):
    """As scikit-learn's: coefs_ and intercepts_ assigned to an unfitted estimator (with
    the fitted attributes scikit-learn needs) are where partial_fit continues from."""
    X, y = problem(task)
    ours_cls, their_cls = estimators(task)
    rng = np.random.default_rng(3)
    shapes = [(5, 4), (4, 1)]
    coefs = [rng.normal(size=s) for s in shapes]
    intercepts = [rng.normal(size=s[1]) for s in shapes]
    fits = []
    for cls in (ours_cls, their_cls):
        est = cls(hidden_layer_sizes=4, solver="sgd", random_state=0, max_iter=1)
        est.coefs_ = [0] * 2
        est.coefs_[0], est.coefs_[1] = coefs
        est.intercepts_ = [b.copy() for b in intercepts]
        est.n_outputs_, est.n_layers_, est.t_, est.n_iter_ = 1, 3, 0, 0
        est.out_activation_ = "logistic" if task == "binary" else "identity"
        est.best_loss_, est.loss_curve_, est._no_improvement_count = np.inf, [], 0
        kwargs = {"classes": np.unique(y)} if task == "binary" else {}
        est.partial_fit(X, y, **kwargs)
        est.partial_fit(X, y)
        fits.append(est)
    assert_same_weights(*fits)
    assert fits[0].loss_curve_ == pytest.approx(fits[1].loss_curve_, rel=1e-12)
    wrong = ours_cls(hidden_layer_sizes=3, warm_start=True)
    wrong.coefs_, wrong.intercepts_ = coefs, intercepts
    with pytest.raises(ValueError, match="hidden_layer_sizes ask for"):
        wrong.fit(X, y)


def _partial_fit_outcome(est, X, y):
    """What a ``partial_fit`` call does: ``("error", type, message)`` or ``("ok", warnings)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est.partial_fit(X, y)
        except Exception as err:  # noqa: BLE001 - the outcome is what is compared
            return ("error", type(err), str(err))
    return ("ok", sorted({(w.category.__name__, str(w.message)) for w in caught}))


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_partial_fit_checks_plain_arrays_as_scikit_learn_does(cls, monkeypatch):
    """A ``partial_fit`` of plain arrays skips scikit-learn's ``validate_data`` only where
    it would hand them back unchanged (``_plain_X_y``): each case gives the same error,
    or the same warnings, with and without that shortcut."""
    from ferroprop.sklearn import _base

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 3, 40)
    nan, inf = X.copy(), X.copy()
    nan[3, 1], inf[5, 0] = np.nan, np.inf
    cases = {
        "plain": (X, y),
        "float32": (X.astype(np.float32), y),
        "a column y": (X, y.reshape(-1, 1)),
        "NaN in X": (nan, y),
        "inf in X": (inf, y),
        "huge but finite X": (np.full((40, 3), 1e308), y),
        "other width": (X[:, :2], y),
        "rows differ": (X, y[:-1]),
        "one-dimensional X": (X[:, 0], y),
        "integer X": (np.ones((40, 3), dtype=np.int64), y),
        "no rows": (X[:0], y[:0]),
        "y with no columns": (X, np.empty((40, 0))),
        "NaN in y": (X, np.where(np.arange(40) == 7, np.nan, y)),
        "a list": (X.tolist(), y),
    }
    for name, (Xc, yc) in cases.items():
        outcomes = []
        for shortcut in (True, False):
            if not shortcut:
                monkeypatch.setattr(_base, "_plain_X_y", lambda *args: False)
            est = cls(hidden_layer_sizes=(4,), random_state=0, max_iter=5)
            est.partial_fit(X, y, **({"classes": np.arange(3)} if cls is MLPClassifier else {}))
            outcomes.append(_partial_fit_outcome(est, Xc, yc))
            monkeypatch.undo()
        assert outcomes[0] == outcomes[1], name
    # The shortcut is taken for plain arrays, and only then.
    est = cls(hidden_layer_sizes=(4,), random_state=0).fit(X, y)
    assert _base._plain_X_y(est, X, y)
    assert not _base._plain_X_y(est, nan, y)
    assert not _base._plain_X_y(est, X.tolist(), y)
