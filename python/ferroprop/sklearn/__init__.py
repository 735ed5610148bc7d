"""scikit-learn's ``MLPClassifier`` and ``MLPRegressor``, trained by ferroprop's Rust core.

Drop-in replacements for ``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor``
(behaviour of scikit-learn 1.9.1): same parameters, defaults, fitted attributes, RNG use
and stopping rules. The weights live in a :class:`ferroprop.Network` (``_network``);
``coefs_`` and ``intercepts_`` are read-only copies of its weights (assigning a whole
list sets the network's weights). Pickles hold the network as its safetensors bytes, with
the optimizer's state (momentum, Adam's moments): ``partial_fit`` after unpickling
continues as it would have without the round trip. Without pickle, ``est.save(path)``
writes the network's safetensors file with the estimator's parameters and fitted
attributes in its metadata, and ``MLPClassifier.load(path)`` / ``MLPRegressor.load(path)``
read it back (predictions and further training identical). With scikit-learn 1.9 or
later, the estimators take scikit-learn's callbacks (``est.set_callbacks(ProgressBar())``,
``ScoringMonitor``): a task per epoch, or per L-BFGS iteration.
Importing this module needs scikit-learn and SciPy (``pip install 'ferroprop[sklearn]'``).

The same ``random_state`` gives scikit-learn's model (to rounding: the same initial
weights, early-stopping split and shuffles, drawn from the same NumPy stream).

Known differences from scikit-learn: a minibatch
whose sample weights are all zero is skipped (scikit-learn raises ZeroDivisionError);
negative sample weights and ``momentum=1`` are refused; a float32 model computes in
float32 whatever the dtype of the ``X`` it predicts on, and a float32 regressor computes
its gradients in float32 (scikit-learn's, with float64 targets, in float64); a diverging
fit records NaN losses (scikit-learn's first may be ``inf``); ``MLPRegressor(loss="poisson")``
refuses negative targets (scikit-learn computes NaN losses); and ``activation`` also
takes ferroprop's own hidden activations (``"sigmoid"``, ``"leaky_relu"``, ``"gelu"``,
``"silu"``, ``"elu"``, ``"softplus"``).

How the estimators map onto :meth:`ferroprop.Network.fit` (loss scales, which fits run
in one Rust call) is described in the docstring of ``ferroprop.sklearn._base``.
"""

from ferroprop.sklearn._classifier import MLPClassifier
from ferroprop.sklearn._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
