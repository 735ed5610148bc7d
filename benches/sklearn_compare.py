"""ferroprop.sklearn against scikit-learn's own MLPs on the datasets scikit-learn ships:
cross-validated scores with identical hyperparameters, and fit times (medians).

A benchmark, not a test. Run: python benches/sklearn_compare.py [--folds 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn import datasets, neural_network
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ferroprop.sklearn as fp

DATASETS = [
    ("iris", datasets.load_iris, "classifier"),
    ("wine", datasets.load_wine, "classifier"),
    ("breast_cancer", datasets.load_breast_cancer, "classifier"),
    ("digits", datasets.load_digits, "classifier"),
    ("diabetes", datasets.load_diabetes, "regressor"),
]
SOLVERS = [
    ("adam", {}),
    ("sgd", {"learning_rate_init": 0.01}),
    ("lbfgs", {}),
]


def cross_validate(make, X, y, kind, folds, seed):
    """Per-fold scores and fit times of the estimator made by ``make()``."""
    split = (StratifiedKFold if kind == "classifier" else KFold)(
        folds, shuffle=True, random_state=seed
    )
    scores, times = [], []
    for train, test in split.split(X, y):
        model = make_pipeline(StandardScaler(), make())
        if kind == "regressor":  # standardized targets too, as the MLP expects
            model = TransformedTargetRegressor(regressor=model, transformer=StandardScaler())
        t0 = time.perf_counter()
        model.fit(X[train], y[train])
        times.append(time.perf_counter() - t0)
        scores.append(model.score(X[test], y[test]))
    return np.array(scores), np.array(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3, help="seeds (splits and inits)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    print(
        "| dataset | solver | scikit-learn score | ferroprop score "
        "| fit time ratio (sklearn / ferroprop) |"
    )
    print("|---|---|--:|--:|--:|")
    for name, load, kind in DATASETS:
        X, y = load(return_X_y=True)
        for solver, extra in SOLVERS:
            params = dict(hidden_layer_sizes=(64,), solver=solver, max_iter=300, **extra)
            res = {"sk": ([], []), "fp": ([], [])}
            for seed in range(args.repeats):
                # Interleaved, so that machine noise hits both alike.
                for key, module in (("sk", neural_network), ("fp", fp)):
                    cls = getattr(
                        module, "MLPClassifier" if kind == "classifier" else "MLPRegressor"
                    )
                    s, t = cross_validate(
                        lambda cls=cls, seed=seed, params=params: cls(random_state=seed, **params),
                        X,
                        y,
                        kind,
                        args.folds,
                        seed,
                    )
                    res[key][0].extend(s)
                    res[key][1].extend(t)
            (sk_s, sk_t), (fp_s, fp_t) = res["sk"], res["fp"]
            ratio = np.median(sk_t) / np.median(fp_t)
            print(
                f"| {name} | {solver} | {np.mean(sk_s):.4f} ± {np.std(sk_s):.4f} | "
                f"{np.mean(fp_s):.4f} ± {np.std(fp_s):.4f} | ×{ratio:.1f} |",
                flush=True,
            )
    print(
        "\nScores: accuracy (classifiers) or R² (regressor, standardized targets), "
        f"mean ± std over {args.folds}-fold "
        f"cross-validation × {args.repeats} seeds; StandardScaler first; hidden layer (64,), "
        "max_iter=300, otherwise scikit-learn's defaults. Times: median fit time per fold."
    )


if __name__ == "__main__":
    main()
