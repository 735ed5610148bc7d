"""A grid search over ferroprop's estimators on a real Dask cluster (two worker processes,
through joblib's dask backend) gives exactly the result of the same search run serially:
training is deterministic for a fixed ``random_state``, whichever process runs it."""

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_friedman1, make_moons
from sklearn.model_selection import GridSearchCV

from ferroprop.sklearn import MLPClassifier, MLPRegressor

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client:
        yield client


def classification():
    X, y = make_moons(n_samples=150, noise=0.25, random_state=0)
    grid = {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-1]}
    return GridSearchCV(MLPClassifier(max_iter=300, random_state=0), grid, cv=3), X, y


def regression():
    X, y = make_friedman1(n_samples=150, n_features=5, noise=0.1, random_state=0)
    grid = {"hidden_layer_sizes": [(8,), (16, 8)], "learning_rate_init": [1e-3, 1e-2]}
    estimator = MLPRegressor(solver="sgd", max_iter=150, random_state=0)
    return GridSearchCV(estimator, grid, cv=3), X, y


@pytest.mark.parametrize("problem", [classification, regression], ids=lambda f: f.__name__)
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # short fits
def test_search_on_a_dask_cluster_equals_the_serial_search(client, problem):
    search, X, y = problem()
    serial = clone(search).fit(X, y)

    with distributed.get_task_stream(client) as tasks, joblib.parallel_backend("dask"):
        on_dask = clone(search).fit(X, y)

    # The fits did run on the cluster's workers, not in this process.
    workers = {task["worker"] for task in tasks.data}
    assert workers and workers <= set(client.scheduler_info()["workers"])

    assert on_dask.best_params_ == serial.best_params_
    assert on_dask.cv_results_["params"] == serial.cv_results_["params"]
    n_candidates = len(serial.cv_results_["params"])
    for key in ["mean_test_score", *(f"split{k}_test_score" for k in range(3))]:
        scores = on_dask.cv_results_[key]
        assert scores.shape == (n_candidates,)
        np.testing.assert_array_equal(scores, serial.cv_results_[key])
    # The candidates differ, so equal scores are not the scores of one model.
    assert len(set(serial.cv_results_["mean_test_score"])) > 1
    np.testing.assert_array_equal(on_dask.predict(X), serial.predict(X))


def test_incremental_over_chunks_equals_partial_fit_in_one_process(client):
    """Out-of-core training: dask-ml's ``Incremental`` passes the chunks of a Dask array to
    ``partial_fit`` on the workers, the estimator travelling pickled between them; the model
    is the one ``partial_fit`` gives over the same chunks here, to the bit (the optimizer's
    state travels with it)."""
    dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
    da = pytest.importorskip("dask.array")
    X = da.random.RandomState(0).standard_normal((2400, 6), chunks=(400, 6))
    y = (X[:, 0] - X[:, 1] > 0).astype("int64")
    for solver in ["adam", "sgd"]:
        model = MLPClassifier(hidden_layer_sizes=(12,), solver=solver, random_state=0)
        with distributed.get_task_stream(client) as tasks:
            incremental = dask_ml_wrappers.Incremental(clone(model), shuffle_blocks=False)
            incremental.fit(X, y, classes=[0, 1])
        assert {task["worker"] for task in tasks.data} <= set(client.scheduler_info()["workers"])
        local = clone(model)
        for bx, by in zip(X.blocks, y.blocks):
            local.partial_fit(bx.compute(), by.compute(), classes=[0, 1])
        fitted = incremental.estimator_
        for a, b in zip(fitted.coefs_ + fitted.intercepts_, local.coefs_ + local.intercepts_):
            np.testing.assert_array_equal(a, b)
        assert fitted.t_ == local.t_ == 2400  # samples seen: every chunk once
