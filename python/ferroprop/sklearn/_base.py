"""The estimators' shared base: scikit-learn's ``BaseMultilayerPerceptron`` over ferroprop.

How the estimators map onto ``Network.fit``
-------------------------------------------
ferroprop's losses are means over every element (binary cross-entropy, MSE without the
1/2) or over rows (cross-entropy); scikit-learn's gradient is that of ``g`` times
ferroprop's mean, with ``g = 1`` (binary, multiclass), ``k`` (``k`` labels of a
multilabel problem) and ``k / 2`` (regression with ``k`` outputs: scikit-learn's output
delta is ``ŷ − y`` over the rows only). The adapter runs ferroprop with
``learning_rate·g`` (SGD), ``alpha / g``, for Adam and AdamW ``epsilon / g`` and for SGD
``weight_decay / g`` (AdamW's decay does not scale with the gradient), which gives the
same steps as scikit-learn's from the same weights, and reports ``loss_``/``loss_curve_``
in scikit-learn's convention (ferroprop's loss times ``g``; times 1/2 for regression, plus,
for several outputs, the part of the penalty scikit-learn's reported loss counts
differently). Every draw from ``random_state`` is scikit-learn's: the Glorot-uniform
initialisation, early stopping's split, then one ``shuffle`` of the row order per epoch,
which the core draws itself from the ``RandomState``'s MT19937 state (``numpy_stream``:
NumPy's legacy stream and ``RandomState.shuffle``, in Rust) and hands back advanced, so
that the ``RandomState`` ends where scikit-learn's would. A diverging fit (a non-finite
loss) runs on as scikit-learn's does (``divergence="record"``): NaN losses and scores to
``max_iter``, then the best weights with early stopping, or scikit-learn's error without.

Every ``fit`` and ``partial_fit`` with SGD, Adam or AdamW is one call of the core's ``fit``: the
schedules, the no-improvement rule, early stopping (scores weighted by the sample
weights) and the restoring of the best weights run in Rust (``src/train/``), judging
scikit-learn's loss and stepping by its step size (``scales``), and continuing from the
counters, best values, samples seen and step size of the last fit (``resume``: warm
starts and ``partial_fit``). The core reports each epoch, from which ``_end_epoch`` keeps
scikit-learn's attributes and prints ``verbose``'s lines. ``solver="lbfgs"`` drives
``scipy.optimize.minimize(method="L-BFGS-B")``; each evaluation is one ``set_weights``
and one ``loss_and_gradient`` call into Rust (sample weights and L2 penalty included).
"""

from __future__ import annotations

import inspect
import math
import os
import re
import textwrap
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any, Literal, TypeVar, Union, cast

import numpy as np
import numpy.typing as npt
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ferroprop.network import (
    ActivationName,
    ArrayLike,
    DTypeName,
    FloatArray,
    FloatDTypeLike,
    LossName,
    Network,
    _EpochReport,
)
from ferroprop.sklearn import _files
from ferroprop.sklearn._callbacks import CallbackSupportMixin, FitTasks

if TYPE_CHECKING:
    from typing_extensions import Self

# scikit-learn's names of the hidden activations, solvers and schedules (unions of
# one-value Literals: see ferroprop.network's names).
# ``activation`` also takes every hidden activation of ferroprop by its own name.
HiddenActivation = Union[
    Literal["identity"],
    Literal["logistic"],
    Literal["tanh"],
    Literal["relu"],
    Literal["sigmoid"],
    Literal["leaky_relu"],
    Literal["gelu"],
    Literal["silu"],
    Literal["elu"],
    Literal["softplus"],
]
Solver = Union[Literal["lbfgs"], Literal["sgd"], Literal["adam"], Literal["adamw"]]
LearningRateSchedule = Union[
    Literal["constant"],
    Literal["invscaling"],
    Literal["adaptive"],
    Literal["cosine"],
    Literal["step"],
    Literal["one_cycle"],
    Callable[[int], float],
]
#: ``hidden_layer_sizes``: one size, or one per hidden layer.
HiddenLayerSizes = Union[int, Sequence[int], npt.NDArray[np.integer[Any]]]
#: ``X``: an array-like or a SciPy sparse matrix or array (densified).
MatrixLike = Union[ArrayLike, "sp.spmatrix", "sp.sparray"]
#: ``random_state``: scikit-learn's seed or generator.
RandomStateLike = Union[int, np.random.RandomState, None]
_OutActivation = Union[Literal["identity"], Literal["logistic"], Literal["softmax"], Literal["exp"]]
_Weights = list[tuple[FloatArray, FloatArray]]


_STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw")
# scikit-learn's schedules, which its Adam ignores (PyTorch's apply to every solver).
_SKLEARN_SCHEDULES = ("constant", "invscaling", "adaptive")
_HIDDEN: dict[str, ActivationName] = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    "sigmoid": "sigmoid",
    "leaky_relu": "leaky_relu",
    "gelu": "gelu",
    "silu": "silu",
    "elu": "elu",
    "softplus": "softplus",
}
# scikit-learn's output activation -> ferroprop's output activation and loss.
_OUTPUT: dict[str, tuple[ActivationName, LossName]] = {
    "logistic": ("sigmoid", "binary_cross_entropy"),
    "softmax": ("softmax", "cross_entropy"),
    "identity": ("identity", "mean_squared_error"),
    "exp": ("exp", "poisson"),
}


