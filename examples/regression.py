"""Regression with ferroprop.sklearn.MLPRegressor: a noisy sine and a synthetic dataset.

1. ``y = sin(x) + noise`` on [-3, 3] (one input): a tanh network with two hidden
   layers of 32 units, L-BFGS. Printed: R² on held-out points, and the fitted curve
   against the true sine at a few x.
2. ``sklearn.datasets.make_friedman1`` (10 inputs, 5 of them informative,
   ``y = 10 sin(pi x1 x2) + 20 (x3 - 0.5)² + 10 x4 + 5 x5 + noise``), standardized in a
   ``Pipeline``, Adam; the target is scaled with ``TransformedTargetRegressor``.
   Printed: R² on the test set, next to a linear regression's.

Everything is generated locally; nothing is downloaded.

Run: python examples/regression.py   (a few seconds)
"""

import time

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import make_friedman1
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ferroprop.sklearn import MLPRegressor

# -- 1. A noisy sine. ------------------------------------------------------------------
rng = np.random.default_rng(0)
x = rng.uniform(-3, 3, size=(400, 1))
y = np.sin(x[:, 0]) + rng.normal(scale=0.1, size=400)
x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)

sine = MLPRegressor(
    hidden_layer_sizes=(32, 32), activation="tanh", solver="lbfgs", max_iter=500, random_state=0
)
t0 = time.perf_counter()
sine.fit(x_train, y_train)
elapsed = time.perf_counter() - t0
r2 = sine.score(x_test, y_test)
# The noise (sd 0.1) caps R² at about 1 - 0.01 / var(sin x) = 0.98 on these points.
print(f"noisy sine: test R² {r2:.4f} ({sine.n_iter_} L-BFGS iterations, {elapsed:.2f} s)")
grid = np.linspace(-3, 3, 7).reshape(-1, 1)
print(f"{'x':>6} {'sin(x)':>8} {'predicted':>9}")
for xi, pred in zip(grid[:, 0], sine.predict(grid)):
    print(f"{xi:>6.2f} {np.sin(xi):>8.4f} {pred:>9.4f}")
assert r2 > 0.95

# -- 2. Friedman #1: ten inputs, a nonlinear target. ----------------------------------------
X, y = make_friedman1(n_samples=2000, n_features=10, noise=0.5, random_state=0)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
mlp = TransformedTargetRegressor(
    regressor=make_pipeline(
        StandardScaler(),
        MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=500, random_state=0),
    ),
    transformer=StandardScaler(),
)
t0 = time.perf_counter()
mlp.fit(X_train, y_train)
elapsed = time.perf_counter() - t0
linear = make_pipeline(StandardScaler(), LinearRegression()).fit(X_train, y_train)
r2_mlp, r2_linear = mlp.score(X_test, y_test), linear.score(X_test, y_test)
n_iter = mlp.regressor_[-1].n_iter_
print(f"\nmake_friedman1 (10 inputs, {len(X_train)} training rows):")
print(f"  MLPRegressor(64, 64), Adam: test R² {r2_mlp:.4f} ({n_iter} epochs, {elapsed:.2f} s)")
print(f"  linear regression:          test R² {r2_linear:.4f}")
assert r2_mlp > r2_linear
