"""The NumPy-facing ``Network``: the tutorial's step API and ``fit`` over the Rust core.

Rows are samples. Layer ``k`` (0-based) computes ``z = a_prev @ W + b`` and
``a = f(z)``; ``backward`` fills ``dz``, ``dW``, ``db`` and ``da`` (the gradient of
the mean loss with respect to the layer's output ``a``) of every layer. See
``ferroprop.reference`` for the same computation in plain NumPy.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Union

import numpy as np
import numpy.typing as npt

from ferroprop import _core

# The names the API takes, as types (for annotating code that passes them). Written as
# unions of one-value Literals, the same type as Literal["a", "b"] (PEP 586), because
# mypy's stubtest takes a multi-value Literal alias for a Union that is not one at runtime.
ActivationName = Union[
    Literal["identity"],
    Literal["relu"],
    Literal["leaky_relu"],
    Literal["sigmoid"],
    Literal["tanh"],
    Literal["softmax"],
    Literal["gelu"],
    Literal["silu"],
    Literal["elu"],
    Literal["softplus"],
    Literal["exp"],
]
LossName = Union[
    Literal["binary_cross_entropy"],
    Literal["cross_entropy"],
    Literal["mean_squared_error"],
    Literal["huber"],
    Literal["mean_absolute_error"],
    Literal["poisson"],
]
OptimizerName = Union[Literal["sgd"], Literal["adam"], Literal["adamw"]]
ScheduleName = Union[
    Literal["constant"],
    Literal["invscaling"],
    Literal["adaptive"],
    Literal["cosine"],
    Literal["step"],
    Literal["one_cycle"],
]
MetricName = Union[Literal["loss"], Literal["accuracy"], Literal["r2"]]
DTypeName = Union[Literal["float32"], Literal["float64"]]
#: What ``dtype`` accepts: the two names, or a NumPy dtype (or type) that is one of them.
FloatDTypeLike = Union[
    DTypeName,
    type[np.float32],
    type[np.float64],
    type[float],
    np.dtype[np.float32],
    np.dtype[np.float64],
]
#: Anything NumPy reads as an array (lists, arrays of any numeric dtype, ...).
ArrayLike = npt.ArrayLike
#: The arrays ferroprop returns: float32 or float64, the network's dtype.
FloatArray = npt.NDArray[np.floating[Any]]

ACTIVATIONS: tuple[ActivationName, ...] = (
    "identity",
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "softmax",
    "gelu",
    "silu",
    "elu",
    "softplus",
    "exp",
)
LOSSES: tuple[LossName, ...] = (
    "binary_cross_entropy",
    "cross_entropy",
    "mean_squared_error",
    "huber",
    "mean_absolute_error",
    "poisson",
)
OPTIMIZERS: tuple[OptimizerName, ...] = ("sgd", "adam", "adamw")
SCHEDULES: tuple[ScheduleName, ...] = (
    "constant",
    "invscaling",
    "adaptive",
    "cosine",
    "step",
    "one_cycle",
)
METRICS: tuple[MetricName, ...] = ("loss", "accuracy", "r2")
DTYPES: tuple[DTypeName, ...] = ("float32", "float64")

# The output activation each loss implies, and the loss each output implies (keyed by
# lower-case names, as the core reads them ignoring case; an unknown name finds nothing
# here and is refused by the core).
_OUTPUT_FOR_LOSS: dict[str, ActivationName] = {
    "binary_cross_entropy": "sigmoid",
    "cross_entropy": "softmax",
    "mean_squared_error": "identity",
    "poisson": "exp",
}
_LOSS_FOR_OUTPUT: dict[str, LossName] = {
    "sigmoid": "binary_cross_entropy",
    "logistic": "binary_cross_entropy",
    "softmax": "cross_entropy",
    "exp": "poisson",
}


class FitHistory(TypedDict):
    """What :meth:`Network.fit` records, in ``Network.history_``.

    Attributes
    ----------
    loss : list of float
        The mean training loss of each epoch (penalty included).
    val_loss, val_score : list of float
        Loss and score on the validation data after each epoch (empty without it).
    learning_rate : list of float
        The step size used in each epoch (in its first batch, for ``"one_cycle"``).
    t : int
        Samples seen (rows times epochs).
    best_loss : float
        The lowest training loss.
    best_val_score : float or None
        The highest validation score (``None`` without validation data).
    stopped : {"max_epochs", "no_improvement", "learning_rate", "callback"}
        Why training ended.
    diverged : int or None
        The epoch whose loss became non-finite, for fits that record a divergence and
        train on (the scikit-learn estimators'); ``None`` for ``Network.fit``, which
        raises instead.
    numpy_stream : tuple of (ndarray of uint32, int) or None
        The MT19937 state (key, position) the shuffles left, for fits that shuffle by a
        NumPy ``RandomState``'s stream (the scikit-learn estimators'); ``None`` otherwise.
    """

    loss: list[float]
    val_loss: list[float]
    val_score: list[float]
    learning_rate: list[float]
    t: int
    best_loss: float
    best_val_score: float | None
    stopped: Literal["max_epochs", "no_improvement", "learning_rate", "callback"]
    diverged: int | None
    numpy_stream: tuple[npt.NDArray[np.uint32], int] | None


class _EpochReport(TypedDict):
    """One epoch as the core's ``fit`` reports it to its ``report`` hook: the loss, the
    score and the stopping rule's verdict and state after it (``EpochReport`` and
    ``Progress`` in ``src/train/``). The estimators keep their bookkeeping from it."""

    epoch: int
    loss: float
    judged_loss: float
    val_loss: float | None
    val_score: float | None
    epoch_learning_rate: float
    stop: Literal["no_improvement", "learning_rate"] | None
    divided: bool
    count: int
    best_loss: float
    best_score: float
    samples_seen: int
    learning_rate: float
    epochs: int


@dataclass(frozen=True)
class EpochInfo:
    """One finished epoch of :meth:`Network.fit`, as a one-argument ``callback`` sees it.

    Parameters
    ----------
    epoch : int
        The epoch's number in this fit, from 1.
    loss : float
        Its mean training loss (penalty included), as in ``history_["loss"]``.
    val_loss, val_score : float or None
        Its loss and score (``validation_metric``) on the validation data; ``None``
        without ``validation_data``.
    learning_rate : float
        The step size it used (its first batch's, for ``"one_cycle"``, which steps
        per batch), as ``history_["learning_rate"]`` records it.
    network : Network
        The network being trained, with this epoch's weights: ``predict``, ``loss``,
        ``get_weights`` and ``layers[k].W`` read it; the step API and ``set_weights``
        raise ``RuntimeError`` until ``fit`` returns.
    """

    epoch: int
    loss: float
    val_loss: float | None
    val_score: float | None
    learning_rate: float
    network: Network


# Argument conversion. Python converts and checks types only (TypeError: bools are not
# numbers); every value is checked by the core (ValueError; `src/check.rs` holds the rules
# and their messages), whatever the optimizer and schedule.

_WIDEST = 2**127  # the binding takes integers as i128, and the core checks their ranges


def _int(name: str, value: object) -> int:
    """``value`` as an int for the core, which checks its range."""
    # The usual case first: these checks are part of every fit call's cost.
    if type(value) is int and -_WIDEST <= value < _WIDEST:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    number = int(value)
    if not -_WIDEST <= number < _WIDEST:  # beyond the binding's integers, and every range
        raise ValueError(f"{name} must be less than 2**127 in magnitude, got {number}")
    return number


def _float(name: str, value: object) -> float:
    """``value`` as a float for the core, which checks its range (and that it is finite)."""
    if type(value) is float:  # the usual case first, as in `_int`
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int beyond the floats: infinite, which the core refuses
        return -math.inf if value < 0 else math.inf


def _str(name: str, value: object, choices: Sequence[str]) -> str:
    """``value``, a string for the core, which checks that it is one of ``choices``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(choices)}; got {value!r}")
    return value