# The parameters, fitted attributes and prediction sections the estimators document alike,
# written once: `_shared_docs` puts each where a class docstring, or the docstring of one of
# the class's methods, has its key (`{common_parameters}`, ...) on a line of its own.
_COMMON_PARAMETERS = """\
hidden_layer_sizes : int or array-like of int, default=(100,)
    Units of each hidden layer (an int: one hidden layer).
activation : {"identity", "logistic", "tanh", "relu", "sigmoid", "leaky_relu", \
"gelu", "silu", "elu", "softplus"}, default="relu"
    Activation of the hidden layers: scikit-learn's four (``"logistic"`` is the
    sigmoid, also accepted as ``"sigmoid"``) and ferroprop's others (see
    :class:`ferroprop.Network`), which scikit-learn's estimators do not have.
solver : {"lbfgs", "sgd", "adam", "adamw"}, default="adam"
    ``"sgd"``, ``"adam"`` and ``"adamw"`` train by minibatches in ferroprop's Rust
    loop; ``"lbfgs"`` runs SciPy's L-BFGS-B on ferroprop's full-batch loss and
    gradient. ``"adamw"`` is PyTorch's ``AdamW`` (with ``weight_decay``; its
    ``epsilon`` enters as PyTorch's does, after the bias correction, where
    ``"adam"``, scikit-learn's, adds it before).
alpha : float, default=0.0001
    Strength of the L2 penalty, divided by the total sample weight (the number of
    samples without weights) when added to the loss; biases are not penalized.
batch_size : int or "auto", default="auto"
    Minibatch size of ``"sgd"`` and ``"adam"``; ``"auto"`` is
    ``min(200, n_samples)``. A size above ``n_samples`` is clipped, with a warning.
learning_rate : {"constant", "invscaling", "adaptive", "cosine", "step", \
"one_cycle"} or callable, default="constant"
    Step-size schedule. scikit-learn's, for ``"sgd"`` and ``"adamw"`` (``"adam"``
    ignores them, as scikit-learn's does): ``"constant"`` keeps
    ``learning_rate_init``; ``"invscaling"`` uses
    ``learning_rate_init / (t_ + 1) ** power_t`` after each epoch; ``"adaptive"``
    divides the step by 5 whenever more than ``n_iter_no_change`` epochs in a row
    fail to improve by ``tol``, and stops once it is at most 1e-6. PyTorch's, for
    every stochastic solver, from ``learning_rate_init`` (see
    :meth:`ferroprop.Network.fit` for the formulas): ``"cosine"`` (to 0 over
    ``t_max`` epochs), ``"step"`` (times ``gamma`` every ``step_size`` epochs) and
    ``"one_cycle"`` (by batch, over ``t_max`` epochs). A callable ``f`` gives the
    step size ``f(epoch)`` of each epoch (0-based) itself. Each ``fit`` starts
    PyTorch's schedules and the callable's epochs afresh (a warm start too);
    ``partial_fit`` calls continue them, one epoch each.
learning_rate_init : float, default=0.001
    Initial step size of ``"sgd"`` and ``"adam"``.
power_t : float, default=0.5
    Exponent of the ``"invscaling"`` schedule.
max_iter : int, default=200
    Maximum number of epochs (``"sgd"``, ``"adam"``) or of iterations (``"lbfgs"``).
shuffle : bool, default=True
    Shuffle the samples before each epoch (``"sgd"``, ``"adam"``), drawn from
    ``random_state`` as scikit-learn draws them (the same order).
random_state : int, RandomState instance or None, default=None
    Source of the initial weights, of the early-stopping split and of the shuffles,
    each drawn as scikit-learn draws them: the same ``random_state`` gives scikit-learn's
    model, and a ``RandomState`` instance is advanced exactly as scikit-learn advances it.
tol : float, default=1e-4
    The improvement of the loss (or of the validation score) that counts; for
    ``"lbfgs"``, SciPy's ``gtol``.
verbose : bool, default=False
    Print the loss of each epoch (scikit-learn's lines) and, if tqdm is installed, show
    a progress bar.
warm_start : bool, default=False
    Start ``fit`` from the weights, counters and best values of the previous fit.
momentum : float, default=0.9
    Momentum of ``"sgd"``, in ``[0, 1)`` (``fit`` refuses 1).
nesterovs_momentum : bool, default=True
    Use Nesterov's momentum (``"sgd"``).
early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the data (a stratified split for binary
    classification), stop once the validation score has not improved by ``tol`` for
    more than ``n_iter_no_change`` epochs, and restore the weights of the best score
    (``"sgd"`` and ``"adam"``; refused by ``partial_fit``).
validation_fraction : float, default=0.1
    The share of the data held out for early stopping, in ``[0, 1)``.
beta_1 : float, default=0.9
    Adam's decay rate of the first moment, in ``[0, 1)``.
beta_2 : float, default=0.999
    Adam's decay rate of the second moment, in ``[0, 1)``.
epsilon : float, default=1e-8
    Adam's numerical-stability term.
n_iter_no_change : int or np.inf, default=10
    Epochs without an improvement of ``tol`` that ``"sgd"`` and ``"adam"`` tolerate;
    ``np.inf`` never stops early.
max_fun : int, default=15000
    Maximum number of loss evaluations of ``"lbfgs"``.
"""
_TORCH_PARAMETERS = """\
weight_decay : float, default=0.0
    Weight decay of ``"sgd"`` (PyTorch's ``SGD(weight_decay=...)``: each weight's
    gradient gains ``weight_decay * W`` before the momentum) and ``"adamw"``
    (decoupled: each step first scales the weights by
    ``1 - learning_rate * weight_decay``). Biases are not decayed. Must be 0 with
    ``"adam"`` and ``"lbfgs"``.
warmup : int, default=0
    Epochs of linear warm-up in front of the schedule: epoch ``e < warmup`` steps by
    ``(e + 1) / (warmup + 1)`` times the schedule's first step size.
t_max : int or None, default=None
    The length in epochs of ``"cosine"`` and ``"one_cycle"``; ``None`` is
    ``max_iter - warmup``.
step_size : int or None, default=None
    The period in epochs of ``"step"`` (required with it).
gamma : float, default=0.1
    The factor of ``"step"``.
dropout : float or sequence of float, default=0.0
    Inverted dropout's rate in ``[0, 1)`` for every hidden layer, or one per hidden
    layer (ferroprop's addition; see ``ferroprop.Network``): during ``"sgd"``,
    ``"adam"`` and ``"adamw"`` training only, never in predictions. The masks follow
    ``random_state``. 0 trains exactly the model without dropout; ``"lbfgs"`` refuses
    any other rate.

"""
_DTYPE_PARAMETER = """\
dtype : {None, "float32", "float64"}, default=None
    The network's dtype. ``None`` follows scikit-learn: float32 ``X`` trains a float32
    network with SGD/Adam, anything else (and lbfgs) float64.

"""
_COMMON_ATTRIBUTES = """\
loss_ : float
    The loss of the last epoch (``"sgd"``, ``"adam"``) or at the solution
    (``"lbfgs"``), penalty included, in scikit-learn's convention.
best_loss_ : float or None
    The lowest epoch loss (``None`` with ``early_stopping``; ``"sgd"``/``"adam"``).
loss_curve_ : list of float
    The loss of each epoch (``"sgd"``, ``"adam"``).
validation_scores_ : list of float or None
    The validation score of each epoch with ``early_stopping``, else ``None``.
best_validation_score_ : float or None
    The best validation score with ``early_stopping``, else ``None``.
t_ : int
    Number of training samples seen.
coefs_ : list of ndarray
    Weight matrix of each layer, shape ``(fan_in, fan_out)`` (read-only copies).
intercepts_ : list of ndarray
    Bias vector of each layer, shape ``(fan_out,)`` (read-only copies).
n_features_in_ : int
    Number of features seen during ``fit``.
feature_names_in_ : ndarray of shape (n_features_in_,)
    Names of the features seen during ``fit``, if ``X`` had string column names.
n_iter_ : int
    Number of epochs (or L-BFGS iterations) of the last fit.
n_layers_ : int
    Number of layers, input and output included.
n_outputs_ : int
    Number of output units.
"""

