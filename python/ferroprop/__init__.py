"""ferroprop: multilayer perceptrons trained by backpropagation, with a Rust core.

>>> from ferroprop import Network
>>> net = Network([2, 4, 3, 1], activations=["relu", "relu", "sigmoid"],
...               loss="binary_cross_entropy", seed=0)

scikit-learn's estimators, over the same core (needs scikit-learn and SciPy):

>>> from ferroprop.sklearn import MLPClassifier, MLPRegressor
"""

from ferroprop._core import __version__
from ferroprop.network import ACTIVATIONS, LOSSES, OPTIMIZERS, Layer, Network

__all__ = ["ACTIVATIONS", "LOSSES", "OPTIMIZERS", "Layer", "Network", "__version__"]
