"""Training on data larger than memory: ``partial_fit`` over the chunks of a Dask array.

The data here is a Dask array of 40,000 samples in 8 chunks, made lazily: no chunk
exists until a worker computes it, so the same code trains on data that never fits in
one machine's memory (read it with ``dask.array.from_zarr`` or ``from_delayed`` instead).
``dask_ml.wrappers.Incremental`` hands the chunks, one after another, to
``ferroprop.sklearn.MLPClassifier.partial_fit`` on the workers of a ``LocalCluster`` (2
processes); the estimator travels between them pickled, with its optimizer's state, so
the model is exactly the one ``partial_fit`` gives over the same chunks in one process
(the script checks it). Then a search over the learning rate and the hidden layer trains
every setting the same way, in parallel on the cluster, with Dask's own ``dask.delayed``:
a chain of ``partial_fit`` tasks over the chunks per setting, scored on a held-out chunk.
(dask-ml's ``IncrementalSearchCV`` and ``HyperbandSearchCV`` would do this too, but they
fail with the Dask releases of 2025.3 and later: "Attempting to use an asynchronous Client
in a synchronous context of `dask.compute`", dask-ml issue 1016.)

The same code runs on a real cluster: give ``Client`` the scheduler's address instead
of a ``LocalCluster``. Needs ``pip install 'ferroprop[dask]'``.

Run: python examples/out_of_core_dask.py   (about 15 seconds, mostly starting the
worker processes)
"""

import copy

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster
from dask_ml.wrappers import Incremental
from sklearn.model_selection import ParameterGrid

from ferroprop.sklearn import MLPClassifier

N, FEATURES, CHUNK = 40_000, 20, 5_000


def data() -> tuple[da.Array, da.Array]:
    """A lazy, seeded classification problem: y = 1 where a fixed direction of X is > 0."""
    X = da.random.RandomState(0).standard_normal((N, FEATURES), chunks=(CHUNK, FEATURES))
    direction = np.linspace(-1.0, 1.0, FEATURES)
    y = (X @ direction > 0).astype("int64")
    return X, y


def partial_fit(model: MLPClassifier, x: np.ndarray, y: np.ndarray) -> MLPClassifier:
    """``model`` trained on one more chunk, as a new object (Dask may share a task's input)."""
    return copy.deepcopy(model).partial_fit(x, y, classes=[0, 1])


def search(X: da.Array, y: da.Array, grid: dict[str, list[object]]) -> dict[str, float]:
    """Each setting of ``grid`` trained over all chunks but the last, scored on the last."""
    x_blocks, y_blocks = X.to_delayed().ravel(), y.to_delayed().ravel()
    scores = {}
    for params in ParameterGrid(grid):
        model = MLPClassifier(random_state=0, **params)
        for bx, by in zip(x_blocks[:-1], y_blocks[:-1]):
            model = dask.delayed(partial_fit)(model, bx, by)
        scores[str(params)] = dask.delayed(MLPClassifier.score)(model, x_blocks[-1], y_blocks[-1])
    return dict(dask.compute(scores)[0])


def main() -> None:
    X, y = data()
    model = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=1e-2, random_state=0)
    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        print(f"cluster: {len(client.scheduler_info()['workers'])} worker processes")
        incremental = Incremental(model, scoring="accuracy", shuffle_blocks=False)
        incremental.fit(X, y, classes=[0, 1])
        print(f"Incremental over {X.numblocks[0]} chunks: accuracy {incremental.score(X, y):.4f}")

        # The same chunks through partial_fit in this process give the same model.
        local = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=1e-2, random_state=0)
        for block_x, block_y in zip(X.blocks, y.blocks):
            local.partial_fit(block_x.compute(), block_y.compute(), classes=[0, 1])
        same = all(
            np.array_equal(a, b) for a, b in zip(incremental.estimator_.coefs_, local.coefs_)
        )
        print(f"same weights as partial_fit in one process: {same}")

        grid = {"learning_rate_init": [1e-3, 1e-2], "hidden_layer_sizes": [(8,), (32,)]}
        scores = search(X, y, grid)
        for params, score in scores.items():
            print(f"  {params}: held-out accuracy {score:.4f}")
        print(f"best: {max(scores, key=scores.__getitem__)}")


if __name__ == "__main__":
    main()