def _numeric(name: str, value: object) -> npt.NDArray[Any]:
    """``value`` as a NumPy array of booleans, integers or floats (never a copy we modify)."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise ValueError(f"{name} could not be read as an array: {err}") from None
    if arr.dtype.kind not in "biuf":
        hint = ""
        if name == "y" and arr.dtype.kind in "USO" and arr.size:
            hint = (
                f" (labels such as {arr.flat[0]!r}): Network takes numbers; number the "
                "classes 0..k-1 with `classes, y = numpy.unique(y, return_inverse=True)` (for "
                "cross_entropy with a softmax output, or 0/1 for binary_cross_entropy), or "
                "use ferroprop.sklearn.MLPClassifier, which takes any labels"
            )
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}{hint}")
    return arr


class Layer:
    """A view of layer ``k`` of a :class:`Network`.

    ``W`` (``(n_in, n_out)``) and ``b`` (``(n_out,)``) can be read and assigned. The
    values of the last pass — ``z``, ``a`` from ``forward``; ``dz``, ``dW``, ``db``,
    ``da`` from ``backward`` — are read-only copies (``None`` before the first
    ``forward``); ``da`` is ``dL/da`` for this layer's output ``a``. After a training
    ``forward`` of a network with dropout, ``a`` is the dropped output ``f(z) * mask``
    (what the next layer reads) and ``mask`` the layer's dropout mask.

    Parameters
    ----------
    network : Network
        The network the layer belongs to; the view reads it on every access.
    index : int
        The layer's position, 0 for the first layer after the input.

    Examples
    --------
    >>> from ferroprop import Network
    >>> layer = Network([2, 3, 1], seed=0).layers[0]
    >>> layer
    Layer(0: 2 -> 3, relu)
    >>> layer.W.shape, layer.b.shape, layer.z is None
    ((2, 3), (3,), True)
    """

    def __init__(self, network: Network, index: int) -> None:
        self._network = network
        self.index = index

    def _get(self, name: _core._LayerArray) -> FloatArray | None:
        arr = self._network._core.layer_array(self.index, name)
        if arr is not None:
            arr.flags.writeable = False
        return arr

    def _param(self, name: Literal["W", "b"]) -> FloatArray:
        arr = self._get(name)
        if arr is None:  # the core always has weights
            raise RuntimeError(f"layer {self.index} has no {name}")
        return arr

    def _set(self, name: Literal["W", "b"], value: ArrayLike) -> None:
        weights: list[tuple[ArrayLike, ArrayLike]] = list(self._network.get_weights())
        W, b = weights[self.index]
        weights[self.index] = (value, b) if name == "W" else (W, value)
        self._network.set_weights(weights)

    @property
    def W(self) -> FloatArray:  # noqa: N802 (the tutorial's name)
        """Weights, shape ``(n_in, n_out)``: a read-only copy; assigning sets the network's.

        Assigning goes through :meth:`Network.set_weights`: the shape must match, values
        must be finite, and the optimizer's state is reset.
        """
        return self._param("W")

    @W.setter
    def W(self, value: ArrayLike) -> None:  # noqa: N802
        self._set("W", value)

    @property
    def b(self) -> FloatArray:
        """Biases, shape ``(n_out,)``: a read-only copy; assigning sets the network's."""
        return self._param("b")

    @b.setter
    def b(self, value: ArrayLike) -> None:
        self._set("b", value)

    @property
    def z(self) -> FloatArray | None:
        """``a_prev @ W + b`` of the last forward, shape ``(n_samples, n_out)``."""
        return self._get("z")

    @property
    def a(self) -> FloatArray | None:
        """``f(z)`` of the last forward, shape ``(n_samples, n_out)``.

        After a training ``forward`` with dropout, ``f(z) * mask``: the output the next
        layer reads.
        """
        return self._get("a")

    @property
    def mask(self) -> FloatArray | None:
        """The dropout mask of the last training ``forward``, shape ``(n_samples, n_out)``.

        Values ``0`` (dropped) or ``1 / (1 - p)`` (kept and scaled), in the network's
        dtype; ``None`` if the last ``forward`` dropped nothing in this layer (not training,
        a rate of 0, or the output layer). ``backward`` computes
        ``dz = da * f'(z) * mask``.
        """
        return self._get("mask")

    @property
    def dz(self) -> FloatArray | None:
        """``dL/dz`` of the last backward, shape ``(n_samples, n_out)``."""
        return self._get("dz")

    @property
    def dW(self) -> FloatArray | None:  # noqa: N802 (the tutorial's name)
        """``a_prev.T @ dz`` of the last backward, shape ``(n_in, n_out)``."""
        return self._get("dW")

    @property
    def db(self) -> FloatArray | None:
        """``dz.sum(axis=0)`` of the last backward, shape ``(n_out,)``."""
        return self._get("db")

    @property
    def da(self) -> FloatArray | None:
        """``dL/da`` of the last backward, shape ``(n_samples, n_out)``."""
        return self._get("da")

    def __repr__(self) -> str:
        n_in, n_out = self._network.layer_sizes[self.index : self.index + 2]
        act = self._network.activations[self.index]
        return f"Layer({self.index}: {n_in} -> {n_out}, {act})"


