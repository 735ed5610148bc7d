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
