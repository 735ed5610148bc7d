"""Exporting ferroprop models to ONNX and running them with ONNX Runtime.

1. Train a [4, 16, 3] network (tanh, softmax) on iris, export it with
   ``ferroprop.onnx.to_onnx`` to a file, and run the file with ONNX Runtime: its
   probabilities are the network's ``predict``.
2. After ``import ferroprop.onnx``, skl2onnx converts ferroprop's estimators itself:
   ``skl2onnx.to_onnx`` turns a ``Pipeline`` of a ``StandardScaler`` and an
   ``MLPClassifier`` into one model whose labels are the pipeline's ``predict``.
3. An ``MLPRegressor`` with two outputs, in float32: its ``variable`` output is ``predict``.

Needs onnx, onnxruntime and skl2onnx (``pip install 'ferroprop[onnx]'``); without them the
script says so and stops. The model file goes to a temporary directory, removed at the end.

Run: python examples/onnx_export.py   (a few seconds)
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ferroprop import Network
from ferroprop.sklearn import MLPClassifier, MLPRegressor

missing = [m for m in ("onnx", "onnxruntime", "skl2onnx") if importlib.util.find_spec(m) is None]
if missing:
    print(f"This example needs {', '.join(missing)}, not installed here. Install them with")
    print("    pip install 'ferroprop[onnx]'")
    print("Skipped.")
    sys.exit(0)

import onnxruntime as ort  # noqa: E402
import skl2onnx  # noqa: E402

import ferroprop.onnx  # noqa: E402  (registers the estimators with skl2onnx)


def session(model_or_path):
    source = model_or_path if isinstance(model_or_path, str) else model_or_path.SerializeToString()
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


warnings.simplefilter("ignore", ConvergenceWarning)

# -- 1. A Network, to a file. -------------------------------------------------------------
X, y = load_iris(return_X_y=True)
X = (X - X.mean(axis=0)) / X.std(axis=0)
net = Network([4, 16, 3], ["tanh", "softmax"], "cross_entropy", seed=0)
net.fit(X, y, epochs=200, learning_rate=0.1, batch_size=16, seed=0)
with tempfile.TemporaryDirectory(prefix="ferroprop-") as directory:
    path = str(Path(directory) / "iris.onnx")
    ferroprop.onnx.to_onnx(net, path)
    (probabilities,) = session(path).run(None, {"X": X})
difference = np.max(np.abs(probabilities - net.predict(X)))
print(f"1. Network {net.layer_sizes} -> ONNX file -> ONNX Runtime")
print(f"   max |ONNX - predict| over {len(X)} flowers: {difference:.1e}")
print(f"   accuracy from the ONNX model: {np.mean(probabilities.argmax(axis=1) == y):.3f}")

# -- 2. A scikit-learn pipeline, converted by skl2onnx. -----------------------------------
X_raw, _ = load_iris(return_X_y=True)
names = np.array(["setosa", "versicolor", "virginica"])[y]
pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=500, random_state=0))
pipe.fit(X_raw, names)
model = skl2onnx.to_onnx(pipe, X_raw[:1], options={"zipmap": False})
labels, proba = session(model).run(None, {"X": X_raw})
print("2. Pipeline(StandardScaler, MLPClassifier) -> skl2onnx.to_onnx")
print(f"   outputs: {[o.name for o in model.graph.output]}, labels such as {labels[:2]}")
print(f"   labels equal to predict: {np.array_equal(labels, pipe.predict(X_raw))}")
difference = np.max(np.abs(proba - pipe.predict_proba(X_raw)))
print(f"   max |probabilities - predict_proba|: {difference:.1e}")

# -- 3. A float32 regressor with two outputs. ---------------------------------------------
X_reg, y_reg = make_regression(n_samples=300, n_features=5, n_targets=2, random_state=0)
X_reg = X_reg.astype(np.float32)
reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0, dtype="float32")
reg.fit(X_reg, y_reg / 100)
(variable,) = session(ferroprop.onnx.to_onnx(reg)).run(None, {"X": X_reg})
relative = np.max(np.abs(variable - reg.predict(X_reg))) / np.max(np.abs(reg.predict(X_reg)))
print(f"3. MLPRegressor (float32, 2 outputs): variable {variable.shape} {variable.dtype}")
print(f"   max |ONNX - predict| / max |predict|: {relative:.1e}")
