"""ferroprop: multilayer perceptrons trained by backpropagation, with a Rust core.

The forward and backward passes, the training loop and the parameter updates run in Rust
(``ferroprop._core``); the Python package converts and checks the inputs.

- :class:`Network` (``ferroprop.network``): the tutorial's step API (``forward``,
  ``backward``, ``update``, every intermediate array in ``net.layers[k]``), ``fit``,
  ``predict``, ``loss``, ``gradient_check``, and safetensors files.
- ``ferroprop.sklearn``: ``MLPClassifier`` and ``MLPRegressor``, drop-in replacements for
  scikit-learn's (needs scikit-learn and SciPy).
- ``ferroprop.reference``: the same computations in plain NumPy, in the tutorial's shape.
- :func:`get_num_threads`, :func:`set_num_threads`: the threads of ferroprop's pool
  (threadpoolctl sees and limits it too).

Attributes
----------
ACTIVATIONS, LOSSES, OPTIMIZERS : tuple of str
    The names ``Network`` accepts for activations, losses and optimizers.
__version__ : str
    The version of the compiled core.

Examples
--------
>>> from ferroprop import Network
>>> net = Network([2, 4, 3, 1], activations=["relu", "relu", "sigmoid"],
...               loss="binary_cross_entropy", seed=0)
>>> net.layers[0]
Layer(0: 2 -> 4, relu)

scikit-learn's estimators, over the same core:

>>> from ferroprop.sklearn import MLPClassifier, MLPRegressor
"""

from ferroprop import _threadpoolctl
from ferroprop._core import __version__
from ferroprop.network import ACTIVATIONS, LOSSES, OPTIMIZERS, EpochInfo, Layer, Network
from ferroprop.threads import get_num_threads, set_num_threads

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "OPTIMIZERS",
    "EpochInfo",
    "Layer",
    "Network",
    "__version__",
    "get_num_threads",
    "set_num_threads",
]

_threadpoolctl.register()