# The `X` parameter of the prediction methods, and what they raise (the classifier's; the
# regressor's `predict` raises more).
_PREDICT_PARAMETERS = """\
Parameters
----------
X : {array-like, sparse matrix} of shape (n_samples, n_features)
    The input data.

"""
_PREDICT_RAISES = """\
Raises
------
sklearn.exceptions.NotFittedError
    If the estimator is not fitted.
ValueError
    If ``X`` does not have ``n_features_in_`` columns or is not finite.
"""
_SHARED_DOCS = {
    "{common_parameters}": _COMMON_PARAMETERS,
    "{dtype_parameter}": _DTYPE_PARAMETER,
    "{torch_parameters}": _TORCH_PARAMETERS,
    "{common_attributes}": _COMMON_ATTRIBUTES,
    "{predict_parameters}": _PREDICT_PARAMETERS,
    "{predict_raises}": _PREDICT_RAISES,
}
_SHARED_KEY = re.compile(
    "^([ \t]*)(" + "|".join(re.escape(key) for key in _SHARED_DOCS) + ")\n", re.MULTILINE
)

_Class = TypeVar("_Class", bound=type)


def _shared_docs(cls: _Class) -> _Class:
    """``cls`` with the shared texts in its docstring and in those of its own functions (each
    key on a line of its own becomes its text, indented as the key)."""

    def fill(doc: str) -> str:
        doc = _SHARED_KEY.sub(lambda m: textwrap.indent(_SHARED_DOCS[m[2]], m[1]), doc)
        left = [key for key in _SHARED_DOCS if key in doc]
        if left:
            raise ValueError(f"{cls.__name__}: {left} not on a line of its own")
        return doc

    cls.__doc__ = fill(cls.__doc__ or "")
    for member in vars(cls).values():
        if inspect.isfunction(member) and member.__doc__:
            member.__doc__ = fill(member.__doc__)
    return cls


_Method = TypeVar("_Method", bound=Callable[..., Any])


def fit_context(prefer_skip_nested_validation: bool) -> Callable[[_Method], _Method]:
    """scikit-learn's ``_fit_context`` (parameter validation), keeping the method's type."""
    decorator: Callable[[_Method], _Method] = _fit_context(
        prefer_skip_nested_validation=prefer_skip_nested_validation
    )
    return decorator


def available_when(check: Callable[[Any], object]) -> Callable[[_Method], _Method]:
    """scikit-learn's ``available_if`` (the method exists when ``check(estimator)`` is
    true), keeping the method's type."""
    decorator: Callable[[_Method], _Method] = available_if(check)
    return decorator


def _readonly(arr: FloatArray) -> FloatArray:
    arr.flags.writeable = False
    return arr


def _pack(weights: Sequence[tuple[FloatArray, FloatArray]]) -> FloatArray:
    """scikit-learn's packing: every coefficient matrix (C order), then every intercept."""
    return np.hstack([W.ravel() for W, _ in weights] + [b.ravel() for _, b in weights])


def _unpack(theta: FloatArray, shapes: Sequence[tuple[int, ...]]) -> _Weights:
    coefs, start = [], 0
    for n_in, n_out in shapes:
        coefs.append(theta[start : start + n_in * n_out].reshape(n_in, n_out))
        start += n_in * n_out
    intercepts = []
    for _, n_out in shapes:
        intercepts.append(theta[start : start + n_out])
        start += n_out
    return list(zip(coefs, intercepts))


def _network_like(net: Network, weights: _Weights) -> Network:
    """A new network with ``net``'s architecture and ``weights``."""
    dtype: DTypeName = "float32" if net.dtype == np.float32 else "float64"
    copy = Network(
        net.layer_sizes, net.activations, net.loss_name, dtype, seed=0, dropout=net.dropout
    )
    copy.set_weights(weights)
    return copy


# scikit-learn's message (its tests match it).
_NON_FINITE = (
    "Solver produced non-finite parameter weights. The input data may contain large values "
    "and need to be preprocessed."
)


def _shuffling(random_state: np.random.RandomState) -> tuple[int, Any]:
    """The core's ``seed`` and ``numpy_stream`` for shuffling with ``random_state``: its
    MT19937 state (the core shuffles as ``random_state.shuffle`` would, in scikit-learn's
    order, and hands the advanced state back), or, for a ``RandomState`` over another bit
    generator, a seed drawn from it for the core's own stream."""
    state = random_state.get_state(legacy=False)
    if state.get("bit_generator") != "MT19937":
        return int(random_state.randint(2**31)), None
    inner = state["state"]
    return 0, (np.ascontiguousarray(inner["key"], dtype=np.uint32), int(inner["pos"]))


_SEEDED: dict[int, tuple[bytes, int]] = {}


def _seeded_stream(seed: int) -> tuple[Any, int]:
    """``_shuffling``'s stream of ``np.random.RandomState(seed)`` before any draw, from a
    cache of the last few seeds (a fresh array each call: the core does not keep it)."""
    cached = _SEEDED.get(seed)
    if cached is None:
        state = np.random.RandomState(seed).get_state(legacy=False)["state"]
        key = np.ascontiguousarray(state["key"], dtype=np.uint32).tobytes()
        cached = (key, int(state["pos"]))
        if len(_SEEDED) >= 8:
            _SEEDED.clear()
        _SEEDED[seed] = cached
    return np.frombuffer(cached[0], dtype=np.uint32).copy(), cached[1]


def _set_stream(random_state: np.random.RandomState, stream: tuple[Any, int]) -> None:
    """Advances ``random_state`` to the core's MT19937 state ``stream`` (its Gaussian cache
    as it was)."""
    state = random_state.get_state(legacy=False)
    key, pos = stream
    state["state"] = {"key": key, "pos": pos}
    random_state.set_state(state)


