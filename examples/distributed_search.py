"""A hyperparameter search over ferroprop's estimators, distributed on a Dask cluster.

``GridSearchCV`` tries 8 settings of a ``StandardScaler`` + ``ferroprop.sklearn.
MLPClassifier`` pipeline on scikit-learn's breast-cancer data (569 samples, 30 features;
it ships with scikit-learn), each with 3-fold cross-validation: 24 fits. joblib's
``"dask"`` backend sends those fits to a ``LocalCluster`` of 2 worker processes (one
thread each); the estimators travel to the workers by pickle (a fitted ferroprop network
pickles as its safetensors bytes). The script prints the cluster, every candidate's mean
score, the best parameters, and the best model's score on a held-out test set.

The same code runs on a real cluster: give ``Client`` the scheduler's address instead
of a ``LocalCluster``. Needs ``pip install 'ferroprop[dask]'``.

Run: python examples/distributed_search.py   (about 10 seconds, mostly starting the
worker processes)
"""

import time

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from ferroprop.sklearn import MLPClassifier

PARAM_GRID = {
    "mlp__hidden_layer_sizes": [(16,), (64,)],
    "mlp__alpha": [1e-4, 1e-1],
    "mlp__learning_rate_init": [1e-3, 1e-2],
}


def main() -> None:
    """Start a 2-process LocalCluster, run the search on it, print the results."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise SystemExit(
            "this example needs dask.distributed: pip install 'ferroprop[dask]'"
        ) from None

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("mlp", MLPClassifier(max_iter=500, random_state=0))]
    )
    search = GridSearchCV(pipeline, PARAM_GRID, cv=3, n_jobs=-1)

    t0 = time.perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, Client(cluster) as client:
        print(f"{client} started in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        with joblib.parallel_backend("dask"):
            search.fit(X_train, y_train)
        n_fits = len(search.cv_results_["params"]) * search.n_splits_
        n_workers = len(client.scheduler_info()["workers"])
        print(f"{n_fits} fits on {n_workers} workers in {time.perf_counter() - t0:.1f} s")

    print(f"\n{'mean CV accuracy':>16}  parameters")
    results = search.cv_results_
    for score, params in sorted(
        zip(results["mean_test_score"], results["params"]), key=lambda pair: -pair[0]
    ):
        shown = {key.removeprefix("mlp__"): value for key, value in params.items()}
        print(f"{score:>16.4f}  {shown}")
    print(f"\nbest parameters: {search.best_params_}")
    print(f"best mean cross-validated accuracy: {search.best_score_:.4f}")
    test_accuracy = search.score(X_test, y_test)
    print(f"best model (refitted on all the training data), test accuracy: {test_accuracy:.4f}")
    assert test_accuracy > 0.9


if __name__ == "__main__":  # the worker processes import this file: start nothing at import
    main()
