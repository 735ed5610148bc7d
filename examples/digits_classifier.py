"""Handwritten digits with ferroprop.sklearn.MLPClassifier, next to scikit-learn's.

scikit-learn's ``load_digits`` (1797 8x8 images, 10 classes; it ships with scikit-learn,
nothing is downloaded) is split 75/25, standardized in a ``Pipeline`` and classified by
an MLP with one hidden layer of 64 units. The same pipeline is fitted with
``ferroprop.sklearn.MLPClassifier`` and with ``sklearn.neural_network.MLPClassifier``,
with the same settings and ``random_state``; the script prints each one's test accuracy,
iterations and fit time, and how often the two predict the same digit. Both start from the
same initial weights, but each shuffles the minibatches with its own random-number
generator, so their results are close rather than identical.

Run: python examples/digits_classifier.py   (a few seconds)
"""

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ferroprop.sklearn import MLPClassifier

SETTINGS = dict(hidden_layer_sizes=(64,), solver="adam", max_iter=300, random_state=0)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, random_state=0, stratify=y
)
print(f"digits: {len(X_train)} training and {len(X_test)} test images of {X.shape[1]} pixels")
print(f"settings: {SETTINGS}\n")

predictions, times = {}, {}
for name, estimator in [
    ("ferroprop", MLPClassifier(**SETTINGS)),
    ("scikit-learn", SklearnMLPClassifier(**SETTINGS)),
]:
    model = make_pipeline(StandardScaler(), estimator)
    t0 = time.perf_counter()
    model.fit(X_train, y_train)
    times[name] = elapsed = time.perf_counter() - t0
    predictions[name] = model.predict(X_test)
    accuracy = accuracy_score(y_test, predictions[name])
    mlp = model[-1]
    print(
        f"{name:>12}: test accuracy {accuracy:.4f}, {mlp.n_iter_} iterations, "
        f"final loss {mlp.loss_:.5f}, fit in {elapsed:.2f} s"
    )
    assert accuracy > 0.95

agree = np.mean(predictions["ferroprop"] == predictions["scikit-learn"])
print(f"\nthe two predict the same digit for {agree:.1%} of the test images")
print(f"scikit-learn's fit took {times['scikit-learn'] / times['ferroprop']:.1f}x ferroprop's")