class Network:
    """A multilayer perceptron trained by backpropagation, computed in Rust.

    Parameters
    ----------
    layer_sizes : sequence of int
        Units per layer, input first: ``[n_inputs, hidden..., n_outputs]``.
    activations : sequence of str or str, optional
        One name per layer after the input, from ``"identity"``, ``"relu"``,
        ``"leaky_relu"``, ``"sigmoid"`` (or ``"logistic"``), ``"tanh"``, ``"softmax"``
        (output only), ``"gelu"`` (exact erf form), ``"silu"``, ``"elu"`` (alpha 1),
        ``"softplus"`` (beta 1, threshold 20) and ``"exp"``, in any case. A single name
        applies to every hidden layer and the output follows the loss. By default hidden
        layers are ``"relu"``.
    loss : str, optional
        ``"binary_cross_entropy"`` (sigmoid output), ``"cross_entropy"`` (softmax output),
        ``"mean_squared_error"``, ``"huber"`` (delta 1), ``"mean_absolute_error"`` or
        ``"poisson"`` (half the Poisson deviance, exp output, targets >= 0), in any case:
        each the mean over the batch. By default it follows the output activation
        (sigmoid → binary cross-entropy, softmax → cross-entropy, exp → poisson,
        otherwise MSE).
    dtype : {"float64", "float32"} or numpy dtype, default "float64"
        The dtype of the weights and of every computation (``np.float32`` and
        ``np.dtype("float32")`` are accepted too).
    seed : int, optional
        Seed of the initialisation (He for relu/leaky_relu layers, Glorot otherwise,
        biases 0.1 in relu and leaky_relu layers, 0 elsewhere), in ``[0, 2**64)``. The
        same seed gives the same network, bit for bit; by default a random one.
    dropout : float or sequence of float, default 0.0
        Inverted dropout's rate ``p`` in ``[0, 1)``, for every hidden layer or one per
        hidden layer. In :meth:`fit` (and ``forward(X, training=True)``) each output of a
        hidden layer is kept with probability ``1 - p`` and scaled by ``1 / (1 - p)``, or
        set to 0; :meth:`predict`, :meth:`loss` and ``forward`` without ``training`` never
        drop. The masks are drawn from ``fit``'s ``seed``: the same seed drops the same
        units, whatever the number of threads. Never on the input or the output layer.

    Attributes
    ----------
    history_ : dict
        What the last :meth:`fit` recorded (see :class:`FitHistory`); set by ``fit``.

    Raises
    ------
    TypeError
        If an argument has the wrong type (``layer_sizes`` not a sequence of integers, a
        name not a string, ``seed`` not an integer).
    ValueError
        If ``layer_sizes`` has fewer than 2 entries or a size below 1, a name is unknown,
        the number of activations is not ``len(layer_sizes) - 1``, ``softmax`` is not
        on the output layer, the loss does not fit the output activation
        (``binary_cross_entropy`` needs sigmoid, ``cross_entropy`` softmax, ``poisson``
        exp), or a dropout rate is outside ``[0, 1)`` or ``dropout`` is a list whose
        length is not the number of hidden layers.

    Examples
    --------
    >>> import numpy as np
    >>> from ferroprop import Network
    >>> net = Network([2, 4, 3, 1], activations=["relu", "relu", "sigmoid"],
    ...               loss="binary_cross_entropy", seed=0)
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0]]); y = np.array([1.0, 0.0])
    >>> yhat = net.forward(X)
    >>> net.backward(y)
    >>> net.layers[0].dW.shape
    (2, 4)
    >>> net.update(0.1)
    """

    history_: FitHistory

    def __init__(
        self,
        layer_sizes: Sequence[int] | npt.NDArray[np.integer[Any]],
        activations: Sequence[ActivationName] | ActivationName | None = None,
        loss: LossName | None = None,
        dtype: FloatDTypeLike = "float64",
        seed: int | None = None,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
            if not isinstance(layer_sizes, np.ndarray):
                raise TypeError(f"layer_sizes must be a sequence of ints, got {layer_sizes!r}")
        # Converted here: the types (TypeError), and the defaults of activations and loss.
        # The core checks every value: sizes, names, their agreement, seed in [0, 2**64).
        sizes = [_int(f"layer_sizes[{i}]", n) for i, n in enumerate(layer_sizes)]
        loss_name = None if loss is None else _str("loss", loss, LOSSES)
        names: list[str]
        if activations is None or isinstance(activations, str):
            hidden: str = "relu" if activations is None else activations
            output = _OUTPUT_FOR_LOSS.get((loss_name or "mean_squared_error").lower(), "identity")
            names = [hidden] * (len(sizes) - 2) + [output]
        elif isinstance(activations, (Sequence, np.ndarray)):
            names = [_str("activations", a, ACTIVATIONS) for a in activations]
        else:
            raise TypeError(
                f"activations must be a string or a sequence of strings, got {activations!r}"
            )
        if loss_name is None:  # the output's (no activations at all: the core refuses that)
            loss_name = _LOSS_FOR_OUTPUT.get(
                names[-1].lower() if names else "identity", "mean_squared_error"
            )
        dtype_name = _str("dtype", np.dtype(dtype).name if _is_dtype(dtype) else dtype, DTYPES)
        seed = _int("seed", secrets.randbits(63) if seed is None else seed)
        rates = _rates(dropout)
        self._core = _core.CoreNetwork(sizes, names, loss_name, dtype_name, seed, rates)

    # -- description -------------------------------------------------------------

    @property
    def layer_sizes(self) -> list[int]:
        """Units per layer, input first."""
        return list(self._core.layer_sizes)

    @property
    def activations(self) -> list[ActivationName]:
        """Activation name of each layer after the input."""
        return list(self._core.activations)

    @property
    def loss_name(self) -> LossName:
        """The loss function's name."""
        return self._core.loss_name

    @property
    def dtype(self) -> np.dtype[np.floating[Any]]:
        """The dtype of the weights and computations, ``float32`` or ``float64``."""
        return np.dtype(self._core.dtype)

    @property
    def dropout(self) -> list[float]:
        """Dropout's rate of each hidden layer (0.0 where it drops nothing)."""
        return list(self._core.dropout)

    @property
    def layers(self) -> list[Layer]:
        """The layers after the input, each exposing ``W, b, z, a, dz, dW, db, da, mask``."""
        return [Layer(self, k) for k in range(len(self.layer_sizes) - 1)]

    def __repr__(self) -> str:
        rates = self.dropout
        shown = rates[0] if len(set(rates)) == 1 else rates
        dropout = f", dropout={shown!r}" if any(rates) else ""
        return (
            f"Network({self.layer_sizes}, activations={self.activations}, "
            f"loss={self.loss_name!r}, dtype={self.dtype.name!r}{dropout})"
        )

    # -- input conversion -----------------------------------------------------------
    # Checked here, while converting: the types and dimensions of X, y and sample_weight
    # (arrays of numbers; X 2-D; y 2-D, or 1-D for one output or for cross_entropy's class
    # labels; sample_weight 1-D), and the values a conversion would change: values that
    # overflow when narrowed to the network's dtype, 1-D cross_entropy labels that are not
    # integers in [0, n_outputs), sample weights whose ratios the dtype cannot hold (a
    # positive weight that would become 0) and an overflowing alpha / sum(weights). Checked
    # in the core, on every use: X not empty, with n_inputs columns, finite; y with X's rows
    # and n_outputs columns, finite, in [0, 1] for the cross-entropies and in rows summing
    # to 1 for cross_entropy, or one label per row in [0, n_outputs); sample_weight one per
    # row, finite, non-negative, not all zero.

    def _x(self, X: ArrayLike) -> FloatArray:
        arr = _numeric("X", X)
        if arr.ndim != 2:
            hint = " (use X.reshape(1, -1) for a single sample)" if arr.ndim == 1 else ""
            raise ValueError(
                f"X must be 2-D (n_samples, n_features), got {arr.ndim}-D shape {arr.shape}{hint}"
            )
        return self._cast("X", arr)

    def _cast(self, name: str, arr: npt.NDArray[Any]) -> FloatArray:
        """``arr`` as a C-contiguous array of the network's dtype (copied only if needed)."""
        dtype = self.dtype
        if arr.dtype == dtype:
            return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
        if arr.dtype.kind != "f" or arr.dtype.itemsize <= dtype.itemsize:
            return np.ascontiguousarray(arr, dtype=dtype)
        with np.errstate(over="ignore"):  # narrowing: say so if values overflow
            out = np.ascontiguousarray(arr, dtype=dtype)
        if not np.isfinite(out).all() and np.isfinite(arr).all():
            raise ValueError(f"{name} has values beyond the range of {dtype.name}")
        return out

    def _y(self, y: ArrayLike) -> FloatArray | npt.NDArray[np.int64]:
        arr = _numeric("y", y)
        n_out = self.layer_sizes[-1]
        if arr.ndim == 1 and self.loss_name == "cross_entropy":
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
                bad = arr[~(np.isfinite(arr) & (arr == np.round(arr)))][0]
                raise ValueError(
                    f"y must hold integer class labels (1-D cross_entropy targets), got {bad}"
                )
            # Checked here too, before the conversion to int64 could wrap a label around.
            if arr.size and (arr.min() < 0 or arr.max() >= n_out):
                hint = (
                    "labels count from 0 (subtract 1, or number the classes with "
                    "numpy.unique(y, return_inverse=True))"
                    if arr.min() == 1 and arr.max() == n_out
                    else "out of range"
                )
                raise ValueError(
                    f"y must hold class labels in [0, {n_out}) (the output layer has {n_out} "
                    f"units), got labels in [{arr.min()}, {arr.max()}]: {hint}"
                )
            return np.ascontiguousarray(arr, dtype=np.int64)
        if arr.ndim == 1:
            if n_out != 1:
                raise ValueError(
                    f"y must be 2-D (n_samples, {n_out}) for a network with {n_out} outputs, "
                    f"got 1-D shape {arr.shape}"
                )
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise ValueError(f"y must be 1-D or 2-D, got {arr.ndim}-D shape {arr.shape}")
        return self._cast("y", arr)

    def _weights(self, sample_weight: ArrayLike, alpha: float) -> tuple[FloatArray, float]:
        """``sample_weight`` in the network's dtype, and ``alpha`` with it.

        Only the weights' ratios and ``alpha / sum(w)`` matter, so both are divided by the
        largest weight's power of two (exactly): weights of any finite size then fit the
        dtype, and their sums cannot overflow. Weights the core refuses pass unchanged;
        weights whose ratios the dtype cannot hold (a positive one would count as 0) are
        refused here. An ``alpha`` the core refuses (negative, not finite) passes unchanged
        too, so that its message shows the value given.
        """
        given = _numeric("sample_weight", sample_weight)
        if given.ndim != 1:
            raise ValueError(f"sample_weight must be 1-D, got {given.ndim}-D shape {given.shape}")
        arr = given
        scalable = np.isfinite(alpha) and alpha >= 0
        if (
            scalable
            and arr.dtype.kind == "f"
            and arr.size
            and np.all(np.isfinite(arr) & (arr >= 0))
        ):
            top = float(arr.max())
            if 0 < top < np.inf:
                shift = 1 - int(np.frexp(top)[1])  # top · 2**shift lies in [1, 2)
                with np.errstate(under="ignore"):
                    arr = np.ldexp(arr.astype(np.float64), shift)
                with np.errstate(over="ignore"):
                    scaled = float(np.ldexp(alpha, shift))
                if not np.isfinite(scaled):
                    raise ValueError(
                        f"alpha / sum(sample_weight) overflows (alpha={alpha}, largest weight "
                        f"{top}): the sample weights are too small for this alpha; scale them up"
                    )
                alpha = scaled
        with np.errstate(under="ignore"):
            weights = self._cast("sample_weight", arr)
        lost = (weights == 0) & (given != 0)
        if np.any(lost):
            raise ValueError(
                f"sample_weight: weights from {given[given > 0].min()} to {given.max()} span "
                f"more than {self.dtype.name} holds: weight {given[lost][0]} would count as 0"
            )
        return weights, alpha

    # -- the step API ---------------------------------------------------------------

    def forward(
        self, X: ArrayLike, *, training: bool = False, seed: int | None = None
    ) -> FloatArray:
        """Forward pass of a batch; keeps ``z`` and ``a`` of every layer for ``backward``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            The batch, one sample per row; converted to the network's dtype.
        training : bool, default False
            Apply dropout (see ``Network(dropout=...)``): each hidden layer with a
            nonzero rate drops units by a mask drawn from ``seed``, shown as
            ``layers[k].mask``; its ``a`` is then the dropped output and ``backward``
            follows the same mask. Without dropout rates, training changes nothing.
        seed : int, optional
            Seed of the masks (``training`` only), in ``[0, 2**64)``: row ``i`` gets the
            mask of sample ``i`` of the first batch of ``fit(..., seed=seed)``. By
            default a random one.

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
            The output ``a`` of the last layer.

        Raises
        ------
        TypeError
            If ``X`` does not hold real numbers.
        ValueError
            If ``X`` is not 2-D, has no rows, the wrong number of columns or a non-finite
            value, or if the output is not finite (a layer overflowed); if ``seed`` is
            given without ``training``.
        """
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError(f"training must be a bool, got {type(training).__name__}")
        if not training:
            if seed is not None:
                raise ValueError("seed draws dropout masks: it needs training=True")
            return self._core.forward(self._x(X))
        seed = _int("seed", secrets.randbits(63) if seed is None else seed)
        return self._core.forward(self._x(X), seed)

    def backward(self, y: ArrayLike) -> None:
        """Compute the gradients of the mean loss of the last ``forward`` against ``y``.

        Fills ``dz``, ``dW``, ``db`` and ``da`` of every layer.

        Parameters
        ----------
        y : array-like of shape (n_samples, n_outputs) or (n_samples,)
            Targets of the batch of the last ``forward``; 1-D for a single output or,
            with ``cross_entropy``, integer class labels in ``[0, n_outputs)``.
            Cross-entropy targets are otherwise one-hot or probability rows; binary
            cross-entropy targets lie in ``[0, 1]``.

        Raises
        ------
        ValueError
            If there was no ``forward`` since the last ``update`` (or ``set_weights``),
            or if ``y`` does not match the batch, is not finite or is out of range.
        """
        self._core.backward(self._y(y))

    def update(self, learning_rate: float) -> None:
        """Gradient-descent step ``W -= learning_rate * dW``, ``b -= learning_rate * db``.

        Parameters
        ----------
        learning_rate : float
            The step size, positive and finite.

        Raises
        ------
        ValueError
            If ``learning_rate`` is not positive and finite, if there are no gradients
            (call ``forward`` and ``backward`` first; each ``update`` needs new ones), or
            if the step would make a weight non-finite (the weights are then unchanged).
        """
        self._core.update(_float("learning_rate", learning_rate))

    def predict(self, X: ArrayLike) -> FloatArray:
        """The network's output for ``X``; the values of the last step are left alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            The inputs, one sample per row.

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
            The output of the last layer, in the network's dtype.

        Raises
        ------
        ValueError
            As :meth:`forward`.
        """
        return self._core.predict(self._x(X))

    def loss(self, X: ArrayLike, y: ArrayLike) -> float:
        """The mean loss of ``X`` against ``y`` (leaves the last step's values alone).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            The inputs.
        y : array-like
            The targets, as for :meth:`backward`.

        Returns
        -------
        float
            The loss, averaged as the network's loss function averages (see the README).

        Raises
        ------
        ValueError
            For invalid ``X`` or ``y`` (as :meth:`forward` and :meth:`backward`), or if
            the loss overflows.
        """
        return self._core.loss(self._x(X), self._y(y))

    def gradient_check(
        self,
        X: ArrayLike,
        y: ArrayLike,
        eps: float | None = None,
        masks: Sequence[ArrayLike | None] | None = None,
    ) -> float:
        """The largest relative error of the gradient against finite differences.

        Over every weight and bias, ``rel = |g - g_fd| / max(|g|, |g_fd|, floor)``, where
        ``g`` is the backpropagated gradient, computed in the network's dtype, and
        ``g_fd = (L(w + eps) - L(w - eps)) / (2 eps)`` the central finite difference on a
        float64 copy of the network. ``floor`` (1.2e-4 for float64 networks, 3.5e-4 for
        float32) keeps gradients too small to resolve from counting as large relative
        errors. Expect below ~1e-6 for float64 and a few 1e-4 for float32, away from ReLU
        kinks (an input to a ReLU within ``eps`` of 0). The step API's values are left
        alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            The inputs.
        y : array-like
            The targets, as for :meth:`backward`.
        eps : float, optional
            The finite-difference step, positive; by default ``2.2e-16 ** (1/3)`` (6e-6),
            which makes the difference accurate to about 1e-10.
        masks : sequence of array-like or None, optional
            Fixed dropout masks: one entry per hidden layer, each ``None`` or an array of
            shape ``(n_samples, n_out)`` that multiplies the layer's output ``f(z)`` in
            the backpropagated gradient and in every finite difference (the last training
            pass's: ``[layer.mask for layer in net.layers[:-1]]``). By default none.

        Returns
        -------
        float
            The largest relative error.

        Raises
        ------
        TypeError
            If ``masks`` is not a sequence of arrays or ``None``.
        ValueError
            For invalid ``X``, ``y`` or ``eps``, or masks not one per hidden layer, of
            the wrong shape or not finite.

        Examples
        --------
        >>> import numpy as np
        >>> from ferroprop import Network
        >>> net = Network([3, 8, 2], ["tanh", "sigmoid"], dropout=0.5, seed=0)
        >>> X = np.random.default_rng(0).normal(size=(6, 3)); y = np.eye(2)[[0, 1] * 3]
        >>> _ = net.forward(X, training=True, seed=1)
        >>> bool(net.gradient_check(X, y, masks=[net.layers[0].mask]) < 1e-6)
        True
        """
        if eps is not None:
            eps = _float("eps", eps)
        if masks is None:
            return self._core.gradient_check(self._x(X), self._y(y), eps)
        if isinstance(masks, (str, bytes)) or not isinstance(masks, (Sequence, np.ndarray)):
            raise TypeError(f"masks must be a sequence of arrays or None, got {masks!r}")
        arrays: list[FloatArray | None] = []
        for k, m in enumerate(masks):
            if m is None:
                arrays.append(None)
                continue
            arr = _numeric(f"masks[{k}]", m)
            if arr.ndim != 2:
                raise ValueError(f"masks[{k}] must be 2-D, got {arr.ndim}-D shape {arr.shape}")
            arrays.append(self._cast(f"masks[{k}]", arr))
        return self._core.gradient_check(self._x(X), self._y(y), eps, arrays)

    def loss_and_gradient(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        alpha: float = 0.0,
    ) -> tuple[float, float, list[tuple[FloatArray, FloatArray]]]:
        """The full-batch objective and its gradient, in one Rust call.

        What a quasi-Newton optimizer such as L-BFGS asks for. The step API's values are
        left alone.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            The inputs.
        y : array-like
            The targets, as for :meth:`backward`.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the rows, not all zero: the loss is their weighted mean.
        alpha : float, default 0.0
            The L2 penalty's strength, non-negative.

        Returns
        -------
        data_loss : float
            The (``sample_weight``-weighted) mean loss of ``X`` against ``y``.
        penalty : float
            The L2 penalty ``alpha / 2 * sum(W**2) / sum(w)`` (``sum(w)`` the total sample
            weight, ``n_samples`` without weights); biases are not penalized.
        gradients : list of (ndarray, ndarray)
            ``(dW, db)`` of ``data_loss + penalty`` for every layer.

        Raises
        ------
        ValueError
            For invalid ``X``, ``y`` or ``sample_weight``, a negative ``alpha``, or a
            non-finite output.
        """
        alpha = _float("alpha", alpha)
        weights = None
        if sample_weight is not None:
            weights, alpha = self._weights(sample_weight, alpha)
        data_loss, penalty, grads = self._core.loss_and_gradient(
            self._x(X), self._y(y), weights, alpha
        )
        return data_loss, penalty, [(dW, db) for dW, db in grads]

    # -- weights ------------------------------------------------------------------

    def get_weights(self) -> list[tuple[FloatArray, FloatArray]]:
        """Return copies of the weights and biases.

        Returns
        -------
        list of (ndarray, ndarray)
            ``[(W, b), ...]``, one pair per layer: ``W`` of shape ``(n_in, n_out)`` and
            ``b`` of shape ``(n_out,)``, writable copies in the network's dtype.
        """
        return [(W, b) for W, b in self._core.get_weights()]

    def set_weights(
        self, weights: Sequence[tuple[ArrayLike, ArrayLike]] | Sequence[Sequence[ArrayLike]]
    ) -> None:
        """Replace every ``(W, b)``; the arrays are copied.

        New weights start a new trajectory: the optimizer's state is reset (as by
        :meth:`reset_optimizer`), and ``backward`` needs a new ``forward``.

        Parameters
        ----------
        weights : sequence of (W, b) pairs
            One pair per layer, ``W`` of shape ``(n_in, n_out)`` and ``b`` of shape
            ``(n_out,)``; converted to the network's dtype.

        Raises
        ------
        TypeError
            If ``weights`` is not a sequence of pairs or an array does not hold numbers.
        ValueError
            If the number of pairs, a shape or a value (NaN, infinity, beyond the dtype's
            range) is wrong; the network is then left unchanged.
        """
        if isinstance(weights, (str, bytes)) or not isinstance(weights, (Sequence, np.ndarray)):
            raise TypeError(f"weights must be a list of (W, b) pairs, got {type(weights).__name__}")
        pairs = []
        for k, pair in enumerate(weights):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"weights[{k}] must be a (W, b) pair, got {type(pair).__name__}")
            W, b = (
                _numeric(f"weights[{k}][0] (W)", pair[0]),
                _numeric(f"weights[{k}][1] (b)", pair[1]),
            )
            if W.ndim != 2 or b.ndim != 1:
                raise ValueError(
                    f"weights[{k}]: W must be 2-D and b 1-D, got shapes {W.shape} and {b.shape}"
                )
            pairs.append((self._cast(f"weights[{k}] W", W), self._cast(f"weights[{k}] b", b)))
        self._core.set_weights(pairs)

    # -- training -------------------------------------------------------------------

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        epochs: int = 100,
        learning_rate: float | Callable[[int], float] = 0.01,
        batch_size: int | None = None,
        shuffle: bool = True,
        optimizer: OptimizerName = "sgd",
        seed: int | None = None,
        *,
        momentum: float = 0.0,
        nesterov: bool = False,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        alpha: float = 0.0,
        sample_weight: ArrayLike | None = None,
        schedule: ScheduleName = "constant",
        power_t: float = 0.5,
        weight_decay: float = 0.0,
        warmup: int = 0,
        t_max: int | None = None,
        step_size: int | None = None,
        gamma: float = 0.1,
        validation_data: tuple[ArrayLike, ArrayLike] | None = None,
        validation_metric: MetricName | Callable[[Any, Any], float] = "loss",
        n_iter_no_change: int | None = None,
        tol: float = 1e-4,
        early_stopping: bool = False,
        callback: Callable[[int, float], object] | Callable[[EpochInfo], object] | None = None,
        progress: bool = False,
    ) -> list[float]:
        """Train by minibatch gradient descent; the whole loop runs in Rust.

        The weights after each epoch are published to the network (with no ``callback``,
        at most every 50 ms, and at the end): a ``predict`` from another thread, or from
        ``callback``, sees those of a whole epoch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            The training inputs.
        y : array-like
            Targets, as for :meth:`backward`.
        epochs : int, default 100
            Passes over the data, at least 1.
        learning_rate : float or callable, default 0.01
            Step size, positive; or a function ``learning_rate(epoch)`` of the epoch
            (0-based) giving its step size, a finite non-negative number, called once
            before each epoch (on the calling thread; an exception it raises ends training
            and propagates). A callable is the schedule: ``schedule`` must then be
            ``"constant"`` and ``warmup`` 0.
        batch_size : int, optional
            Rows per minibatch; ``None`` (default) is the full batch.
        shuffle : bool, default True
            Shuffle the rows at the start of every epoch (minibatches only).
        optimizer : {"sgd", "adam", "adamw"}, default "sgd"
            ``"sgd"`` with optional ``momentum``/``nesterov`` and ``weight_decay``;
            ``"adam"`` (scikit-learn's Adam) with ``beta_1``, ``beta_2``, ``epsilon``; or
            ``"adamw"``, PyTorch's ``torch.optim.AdamW`` with the same three and
            ``weight_decay``. The two differ in where ``epsilon`` enters: Adam adds it to
            ``sqrt(s)``, AdamW (as PyTorch's Adam) to ``sqrt(s / (1 - beta_2**t))``, so
            Adam is AdamW without decay with an ``epsilon`` ``1 / sqrt(1 - beta_2**t)``
            times larger (about 32 times at the first step). The optimizer's state is
            kept: a later ``fit`` with the same optimizer settings continues from it.
        seed : int, optional
            Seed of the shuffling and of the dropout masks (see ``Network(dropout=...)``:
            sample ``s`` of the fit, counted across epochs, gets the mask of row ``s``),
            in ``[0, 2**64)``; by default a random one.
        momentum : float, default 0.0
            SGD's momentum, in ``[0, 1)``, scikit-learn's: ``v = momentum * v - lr * g``,
            ``W += v``. Under a constant step size these are PyTorch's steps; under a
            schedule they are not (PyTorch's velocity sums gradients, and each step scales
            it by the current step size).
        nesterov : bool, default False
            Nesterov's momentum instead of the classical one (SGD).
        beta_1, beta_2 : float, default 0.9 and 0.999
            Adam's decay rates of the first and second moments, in ``[0, 1)``.
        epsilon : float, default 1e-8
            Adam's denominator offset, positive.
        alpha : float, default 0.0
            L2 penalty: each batch's loss gains ``alpha / 2 * sum(W**2) / sum(w)``, with
            ``sum(w)`` the batch's total sample weight (its size without weights);
            biases are not penalized.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights: each batch's loss is the weighted mean of its rows'
            losses (a weight of 2 counts a row twice). A batch of zero weights is skipped.
        schedule : {"constant", "invscaling", "adaptive", "cosine", "step", "one_cycle"}, \
default "constant"
            How the step size evolves, for every optimizer. scikit-learn's:
            ``invscaling`` uses ``learning_rate / (t + 1) ** power_t`` after each epoch
            (``t`` the samples seen); ``adaptive`` divides it by 5 whenever
            ``n_iter_no_change`` epochs pass without improvement, and stops once it is at
            most 1e-6. PyTorch's, with ``e`` the epoch (0-based, counted from the end of
            the warm-up) and ``T`` = ``t_max``: ``cosine`` is ``CosineAnnealingLR``
            (to 0), ``learning_rate * (1 + cos(pi * e / T)) / 2`` for each epoch (past
            ``T``, the same formula: it rises again); ``step`` is ``StepLR``,
            ``learning_rate * gamma ** (e // step_size)``; ``one_cycle`` is
            ``OneCycleLR`` with ``max_lr=learning_rate`` and its defaults
            (``pct_start=0.3``, ``div_factor=25``, ``final_div_factor=1e4``, cosine
            annealing, two phases) over ``T`` times the batches of an epoch, stepped by
            batch, without cycling the momentum (``cycle_momentum=False``); past its last
            step it keeps the last step size.
        power_t : float, default 0.5
            The exponent of ``invscaling``, non-negative.
        weight_decay : float, default 0.0
            Weight decay of ``"sgd"`` (PyTorch's ``SGD(weight_decay=...)``: the gradient
            of each weight gains ``weight_decay * W`` before the momentum) and of
            ``"adamw"`` (decoupled: each step first multiplies the weights by
            ``1 - learning_rate * weight_decay``). Only the weights ``W`` are decayed,
            never the biases (as ``alpha``'s penalty). Non-negative; 0 (the default,
            PyTorch's AdamW defaults to 0.01) with ``"adam"``.
        warmup : int, default 0
            Epochs of linear warm-up in front of the schedule: epoch ``e < warmup`` steps
            by ``(e + 1) / (warmup + 1)`` times the schedule's first step size (PyTorch's
            ``LinearLR(start_factor=1 / (warmup + 1), total_iters=warmup)`` followed by the
            schedule in a ``SequentialLR``), and the schedule starts after it. scikit-learn's
            schedules keep following the samples seen and the no-improvement rule from the
            first epoch: the warm-up scales their step size.
        t_max : int, optional
            The length in epochs of ``cosine`` (PyTorch's ``T_max``) and of ``one_cycle``;
            by default from the end of the warm-up to the last of ``epochs``.
        step_size : int, optional
            ``step``'s period in epochs (required with it), at least 1.
        gamma : float, default 0.1
            ``step``'s factor, positive.
        validation_data : (X_val, y_val), optional
            Scored after every epoch (``history_["val_loss"]``, ``["val_score"]``).
        validation_metric : {"loss", "accuracy", "r2"} or callable, default "loss"
            The validation score, higher is better: ``-loss``, accuracy (argmax for
            softmax, ``> 0.5`` per output otherwise), R² averaged over outputs, or
            ``validation_metric(y_true, y_pred) -> float`` called after each epoch with
            ``y_val`` as the network takes it (a 2-D float array, or 1-D integer labels
            for ``cross_entropy``) and the network's predictions (2-D). If a prediction
            is not finite, the score is NaN without a call; a NaN score resets the
            no-improvement count, as in scikit-learn's rule.
        n_iter_no_change : int, optional
            Stop after more than this many epochs in a row without an improvement of at
            least ``tol`` (of the training loss, or with ``early_stopping`` of the
            validation score), as scikit-learn's MLPs do. ``None`` (default) is 10 with
            ``early_stopping``, and otherwise never stops early.
        tol : float, default 1e-4
            The improvement that counts, non-negative.
        early_stopping : bool, default False
            Judge improvement by the validation score, stop after ``n_iter_no_change``
            epochs without one, and restore, at the end, the weights of the best score.
            Needs ``validation_data``.
        callback : callable, optional
            Called after each epoch, either as ``callback(info)`` with an
            :class:`EpochInfo` (epoch, loss, validation loss and score, learning rate, the
            network), when it takes one positional argument, or as
            ``callback(epoch, loss)`` (epochs count from 1). A true return value stops
            training. An exception it raises ends training and propagates.
        progress : bool, default False
            Show a progress bar (tqdm, an optional dependency) with the epoch's loss.

        Returns
        -------
        list of float
            The mean training loss of each epoch (each batch's loss taken in its forward
            pass, before its update). ``history_`` holds more (see :class:`FitHistory`):
            ``loss``, ``val_loss``, ``val_score``, ``learning_rate`` (per epoch), ``t``
            (samples seen), ``best_loss``, ``best_val_score`` and ``stopped`` (why
            training ended: ``"max_epochs"``, ``"no_improvement"``, ``"learning_rate"``
            or ``"callback"``).

        Raises
        ------
        TypeError
            If an argument has the wrong type (``callback`` not callable,
            ``validation_data`` not a pair, a bool for a number, a callable
            ``learning_rate`` that returns something other than a real number, ...).
        ValueError
            For invalid data or settings: a setting out of its range, whatever the
            optimizer and schedule (``momentum=1.5`` with Adam, a negative ``power_t``
            without ``"invscaling"``, as scikit-learn checks them), an unknown name,
            ``weight_decay`` with ``"adam"``, ``schedule="step"`` without ``step_size``,
            ``early_stopping`` without ``validation_data``, a callable ``learning_rate``
            that returns a negative or non-finite value, ...; or if the loss becomes
            non-finite (the weights of the start of that epoch are then restored).
        RuntimeError
            If another ``fit`` is running on this network (from another thread or from
            ``callback``).
        ImportError
            If ``progress=True`` and tqdm is not installed.
        KeyboardInterrupt
            On Ctrl-C, between two batches; the weights are those of the last step.

        Examples
        --------
        >>> import numpy as np
        >>> from ferroprop import Network
        >>> X = np.random.default_rng(0).normal(size=(64, 2)); y = X[:, 0] > 0
        >>> net = Network([2, 8, 1], ["relu", "sigmoid"], seed=0)
        >>> losses = net.fit(X, y, epochs=20, learning_rate=0.5, batch_size=16, seed=0)
        >>> len(losses), net.history_["stopped"]
        (20, 'max_epochs')
        """
        # Converted here: every scalar to an int, float or str, but a callable learning_rate
        # (TypeError for another type; bools are not numbers), shuffle, nesterov,
        # early_stopping and progress to truth values; callback must be callable,
        # validation_data a pair, converted as X and y are. Every value is checked by the
        # core, whatever the optimizer and schedule (`fit::config` in the binding, with
        # `FitConfig::validate` and the rules of `src/check.rs`): epochs, batch_size,
        # n_iter_no_change, t_max and step_size at least 1, warmup at least 0, seed in
        # [0, 2**64), learning_rate, epsilon and gamma positive, alpha, tol, power_t and
        # weight_decay non-negative, momentum, beta_1 and beta_2 in [0, 1), every float
        # finite, each name one of its choices; weight_decay with "adam", "step" without
        # step_size, a callable learning_rate with a schedule or a warm-up, early_stopping
        # without validation_data, and (at the first validation score) validation_metric="r2"
        # with class labels.
        epochs = _int("epochs", epochs)
        rate = learning_rate if callable(learning_rate) else _float("learning_rate", learning_rate)
        if batch_size is not None:
            batch_size = _int("batch_size", batch_size)
        optimizer_name = _str("optimizer", optimizer, OPTIMIZERS)
        seed = _int("seed", secrets.randbits(63) if seed is None else seed)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        record = callback is not None and _takes_record(callback)
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (X_val, y_val)")
            validation = (self._x(validation_data[0]), self._y(validation_data[1]))
        if n_iter_no_change is not None:
            n_iter_no_change = _int("n_iter_no_change", n_iter_no_change)
        elif early_stopping:
            n_iter_no_change = 10
        X_arr, y_arr = self._x(X), self._y(y)
        momentum = _float("momentum", momentum)
        beta_1 = _float("beta_1", beta_1)
        beta_2 = _float("beta_2", beta_2)
        epsilon = _float("epsilon", epsilon)
        alpha = _float("alpha", alpha)
        weights = None
        if sample_weight is not None:
            weights, alpha = self._weights(sample_weight, alpha)
        schedule_name = _str("schedule", schedule, SCHEDULES)
        power_t = _float("power_t", power_t)
        torch_schedule = self._torch_settings(weight_decay, warmup, t_max, step_size, gamma)
        metric: str | Callable[[Any, Any], object] = (
            validation_metric
            if callable(validation_metric)
            else _str("validation_metric", validation_metric, METRICS)
        )
        tol = _float("tol", tol)
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                raise ImportError("progress=True needs tqdm: pip install tqdm") from None
            bar = tqdm(total=epochs, unit="epoch", desc="fit")
        hook = (
            None if callback is None and bar is None else _epoch_hook(self, callback, record, bar)
        )
        try:
            history = self._core.fit(
                X_arr,
                y_arr,
                epochs=epochs,
                learning_rate=rate,
                batch_size=batch_size,
                shuffle=bool(shuffle),
                seed=seed,
                optimizer=optimizer_name,
                momentum=momentum,
                nesterov=bool(nesterov),
                beta_1=beta_1,
                beta_2=beta_2,
                epsilon=epsilon,
                alpha=alpha,
                sample_weight=weights,
                schedule=schedule_name,
                power_t=power_t,
                **torch_schedule,
                validation_data=validation,
                validation_metric=metric,
                n_iter_no_change=n_iter_no_change,
                tol=tol,
                early_stopping=bool(early_stopping),
                report=hook,
            )
        finally:
            if bar is not None:
                bar.close()
        self.history_ = history
        return list(history["loss"])

    @staticmethod
    def _torch_settings(
        weight_decay: object, warmup: object, t_max: object, step_size: object, gamma: object
    ) -> dict[str, Any]:
        """The core's keywords of PyTorch's weight decay and schedules, types checked."""
        return {
            "weight_decay": _float("weight_decay", weight_decay),
            "warmup": _int("warmup", warmup),
            "t_max": None if t_max is None else _int("t_max", t_max),
            "step_size": None if step_size is None else _int("step_size", step_size),
            "gamma": _float("gamma", gamma),
        }

    def reset_optimizer(self) -> None:
        """Forget the optimizer's state (momentum, Adam's moments and step count).

        ``fit`` keeps that state between calls with the same optimizer settings, so that
        training can continue where it stopped; ``set_weights`` and this method reset it.
        """
        self._core.reset_optimizer()

    # -- persistence, pickling and copying ----------------------------------------------

    def save(self, path: str | os.PathLike[str], *, optimizer_state: bool = False) -> None:
        """Save to ``path`` in the safetensors format, atomically.

        The file holds ``layers.{k}.weight`` (``W.T``, shape ``(n_out, n_in)``, the layout
        of PyTorch's ``nn.Linear``) and ``layers.{k}.bias`` for each layer, and the
        architecture, dtype and loss in its metadata. With ``optimizer_state=True`` it also
        holds the optimizer's state (its settings, step count, velocities or moments, as
        the tensors ``optimizer.first`` and ``optimizer.second``), so that a later ``fit``
        of the loaded network continues exactly where this one stopped.

        The bytes go to a new file in the target's folder, which gets the replaced file's
        mode (and owner, where the system allows it; a new file gets the mode the umask
        gives), is synced to disk and renamed over the target, and then the folder is
        synced: a failed save leaves any previous file intact. A symbolic link is followed:
        the file it points to is replaced and the link stays a link (a dangling link gets
        its target created). A folder, FIFO, device or socket at ``path`` is refused.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists).
        optimizer_state : bool, default False
            Also store the optimizer's state, if there is one (a file that PyTorch's
            ``load_state_dict`` then sees extra tensors in).

        Raises
        ------
        TypeError
            If ``path`` is not a str or os.PathLike (bytes paths are refused).
        ValueError
            If ``path`` does not name a file (it is empty, ends in a separator, ``.`` or
            ``..``), or if the network is too deep for the format's 1 MiB header.
        OSError
            If writing fails: ``FileNotFoundError`` for a missing folder,
            ``PermissionError``, ``IsADirectoryError`` for a folder, ... as the system
            reports it; an ``OSError`` for a FIFO, device or socket at ``path``.
        """
        self._core.save(_path(path), optimizer_state=bool(optimizer_state))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Network:
        """Load a network saved by :meth:`save` (or the bytes of :meth:`to_bytes` in a file).

        ``path`` must be a regular file: it is opened without waiting and its type is
        checked before anything is read, so a FIFO, a device, a socket or a folder is
        refused at once. Everything is checked before the weights are read, by the same
        rule as :meth:`from_bytes`: the header's length (at most 1 MiB), its metadata,
        the file's size against its architecture, every tensor's name, dtype, shape and
        values, and the optimizer's state if the file holds one.

        Parameters
        ----------
        path : str or os.PathLike
            The file to read.

        Returns
        -------
        Network
            The network, with the optimizer's state the file holds (a fresh one if none)
            and no step values.

        Raises
        ------
        TypeError
            If ``path`` is not a str or os.PathLike.
        ValueError
            If the file is not a valid ferroprop file; the message says why.
        OSError
            If reading fails (``FileNotFoundError``, ``PermissionError``, ...):
            ``IsADirectoryError`` for a folder, an ``OSError`` for a FIFO, device or socket.
        """
        return cls._from_core(_core.CoreNetwork.load(_path(path)))

    def to_bytes(self) -> bytes:
        """The network and its optimizer's state as the bytes of a safetensors file.

        The bytes :meth:`save` writes with ``optimizer_state=True``, and what pickling
        keeps: a network read back with :meth:`from_bytes` trains on bit for bit as this
        one would.

        Returns
        -------
        bytes
            The network as a safetensors file.

        Raises
        ------
        ValueError
            If the network is too deep for the format's 1 MiB header.
        """
        return self._core.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> Network:
        """A network from the bytes of :meth:`to_bytes` or of a saved file.

        The bytes are checked by the same rule as :meth:`load`.

        Parameters
        ----------
        data : bytes, bytearray or memoryview
            The bytes of a safetensors file written by ferroprop.

        Returns
        -------
        Network
            The network, with the optimizer's state the bytes hold (a fresh one if none)
            and no step values.

        Raises
        ------
        TypeError
            If ``data`` is not bytes-like.
        ValueError
            If ``data`` is not a valid ferroprop file; the message says why.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        return cls._from_core(_core.CoreNetwork.from_bytes(bytes(data)))

    @classmethod
    def _from_core(cls, core: _core.CoreNetwork) -> Network:
        net = cls.__new__(cls)
        net._core = core
        return net

    def __getstate__(self) -> dict[str, Any]:
        # The core as its bytes (optimizer state included); the instance's other
        # attributes (history_, a subclass's or the user's) as they are.
        attributes = {k: v for k, v in vars(self).items() if k != "_core"}
        for name in _slot_names(type(self)):
            if hasattr(self, name):
                attributes[name] = getattr(self, name)
        return {"safetensors": self.to_bytes(), "attributes": attributes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Pickles of earlier versions hold the bytes only.
        self._core = _core.CoreNetwork.from_bytes(state["safetensors"])
        slots = _slot_names(type(self))
        for name, value in state.get("attributes", {}).items():
            if name in slots:
                setattr(self, name, value)
            else:
                self.__dict__[name] = value  # as pickle restores an instance's __dict__


def _rates(dropout: object) -> float | list[float]:
    """``dropout`` as the core takes it: one rate, or a list of them (values unchecked)."""
    if isinstance(dropout, (str, bytes)) or not isinstance(dropout, (Sequence, np.ndarray)):
        return _float("dropout", dropout)
    return [_float(f"dropout[{i}]", p) for i, p in enumerate(dropout)]


def _slot_names(cls: type) -> list[str]:
    """The ``__slots__`` attributes a subclass declares (``vars`` does not see them)."""
    names: list[str] = []
    for klass in cls.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in [slots] if isinstance(slots, str) else slots:
            if name.startswith("__") and not name.endswith("__"):  # private: mangled
                name = f"_{klass.__name__.lstrip('_')}{name}"
            if name not in ("__dict__", "__weakref__") and name not in names:
                names.append(name)
    return names


def _takes_record(callback: Callable[..., object]) -> bool:
    """Whether ``callback`` is called with an :class:`EpochInfo` (it takes one positional
    argument) rather than as ``callback(epoch, loss)``; TypeError if it takes none."""
    try:
        params = inspect.signature(callback).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: the classic form
        return False
    kinds = [p.kind for p in params]
    if inspect.Parameter.VAR_POSITIONAL in kinds:
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    n = sum(k in positional for k in kinds)
    if n == 0:
        raise TypeError(
            "callback must take one argument (an EpochInfo) or two (epoch, loss), got a "
            "callable without positional parameters"
        )
    return n == 1


def _epoch_hook(
    network: Network, callback: Callable[..., object] | None, record: bool, bar: Any
) -> Callable[[_EpochReport], object]:
    """The core's per-epoch ``report`` hook: advances the progress bar ``bar`` and calls
    ``callback`` in its form; its return value (true stops training) is the callback's."""

    def hook(report: _EpochReport) -> object:
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{report['loss']:.5g}", refresh=False)
        if callback is None:
            return None
        if record:
            info = EpochInfo(
                epoch=report["epoch"],
                loss=report["loss"],
                val_loss=report["val_loss"],
                val_score=report["val_score"],
                learning_rate=report["epoch_learning_rate"],
                network=network,
            )
            return callback(info)
        return callback(report["epoch"], report["loss"])

    return hook


def _path(path: object) -> str:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    return os.fspath(path)


def _is_dtype(value: Any) -> bool:
    if isinstance(value, str):
        return False
    try:
        np.dtype(value)
    except TypeError:
        return False
    return True