def _progress_bar(total: int) -> Any:
    """A tqdm progress bar over epochs, or None without tqdm."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="epoch", desc="fit")


class _BaseMLP(CallbackSupportMixin, BaseEstimator, ABC):
    """What MLPClassifier and MLPRegressor share (scikit-learn's BaseMultilayerPerceptron)."""

    _parameter_constraints: dict[str, list[Any]] = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_HIDDEN))],
        "solver": [StrOptions({"lbfgs", "sgd", "adam", "adamw"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [
            StrOptions({"constant", "invscaling", "adaptive", "cosine", "step", "one_cycle"}),
            callable,
        ],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dtype": [None, StrOptions({"float32", "float64"}), type, np.dtype],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "warmup": [Interval(Integral, 0, None, closed="left")],
        "t_max": [None, Interval(Integral, 1, None, closed="left")],
        "step_size": [None, Interval(Integral, 1, None, closed="left")],
        "gamma": [Interval(Real, 0, None, closed="neither")],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
    }

    # Fitted attributes (scikit-learn's), set by fit; documented in the subclasses.
    n_iter_: int
    t_: int
    n_layers_: int
    n_outputs_: int
    out_activation_: _OutActivation
    loss_: np.float64
    loss_curve_: list[np.float64]
    best_loss_: float | None
    validation_scores_: list[float] | None
    best_validation_score_: float | None
    _network: Network
    _best_network: Network | None
    # coefs_ and intercepts_ assigned before any fit.
    _assigned_coefs: list[Any]
    _assigned_intercepts: list[Any]
    _learning_rate: float
    _schedule_epochs: int
    _no_improvement_count: int

    if TYPE_CHECKING:
        # Generated when the class is created, by scikit-learn's metadata routing (see its
        # docstrings); declared for type checkers, stubtest compares them with the runtime.
        def set_fit_request(self, *, sample_weight: bool | str | None = "$UNCHANGED$") -> Self: ...

    @abstractmethod
    def __init__(
        self,
        hidden_layer_sizes: HiddenLayerSizes,
        activation: HiddenActivation,
        solver: Solver,
        alpha: float,
        batch_size: int | Literal["auto"],
        learning_rate: LearningRateSchedule,
        learning_rate_init: float,
        power_t: float,
        max_iter: int,
        loss: str,
        shuffle: bool,
        random_state: RandomStateLike,
        tol: float,
        verbose: bool | int,
        warm_start: bool,
        momentum: float,
        nesterovs_momentum: bool,
        early_stopping: bool,
        validation_fraction: float,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        n_iter_no_change: int | float,
        max_fun: int,
        dtype: FloatDTypeLike | None,
        weight_decay: float = 0.0,
        warmup: int = 0,
        t_max: int | None = None,
        step_size: int | None = None,
        gamma: float = 0.1,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.weight_decay = weight_decay
        self.warmup = warmup
        self.t_max = t_max
        self.step_size = step_size
        self.gamma = gamma
        self.dropout = dropout

    # -- what the subclasses define ---------------------------------------------------------

    @abstractmethod
    def _output_activation(self) -> _OutActivation: ...

    @abstractmethod
    def _validate_input(
        self, X: MatrixLike, y: ArrayLike, incremental: bool, reset: bool
    ) -> tuple[Any, npt.NDArray[Any], Any]:
        """``(X, Y, y)``: checked inputs, the targets as a (1-D or 2-D) numeric array, and
        the targets as given (labels, for class weights and scores)."""

    def _check_X_y(
        self, X: MatrixLike, y: ArrayLike, reset: bool, y_numeric: bool = False
    ) -> tuple[Any, npt.NDArray[Any]]:
        """scikit-learn's checks of a fit's ``X`` (sparse or dense, float64 or float32) and
        ``y`` (1-D or 2-D), for ``_validate_input``.

        Each ``_validate_input`` flattens a column ``y`` itself: ``column_or_1d`` reports its
        warning at its caller, so each estimator keeps its own place (as in scikit-learn),
        which Python's default filter shows once per place.
        """
        if not reset and _plain_X_y(self, X, y):
            return X, cast("npt.NDArray[Any]", y)
        X_arr, y_arr = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=y_numeric,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        return X_arr, y_arr

    @abstractmethod
    def _predict(self, X: MatrixLike, check_input: bool = True) -> npt.NDArray[Any]: ...

    # -- weights, as scikit-learn exposes them ---------------------------------------------

    @property
    def coefs_(self) -> list[FloatArray]:
        """Weight matrices, shape ``(fan_in, fan_out)``, of each layer (read-only copies).

        Assigning a list of one matrix per layer sets the network's weights (shapes must
        match; the optimizer's state is reset). Before the first fit, the list assigned is
        kept as it is (``coefs_[k] = W`` changes it), and a warm-started ``fit`` or
        ``partial_fit`` continues from it and ``intercepts_``, as scikit-learn's does.
        """
        if not hasattr(self, "_network") and "_assigned_coefs" in vars(self):
            assigned: list[FloatArray] = self._assigned_coefs
            return assigned
        return [_readonly(W) for W, _ in self._network.get_weights()]

    @coefs_.setter
    def coefs_(self, value: Sequence[ArrayLike]) -> None:
        if not hasattr(self, "_network"):
            self._assigned_coefs = list(value)
            return
        weights = self._network.get_weights()
        if len(value) != len(weights):
            raise ValueError(f"coefs_ needs {len(weights)} matrices, got {len(value)}")
        self._network.set_weights([(W, b) for W, (_, b) in zip(value, weights)])

    @property
    def intercepts_(self) -> list[FloatArray]:
        """Bias vectors, shape ``(fan_out,)``, of each layer (read-only copies).

        Assigning a list of one vector per layer sets the network's biases (shapes must
        match; the optimizer's state is reset). Before the first fit, the list assigned is
        kept as it is, as ``coefs_``'s.
        """
        if not hasattr(self, "_network") and "_assigned_intercepts" in vars(self):
            assigned: list[FloatArray] = self._assigned_intercepts
            return assigned
        return [_readonly(b) for _, b in self._network.get_weights()]

    @intercepts_.setter
    def intercepts_(self, value: Sequence[ArrayLike]) -> None:
        if not hasattr(self, "_network"):
            self._assigned_intercepts = list(value)
            return
        weights = self._network.get_weights()
        if len(value) != len(weights):
            raise ValueError(f"intercepts_ needs {len(weights)} vectors, got {len(value)}")
        self._network.set_weights([(W, b) for (W, _), b in zip(weights, value)])

    # -- conventions ---------------------------------------------------------------------

    def _scales(self) -> tuple[float, float]:
        """``(g, s)``: scikit-learn's gradient is ``g`` times ferroprop's, and its reported
        loss ``s`` times ferroprop's (exactly, when ``g == s`` or without penalty)."""
        k = self.n_outputs_
        if self.out_activation_ == "identity":
            return k / 2.0, 0.5
        if self.out_activation_ in ("logistic", "exp"):
            return float(k), float(k)
        return 1.0, 1.0

    def _rates(self) -> float | list[float]:
        """``dropout`` as ``Network`` takes it (its values are the core's to check); refused
        with ``"lbfgs"``, whose full-batch objective has no dropout."""
        rates: Any = self.dropout  # a number or an array-like, as validated
        values = [float(rates)] if isinstance(rates, Real) else [float(p) for p in rates]
        if self.solver == "lbfgs" and any(values):
            raise ValueError(
                f"dropout={rates!r} needs solver 'sgd', 'adam' or 'adamw': 'lbfgs' minimizes the "
                "full-batch loss, which has no dropout"
            )
        return values[0] if isinstance(rates, Real) else values

    def _net_dtype(self, x_dtype: np.dtype[Any]) -> DTypeName:
        if self.dtype is None:
            # As scikit-learn: lbfgs works in float64 (scipy's), SGD and Adam in X's dtype.
            return "float64" if self.solver == "lbfgs" or x_dtype != np.float32 else "float32"
        name = np.dtype(self.dtype).name
        if name not in ("float32", "float64"):
            raise ValueError(f"dtype must be None, 'float32' or 'float64', got {self.dtype!r}")
        return "float32" if name == "float32" else "float64"

    def _targets(self, Y: npt.NDArray[Any]) -> FloatArray | npt.NDArray[np.int64]:
        """The 2-D targets ``Y`` in the form ferroprop's loss takes."""
        if self.out_activation_ == "softmax":
            labels: npt.NDArray[np.int64] = Y.argmax(axis=1).astype(np.int64)
            return labels
        return np.ascontiguousarray(Y, dtype=self._network.dtype)

    # -- fitting ------------------------------------------------------------------------

    def _fit(
        self,
        X: MatrixLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        incremental: bool = False,
    ) -> Self:
        sizes = self.hidden_layer_sizes
        hidden = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
        if np.any(np.array(hidden) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {hidden}.")
        first_pass = not self._has_weights() or (not self.warm_start and not incremental)

        X, Y, y_raw = self._validate_input(X, y, incremental, reset=first_pass)
        if sp.issparse(X):
            X = X.toarray()
        weights = None if sample_weight is None else _check_sample_weight(sample_weight, X)
        weights = self._class_sample_weight(weights, y_raw, incremental)
        if Y.ndim == 1:
            Y = Y.reshape(-1, 1)
        if not first_pass and Y.shape[1] != getattr(self, "n_outputs_", Y.shape[1]):
            raise ValueError(
                f"y has {Y.shape[1]} outputs but the fitted network has {self.n_outputs_}"
            )
        self.n_outputs_ = Y.shape[1]
        layer_units = [X.shape[1], *hidden, self.n_outputs_]
        random_state: np.random.RandomState | None = None
        if first_pass:
            random_state = check_random_state(self.random_state)
            self._initialize(layer_units, X.dtype, random_state)
        elif not hasattr(self, "_network"):
            self._initialize_from_assigned(layer_units, X.dtype)
        if random_state is None and not self._only_shuffles():
            random_state = check_random_state(self.random_state)
        if self._network.layer_sizes != layer_units:
            raise ValueError(
                f"warm_start/partial_fit: the network has layers {self._network.layer_sizes}, "
                f"the data and hidden_layer_sizes ask for {layer_units}"
            )
        X = np.ascontiguousarray(X, dtype=self._network.dtype)

        stochastic = self.solver in _STOCHASTIC_SOLVERS
        if not stochastic and self.weight_decay > 0:
            raise ValueError(
                f"weight_decay must be 0 with solver='lbfgs', got {self.weight_decay!r} "
                "(use alpha for an L2 penalty, or solver='adamw' or 'sgd')"
            )
        tasks = FitTasks(
            self,
            X,
            y_raw,
            weights,
            # L-BFGS: scikit-learn's count, an empty last iteration included.
            max_subtasks=(1 if incremental else self.max_iter) if stochastic else self.max_iter + 1,
            subtask="epoch" if stochastic else "lbfgs-iter",
            snapshot=lambda: {"_network": _network_like(self._network, self._weights())},
        )
        # A stochastic fit that ran to its end checked the weights after every epoch in
        # the core (a non-finite epoch is undone and reported); an interrupted one did not.
        checked = False
        if stochastic:
            checked = self._fit_stochastic(X, Y, weights, incremental, random_state, tasks)
        else:
            self._fit_lbfgs(X, Y, weights, tasks)
        tasks.close()

        if not checked and not all(
            np.isfinite(W).all() and np.isfinite(b).all() for W, b in self._weights()
        ):
            raise ValueError(_NON_FINITE)
        return self

    def _only_shuffles(self) -> bool:
        """Whether this fit of a network that exists draws nothing from an int
        ``random_state`` but its shuffling stream: no early stopping's split, no dropout.
        Such a seed is a new ``RandomState`` each call, as in scikit-learn, that nobody
        keeps; its stream then comes from ``_seeded_stream``, and the ``RandomState`` is
        never built (with its state read and written back, 0.3 ms of a ``partial_fit``)."""
        return (
            isinstance(self.random_state, (int, np.integer))
            and self.solver in _STOCHASTIC_SOLVERS
            and bool(self.shuffle)
            and not self.early_stopping
            and not any(self._network.dropout)
        )

    def _class_sample_weight(
        self, sample_weight: FloatArray | None, y: Any, incremental: bool
    ) -> FloatArray | None:
        return sample_weight

    def _weights(self) -> _Weights:
        return self._network.get_weights()

    def _has_weights(self) -> bool:
        """Whether there are weights to continue from: a fit's, or ``coefs_`` and
        ``intercepts_`` assigned before any fit."""
        assigned = "_assigned_coefs" in vars(self) and "_assigned_intercepts" in vars(self)
        return hasattr(self, "_network") or assigned

    def _initialize_from_assigned(self, layer_units: list[int], x_dtype: np.dtype[Any]) -> None:
        """The network of the ``coefs_`` and ``intercepts_`` assigned before any fit (as
        scikit-learn's attributes can be), which a warm start or ``partial_fit`` continues.
        Fitted attributes assigned too (``t_``, ``out_activation_``, ...) are kept; the
        others start as a new fit's."""
        coefs = self.__dict__.pop("_assigned_coefs")
        intercepts = self.__dict__.pop("_assigned_intercepts")
        weights = [
            (np.asarray(W, dtype=x_dtype), np.asarray(b, dtype=x_dtype).reshape(-1))
            for W, b in zip(coefs, intercepts)
        ]
        if len(coefs) != len(intercepts) or any(W.ndim != 2 for W, _ in weights):
            raise ValueError(
                "coefs_ and intercepts_ must hold a matrix and a vector per layer, got "
                f"{len(coefs)} coefs_ and {len(intercepts)} intercepts_"
            )
        sizes = [weights[0][0].shape[0]] + [W.shape[1] for W, _ in weights]
        assigned = vars(self).copy()
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(sizes)
        self.out_activation_ = self._output_activation()
        self._initialize_state()
        self.__dict__.update(assigned)
        out, loss = _OUTPUT[self.out_activation_]
        activations = [_HIDDEN[self.activation]] * (len(sizes) - 2) + [out]
        net = Network(sizes, activations, loss, self._net_dtype(x_dtype), seed=0)
        net.set_weights(weights)
        self._network = net
        self._best_network = None

    def _initialize(
        self, layer_units: list[int], x_dtype: np.dtype[Any], random_state: Any
    ) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        # scikit-learn's Glorot-uniform draw, W then b per layer, in X's dtype.
        factor = 2.0 if self.activation in ("logistic", "sigmoid") else 6.0
        weights = []
        for fan_in, fan_out in zip(layer_units[:-1], layer_units[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            W = random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(x_dtype, copy=False)
            b = random_state.uniform(-bound, bound, fan_out).astype(x_dtype, copy=False)
            weights.append((W, b))
        out, loss = _OUTPUT[self.out_activation_]
        activations = [_HIDDEN[self.activation]] * (len(layer_units) - 2) + [out]
        dtype = self._net_dtype(x_dtype)
        net = Network(layer_units, activations, loss, dtype, seed=0, dropout=self._rates())
        net.set_weights(weights)
        self._network = net
        self._best_network = None
        self._initialize_state()

    def _initialize_state(self) -> None:
        """A new fit's stopping rule: no epoch yet."""
        if self.solver in _STOCHASTIC_SOLVERS:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _fit_stochastic(
        self,
        X: FloatArray,
        Y: npt.NDArray[Any],
        sample_weight: FloatArray | None,
        incremental: bool,
        random_state: np.random.RandomState | None,
        tasks: FitTasks,
    ) -> bool:
        """One call of the core's ``fit`` does the whole fit, or ``partial_fit``'s epoch:
        the stopping rule, the schedule and early stopping's best weights are the core's
        (``src/train/``), which continues where the last fit left off (``resume``) and
        reports each epoch; this keeps scikit-learn's attributes from those reports.
        Returns whether the core's fit ran to its end (not interrupted by Ctrl-C)."""
        net = self._network
        sgd = self.solver == "sgd"
        if not incremental or not hasattr(self, "_learning_rate"):
            if not incremental:
                net.reset_optimizer()  # a new optimizer, as each scikit-learn fit has
            self._learning_rate = float(self.learning_rate_init)
            self._schedule_epochs = 0
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")

        X_tr, Y_tr, sw_tr, validation = self._validation_split(X, Y, sample_weight, random_state)
        batch_size = self._batch_size(X_tr.shape[0])
        g, s = self._scales()
        alpha = float(self.alpha) / g
        weights = None
        if sw_tr is not None:
            weights, alpha = net._weights(sw_tr, alpha)
        bar = _progress_bar(self.max_iter) if self.verbose and not incremental else None
        stream: tuple[Any, int] | None
        if random_state is None:  # an int seed that only shuffles (`_only_shuffles`)
            seed, stream = 0, _seeded_stream(int(cast(int, self.random_state)))
        else:
            # Dropout's masks follow random_state: a seed drawn before the shuffling stream.
            dropout_seed = int(random_state.randint(2**31)) if any(net.dropout) else None
            seed, stream = _shuffling(random_state) if self.shuffle else (0, None)
            if dropout_seed is not None and (stream is not None or not self.shuffle):
                seed = dropout_seed
        self.n_iter_ = 0
        history = None
        tasks.begin()
        try:
            history = net._core.fit(
                net._x(X_tr),
                self._targets(Y_tr),
                epochs=1 if incremental else self.max_iter,
                batch_size=batch_size,
                shuffle=bool(self.shuffle),
                seed=seed,
                numpy_stream=stream,
                optimizer=self.solver,
                momentum=float(self.momentum) if sgd else 0.0,
                nesterov=bool(self.nesterovs_momentum),
                beta_1=float(self.beta_1),
                beta_2=float(self.beta_2),
                epsilon=float(self.epsilon) / g,
                alpha=alpha,
                sample_weight=weights,
                power_t=float(self.power_t),
                **self._schedule(g),
                n_iter_no_change=None
                if math.isinf(self.n_iter_no_change)
                else int(self.n_iter_no_change),
                tol=float(self.tol),
                early_stopping=bool(self.early_stopping),
                # The rule judges scikit-learn's loss (s times ferroprop's, its penalty g
                # times) and SGD steps by scikit-learn's step size times g.
                scales=(s, g, g if sgd else 1.0),
                resume=self._progress(),
                # True from a callback's hook stops the fit.
                report=lambda report: self._end_epoch(report, bar, tasks, incremental),
                divergence="record",
                **validation,
            )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        finally:
            if bar is not None:
                bar.close()
        if history is not None:
            net.history_ = history
            if history["numpy_stream"] is not None and random_state is not None:
                _set_stream(random_state, history["numpy_stream"])
            if not incremental and history["stopped"] == "max_epochs":
                self._warn_max_iter()
            if history["diverged"] is not None and not self.early_stopping:
                raise ValueError(
                    f"{_NON_FINITE} (The loss became non-finite in epoch "
                    f"{history['diverged']}; the weights from the start of that epoch were "
                    "kept: lower learning_rate_init or scale the data.)"
                )
        if self.early_stopping:
            self._best_network = _network_like(net, net.get_weights())
        return history is not None

    def _validation_split(
        self,
        X: FloatArray,
        Y: npt.NDArray[Any],
        sample_weight: FloatArray | None,
        random_state: np.random.RandomState | None,
    ) -> tuple[FloatArray, npt.NDArray[Any], FloatArray | None, dict[str, Any]]:
        """The training part of ``X``, ``Y`` and the weights, and the core's keywords for
        the validation part (early stopping: scikit-learn's split and score)."""
        if not self.early_stopping:
            return X, Y, sample_weight, {}
        assert random_state is not None, "`_only_shuffles` excludes early stopping"
        net = self._network
        # scikit-learn stratifies only single-output (binary) classification.
        stratify = Y if (self._is_classifier() and self.n_outputs_ == 1) else None
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        parts = train_test_split(
            *arrays,
            random_state=random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        X_tr, X_held, Y_tr, Y_held = parts[:4]
        sw_tr, sw_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
        if X_held.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        one_class = self._is_classifier() and len(self.classes_) == 1
        validation: dict[str, Any] = {
            "validation_data": (net._x(X_held), self._targets(Y_held)),
            "validation_metric": "one_class"
            if one_class
            else ("accuracy" if self._is_classifier() else "r2"),
        }
        if sw_val is not None:  # scores depend on the weights' ratios only
            validation["validation_sample_weight"] = net._weights(sw_val, 0.0)[0]
        if self._best_network is not None:  # a warm start: the best so far
            validation["best_weights"] = self._best_network.get_weights()
        return X_tr, Y_tr, sw_tr, validation

    def _schedule(self, g: float) -> dict[str, Any]:
        """The core's keywords of the schedule and weight decay. scikit-learn's Adam ignores
        scikit-learn's schedules; SGD's steps and its decay are in scikit-learn's units (its
        gradient ``g`` times ferroprop's), AdamW's decay is not scaled by the gradient."""
        schedule = self.learning_rate
        learning_rate: Any = float(self.learning_rate_init)
        if callable(schedule):
            schedule, learning_rate = "constant", self.learning_rate
        elif self.solver == "adam" and schedule in _SKLEARN_SCHEDULES:
            schedule = "constant"
        warmup = int(self.warmup)
        t_max = self.t_max if self.t_max is not None else max(self.max_iter - warmup, 1)
        decay = float(self.weight_decay)
        return {
            "learning_rate": learning_rate,
            "schedule": schedule,
            "weight_decay": decay / g if self.solver == "sgd" else decay,
            "warmup": warmup,
            "t_max": int(t_max),
            "step_size": None if self.step_size is None else int(self.step_size),
            "gamma": float(self.gamma),
        }

    def _batch_size(self, n: int) -> int:
        if self.batch_size == "auto":
            return min(200, n)
        if self.batch_size > n:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped",
                stacklevel=4,
            )
        return int(np.clip(self.batch_size, 1, n))

    def _progress(self) -> tuple[int, float, float, int, float, int]:
        """Where the last fit left the stopping rule (the core's ``resume``): the count,
        the best loss and score, the samples seen, the step size and the schedule's epochs."""
        best_loss = self.best_loss_ if self.best_loss_ is not None else np.inf
        best_score = self.best_validation_score_
        return (
            int(self._no_improvement_count),
            float(best_loss),
            float(best_score) if best_score is not None else -np.inf,
            int(self.t_),
            self._learning_rate,
            int(self._schedule_epochs),
        )

    def _end_epoch(
        self, report: _EpochReport, bar: Any, tasks: FitTasks, incremental: bool
    ) -> bool:
        """scikit-learn's bookkeeping (and verbose output) after an epoch, from the core's
        report: the counters, the best values and the step size are the core's. Then the
        callbacks' hooks: the end of this epoch's task, the beginning of the next one's.
        Returns whether a hook asks to stop (the core then stops the fit)."""
        self.n_iter_ += 1
        self.loss_ = np.float64(report["judged_loss"])
        self.t_ = report["samples_seen"]
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
        if self.early_stopping:
            scores = self.validation_scores_
            assert scores is not None and report["val_score"] is not None  # _initialize's
            scores.append(report["val_score"])
            self.best_validation_score_ = report["best_score"]
            if self.verbose:
                print(f"Validation score: {report['val_score']:f}")
        else:
            self.best_loss_ = np.float64(report["best_loss"])
        self._no_improvement_count = report["count"]
        if not callable(self.learning_rate):  # a callable's fit reports no step size of its own
            self._learning_rate = report["learning_rate"]
        self._schedule_epochs = report["epochs"]
        if self.verbose and (report["stop"] is not None or report["divided"]):
            what = "Validation score" if self.early_stopping else "Training loss"
            msg = (
                f"{what} did not improve more than tol={self.tol:f} for "
                f"{int(self.n_iter_no_change)} consecutive epochs."
            )
            if report["stop"] == "no_improvement":
                msg += " Stopping."
            elif report["stop"] == "learning_rate":
                msg += " Learning rate too small. Stopping."
            else:
                msg += f" Setting learning rate to {self._learning_rate:f}"
            print(msg)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{self.loss_:.6g}", refresh=False)
        if not tasks.active:
            return False
        stop = tasks.end()
        going_on = report["stop"] is None and not incremental and self.n_iter_ < self.max_iter
        if going_on and not stop:
            tasks.begin()
        return stop

    def _warn_max_iter(self) -> None:
        warnings.warn(
            f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
            "optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=4,
        )

    def _fit_lbfgs(
        self,
        X: FloatArray,
        Y: npt.NDArray[Any],
        sample_weight: FloatArray | None,
        tasks: FitTasks,
    ) -> None:
        """L-BFGS-B over scikit-learn's objective; ferroprop computes it and its gradient.

        One evaluation is ``set_weights`` and one ``loss_and_gradient`` call into Rust (a
        forward and a backward pass over the full batch, sample weights and penalty
        included); the result is rescaled to scikit-learn's conventions.
        """
        net = self._network
        T = self._targets(Y)
        shapes = [W.shape for W, _ in net.get_weights()]
        g, s = self._scales()
        alpha = float(self.alpha) / g

        def loss_grad(theta: FloatArray) -> tuple[float, FloatArray]:
            net.set_weights(_unpack(theta, shapes))
            data_loss, penalty, grads = net.loss_and_gradient(X, T, sample_weight, alpha)
            # scikit-learn's loss is s times ferroprop's, its penalty and gradient g times.
            loss = s * data_loss + g * penalty
            return loss, _pack([(g * dW, g * db) for dW, db in grads]).astype(np.float64)

        def at(theta: FloatArray) -> Callable[[], dict[str, Any]]:
            """The callbacks' estimator at ``theta`` (made only if a hook asks for it)."""
            return lambda: {"_network": _network_like(net, _unpack(theta, shapes))}

        def iteration_ends(theta: FloatArray) -> None:
            # As scikit-learn's L-BFGS estimators: end this iteration, begin the next
            # (a hook's request to stop is not honoured, as theirs is not yet).
            tasks.end(at(theta.copy()))
            tasks.begin(at(theta.copy()))

        theta0 = _pack(net.get_weights()).astype(np.float64)
        tasks.begin(at(theta0))
        result = scipy.optimize.minimize(
            loss_grad,
            theta0,
            method="L-BFGS-B",
            jac=True,
            options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol},
            callback=iteration_ends if tasks.active else None,
        )
        self.n_iter_ = _check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = result.fun
        net.set_weights(_unpack(result.x, shapes))

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> Self:
        """Fit the model to data matrix X and target(s) y.

        With ``warm_start``, training continues from the previous fit; otherwise it starts
        from new weights drawn from ``random_state``. Ctrl-C ends a stochastic fit with a
        warning, keeping the weights of the epochs done.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (sparse input is densified).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels in classification, real numbers in regression).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights, not all zero.

        Returns
        -------
        object
            The fitted estimator itself.

        Raises
        ------
        ValueError
            For invalid parameters (scikit-learn's ``InvalidParameterError``) or data
            (negative targets with ``loss="poisson"``), ``momentum=1``, an early-stopping
            validation set of fewer
            than 2 samples, or weights that became non-finite.

        Warns
        -----
        ConvergenceWarning
            If the solver stops at ``max_iter`` (or ``max_fun``) before converging.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    # -- files ----------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the fitted estimator to a file, without pickle.

        The file is the network's safetensors file (as :meth:`ferroprop.Network.save`
        writes it with ``optimizer_state=True``: weights, momentum or Adam's moments and
        step count) whose metadata also holds, as JSON, the estimator's ``get_params()``
        and its fitted attributes (``classes_``, ``n_iter_``, ``t_``, ``loss_curve_``,
        ``best_loss_``, ``validation_scores_``, ``n_features_in_``,
        ``feature_names_in_``, ``out_activation_``, the label binarizer's state, the
        stopping rule's state). ``load`` of the same class gives back an estimator that
        predicts identically and whose ``partial_fit`` or warm-started ``fit`` continues
        bit for bit. The file is written atomically; callbacks are not saved.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write (conventionally ``*.safetensors``); replaced if it exists.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        TypeError
            If a parameter has a value the file cannot hold (a ``RandomState`` over
            another bit generator than MT19937, an arbitrary object).
        OSError
            If writing fails.

        See Also
        --------
        load : Read the file back.
        ferroprop.Network.load : Read the network alone from the same file.

        Examples
        --------
        >>> import os, tempfile
        >>> from sklearn.datasets import make_classification
        >>> from ferroprop.sklearn import MLPClassifier
        >>> X, y = make_classification(n_samples=100, random_state=0)
        >>> clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
        >>> clf = clf.fit(X, y)
        >>> path = os.path.join(tempfile.mkdtemp(), "clf.safetensors")
        >>> clf.save(path)
        >>> same = MLPClassifier.load(path)
        >>> bool((same.predict_proba(X) == clf.predict_proba(X)).all())
        True
        """
        check_is_fitted(self, "_network")
        _files.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self:
        """Load an estimator saved by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by ``save`` of the same class.

        Returns
        -------
        object
            The estimator, fitted, with its parameters, fitted attributes, weights and
            optimizer's state as they were saved.

        Raises
        ------
        ValueError
            If the file is not a ferroprop file, holds a network without an estimator
            (``Network.save``'s: use :meth:`ferroprop.Network.load`), or holds the other
            estimator class (an ``MLPClassifier`` file read by ``MLPRegressor.load``).
        OSError
            If reading fails (``FileNotFoundError``, ``IsADirectoryError``, ...).
        """
        data = _files.read(path)
        loaded: Self = _files.from_bytes(cls, data, f"file {os.fspath(path)!r}")
        return loaded

    def _check_solver(self) -> bool:
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic optimizers. "
                f"{self.solver} is not stochastic."
            )
        return True

    # -- prediction ------------------------------------------------------------------------

    def _forward_pass_fast(self, X: MatrixLike, check_input: bool = True) -> FloatArray:
        data: Any = X
        if check_input:
            data = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        if sp.issparse(data):
            data = data.toarray()
        return self._network.predict(data)

    def _outputs(self, X: MatrixLike, check_input: bool = True) -> FloatArray:
        """The network's outputs for ``X``, 1-D for a single output."""
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _is_classifier(self) -> bool:
        return isinstance(self, ClassifierMixin)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


# The parameters of _BaseMLP.__init__, self aside.
_BASE_PARAMETERS = tuple(inspect.signature(_BaseMLP.__init__).parameters)[1:]


def _base_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """The arguments of ``_BaseMLP.__init__`` among ``arguments``, a subclass ``__init__``'s
    ``locals()``: each estimator spells out its own signature (scikit-learn's ``get_params``
    reads it) and passes it on with ``super().__init__(**_base_arguments(locals()))``."""
    return {name: arguments[name] for name in _BASE_PARAMETERS if name in arguments}


def _plain_X_y(est: Any, X: Any, y: Any) -> bool:
    """Whether ``validate_data`` (without ``reset``) would hand ``X`` and ``y`` back as they
    are, with nothing to say: a plain float ndarray of the fitted width and a plain 1-D or
    2-D numeric ndarray of as many rows, all finite, no feature names to compare. Each
    ``partial_fit`` call checks its batch, and scikit-learn's checks (dataframe probes
    first) cost a third of a small batch's step; anything else takes them."""
    if type(X) is not np.ndarray or type(y) is not np.ndarray:
        return False
    if X.dtype not in (np.float64, np.float32) or X.ndim != 2 or y.ndim not in (1, 2):
        return False
    rows, width = X.shape
    if rows < 1 or y.shape[0] != rows or width != getattr(est, "n_features_in_", -1):
        return False
    if y.ndim == 2 and y.shape[1] < 1:
        return False
    if hasattr(est, "feature_names_in_") or y.dtype.kind not in "biuf":
        return False
    # A finite sum means finite values (an overflowing sum only sends it the long way).
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.sum(X)) and (y.dtype.kind != "f" or np.isfinite(np.sum(y))))
