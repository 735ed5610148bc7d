"""The NumPy-facing ``Network``: the tutorial's step API and ``fit`` over the Rust core.

Rows are samples. Layer ``k`` (0-based) computes ``z = a_prev @ W + b`` and
``a = f(z)``; ``backward`` fills ``dz``, ``dW``, ``db`` and ``da`` (the gradient of
the mean loss with respect to the layer's output ``a``) of every layer. See
``ferroprop.reference`` for the same computation in plain NumPy.
"""

from __future__ import annotations

import numbers
import os
import secrets
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ferroprop import _core

ACTIVATIONS = ("identity", "relu", "leaky_relu", "sigmoid", "tanh", "softmax")
LOSSES = ("binary_cross_entropy", "cross_entropy", "mean_squared_error")
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "invscaling", "adaptive")
METRICS = ("loss", "accuracy", "r2")
DTYPES = ("float32", "float64")

# The output activation each loss implies, and the loss each output implies.
_OUTPUT_FOR_LOSS = {
    "binary_cross_entropy": "sigmoid",
    "cross_entropy": "softmax",
    "mean_squared_error": "identity",
}
_LOSS_FOR_OUTPUT = {"sigmoid": "binary_cross_entropy", "softmax": "cross_entropy"}

ArrayLike = Any


_MAX_INDEX = 2**63 - 1  # what the core's sizes (usize) hold on every 64-bit platform


def _check_int(name: str, value: Any, minimum: int, maximum: int = _MAX_INDEX) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be in [{minimum}, {maximum}], got {value}")
    return value


def _check_float(
    name: str, value: Any, *, positive: bool = False, below_one: bool = False
) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    if below_one and not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def _check_name(name: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {list(allowed)}; got {value!r}")
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {list(allowed)}")
    return value


def _numeric(name: str, value: ArrayLike) -> np.ndarray:
    """``value`` as a NumPy array of booleans, integers or floats (never a copy we modify)."""
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers, got {type(value).__name__}")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise ValueError(f"{name} could not be read as an array: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got an array of dtype {arr.dtype}")
    return arr


class Layer:
    """A view of layer ``k`` of a :class:`Network`.

    ``W`` (``(n_in, n_out)``) and ``b`` (``(n_out,)``) can be read and assigned. The
    values of the last pass — ``z``, ``a`` from ``forward``; ``dz``, ``dW``, ``db``,
    ``da`` from ``backward`` — are read-only copies (``None`` before the first
    ``forward``); ``da`` is ``dL/da`` for this layer's output ``a``.
    """

    def __init__(self, network: Network, index: int) -> None:
        self._network = network
        self.index = index

    def _get(self, name: str) -> np.ndarray | None:
        arr = self._network._core.layer_array(self.index, name)
        if arr is not None:
            arr.flags.writeable = False
        return arr

    def _set(self, name: str, value: ArrayLike) -> None:
        weights = self._network.get_weights()
        W, b = weights[self.index]
        weights[self.index] = (value, b) if name == "W" else (W, value)
        self._network.set_weights(weights)

    @property
    def W(self) -> np.ndarray:  # noqa: N802 (the tutorial's name)
        """Weights, shape ``(n_in, n_out)``."""
        return self._get("W")

    @W.setter
    def W(self, value: ArrayLike) -> None:  # noqa: N802
        self._set("W", value)

    @property
    def b(self) -> np.ndarray:
        """Biases, shape ``(n_out,)``."""
        return self._get("b")

    @b.setter
    def b(self, value: ArrayLike) -> None:
        self._set("b", value)

    z = property(lambda self: self._get("z"), doc="``a_prev @ W + b`` of the last forward.")
    a = property(lambda self: self._get("a"), doc="``f(z)`` of the last forward.")
    dz = property(lambda self: self._get("dz"), doc="``dL/dz`` of the last backward.")
    dW = property(lambda self: self._get("dW"), doc="``a_prev.T @ dz`` of the last backward.")  # noqa: N815
    db = property(lambda self: self._get("db"), doc="``dz.sum(axis=0)`` of the last backward.")
    da = property(lambda self: self._get("da"), doc="``dL/da`` of the last backward.")

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
        ``"leaky_relu"``, ``"sigmoid"``, ``"tanh"``, ``"softmax"`` (output only). A single
        name applies to every hidden layer and the output follows the loss. By default
        hidden layers are ``"relu"``.
    loss : str, optional
        ``"binary_cross_entropy"`` (sigmoid output), ``"cross_entropy"`` (softmax output)
        or ``"mean_squared_error"``. By default it follows the output activation
        (sigmoid → binary cross-entropy, softmax → cross-entropy, otherwise MSE).
    dtype : {"float64", "float32"}
        The dtype of the weights and of every computation.
    seed : int, optional
        Seed of the initialisation (He for relu/leaky_relu layers, Glorot otherwise,
        biases 0.1 in relu and leaky_relu layers, 0 elsewhere). The same seed gives the
        same network, bit for bit.

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

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activations: Sequence[str] | str | None = None,
        loss: str | None = None,
        dtype: str = "float64",
        seed: int | None = None,
    ) -> None:
        if isinstance(layer_sizes, (str, bytes)) or not isinstance(layer_sizes, Sequence):
            if not isinstance(layer_sizes, np.ndarray):
                raise TypeError(f"layer_sizes must be a sequence of ints, got {layer_sizes!r}")
        sizes = [_check_int(f"layer_sizes[{i}]", n, 1) for i, n in enumerate(layer_sizes)]
        if len(sizes) < 2:
            raise ValueError(
                f"layer_sizes needs at least 2 entries (inputs and outputs), got {sizes}"
            )
        if loss is not None:
            _check_name("loss", loss, LOSSES)
        if activations is None or isinstance(activations, str):
            hidden = "relu" if activations is None else activations
            _check_name("activations", hidden, ACTIVATIONS)
            output = _OUTPUT_FOR_LOSS[loss or "mean_squared_error"]
            activations = [hidden] * (len(sizes) - 2) + [output]
        else:
            activations = [_check_name("activations", a, ACTIVATIONS) for a in activations]
        if loss is None and activations:
            loss = _LOSS_FOR_OUTPUT.get(activations[-1], "mean_squared_error")
        dtype = _check_name("dtype", str(np.dtype(dtype)) if _is_dtype(dtype) else dtype, DTYPES)
        if seed is None:
            seed = secrets.randbits(63)
        seed = _check_int("seed", seed, 0, 2**64 - 1)
        self._core = _core.CoreNetwork(sizes, list(activations), loss, dtype, seed)

    # -- description -------------------------------------------------------------

    @property
    def layer_sizes(self) -> list[int]:
        """Units per layer, input first."""
        return list(self._core.layer_sizes)

    @property
    def activations(self) -> list[str]:
        """Activation name of each layer after the input."""
        return list(self._core.activations)

    @property
    def loss_name(self) -> str:
        """The loss function's name."""
        return self._core.loss_name

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the weights and computations."""
        return np.dtype(self._core.dtype)

    @property
    def layers(self) -> list[Layer]:
        """The layers after the input, each exposing ``W, b, z, a, dz, dW, db, da``."""
        return [Layer(self, k) for k in range(len(self.layer_sizes) - 1)]

    def __repr__(self) -> str:
        return (
            f"Network({self.layer_sizes}, activations={self.activations}, "
            f"loss={self.loss_name!r}, dtype={self.dtype.name!r})"
        )

    # -- input conversion (validation of values happens in the core) --------------

    def _x(self, X: ArrayLike) -> np.ndarray:
        arr = _numeric("X", X)
        if arr.ndim != 2:
            hint = " (use X.reshape(1, -1) for a single sample)" if arr.ndim == 1 else ""
            raise ValueError(
                f"X must be 2-D (n_samples, n_features), got {arr.ndim}-D shape {arr.shape}{hint}"
            )
        return self._cast("X", arr)

    def _cast(self, name: str, arr: np.ndarray) -> np.ndarray:
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

    def _y(self, y: ArrayLike) -> np.ndarray:
        arr = _numeric("y", y)
        n_out = self.layer_sizes[-1]
        if arr.ndim == 1 and self.loss_name == "cross_entropy":
            if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
                raise ValueError(
                    "y: 1-D cross_entropy targets are class labels and must be integers"
                )
            if arr.size and (arr.min() < 0 or arr.max() >= n_out):
                raise ValueError(
                    f"y: class label out of range: the output layer has {n_out} units, "
                    f"labels must be in [0, {n_out}); got labels in [{arr.min()}, {arr.max()}]"
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

    def _weights(self, sample_weight: ArrayLike) -> np.ndarray:
        arr = _numeric("sample_weight", sample_weight)
        if arr.ndim != 1:
            raise ValueError(f"sample_weight must be 1-D, got {arr.ndim}-D shape {arr.shape}")
        return self._cast("sample_weight", arr)

    # -- the step API ---------------------------------------------------------------

    def forward(self, X: ArrayLike) -> np.ndarray:
        """Forward pass of a batch; keeps ``z`` and ``a`` of every layer for ``backward``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
            The output ``a`` of the last layer.
        """
        return self._core.forward(self._x(X))

    def backward(self, y: ArrayLike) -> None:
        """Gradients of the mean loss of the last ``forward`` against targets ``y``.

        Fills ``dz``, ``dW``, ``db`` and ``da`` of every layer. ``y`` has shape
        ``(n_samples, n_outputs)`` (or ``(n_samples,)`` for one output); for
        ``cross_entropy`` it may also be integer class labels of shape ``(n_samples,)``.
        """
        self._core.backward(self._y(y))

    def update(self, learning_rate: float) -> None:
        """Gradient-descent step ``W -= learning_rate * dW``, ``b -= learning_rate * db``."""
        self._core.update(_check_float("learning_rate", learning_rate, positive=True))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """The network's output for ``X``; the values of the last step are left alone."""
        return self._core.predict(self._x(X))

    def loss(self, X: ArrayLike, y: ArrayLike) -> float:
        """The mean loss of ``X`` against ``y`` (leaves the last step's values alone)."""
        return self._core.loss(self._x(X), self._y(y))

    def gradient_check(self, X: ArrayLike, y: ArrayLike, eps: float | None = None) -> float:
        """The largest relative error of the backpropagated gradient against central
        finite differences, over every weight and bias.

        ``rel = |g - g_fd| / max(|g|, |g_fd|, floor)``, where ``g`` is computed in the
        network's dtype and ``g_fd = (L(w + eps) - L(w - eps)) / (2 eps)`` on a float64
        copy of the network. The step ``eps`` defaults to ``2.2e-16 ** (1/3)`` (6e-6),
        which makes the difference accurate to about 1e-10; ``floor`` (1.2e-4 for
        float64 networks, 3.5e-4 for float32) keeps gradients too small to resolve from
        counting as large relative errors. Expect below ~1e-6 for float64 and a few 1e-4 for
        float32, away from ReLU kinks (an input to a ReLU within ``eps`` of 0).
        """
        if eps is not None:
            eps = _check_float("eps", eps, positive=True)
        return self._core.gradient_check(self._x(X), self._y(y), eps)

    def loss_and_gradient(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        alpha: float = 0.0,
    ) -> tuple[float, float, list[tuple[np.ndarray, np.ndarray]]]:
        """The full-batch objective and its gradient, in one Rust call.

        Returns ``(data_loss, penalty, [(dW, db), ...])``: the (``sample_weight``-weighted)
        mean loss of ``X`` against ``y``, the L2 penalty ``alpha / 2 * sum(W**2) /
        sum(w)``, and the gradient of their sum for every layer — what a quasi-Newton
        optimizer such as L-BFGS asks for. The step API's values are left alone.
        """
        weights = None if sample_weight is None else self._weights(sample_weight)
        data_loss, penalty, grads = self._core.loss_and_gradient(
            self._x(X), self._y(y), weights, _check_float("alpha", alpha)
        )
        return data_loss, penalty, [(dW, db) for dW, db in grads]

    # -- weights ------------------------------------------------------------------

    def get_weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Copies of ``[(W, b), ...]``, one pair per layer."""
        return [(W, b) for W, b in self._core.get_weights()]

    def set_weights(self, weights: Sequence[tuple[ArrayLike, ArrayLike]]) -> None:
        """Replace every ``(W, b)``; shapes must match. The arrays are copied."""
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
        learning_rate: float = 0.01,
        batch_size: int | None = None,
        shuffle: bool = True,
        optimizer: str = "sgd",
        seed: int | None = None,
        *,
        momentum: float = 0.0,
        nesterov: bool = False,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        alpha: float = 0.0,
        sample_weight: ArrayLike | None = None,
        schedule: str = "constant",
        power_t: float = 0.5,
        validation_data: tuple[ArrayLike, ArrayLike] | None = None,
        validation_metric: str = "loss",
        n_iter_no_change: int | None = None,
        tol: float = 1e-4,
        early_stopping: bool = False,
        callback: Callable[[int, float], bool | None] | None = None,
        progress: bool = False,
    ) -> list[float]:
        """Train by minibatch gradient descent; the whole loop runs in Rust.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
        y : array-like
            Targets, as for :meth:`backward`.
        epochs : int
            Passes over the data.
        learning_rate : float
            Step size.
        batch_size : int, optional
            Rows per minibatch; ``None`` (default) is the full batch.
        shuffle : bool
            Shuffle the rows at the start of every epoch (minibatches only).
        optimizer : {"sgd", "adam"}
            ``"sgd"`` with optional ``momentum``/``nesterov``, or ``"adam"`` with
            ``beta_1``, ``beta_2``, ``epsilon``. The optimizer's state is kept: a later
            ``fit`` with the same optimizer settings continues from it.
        seed : int, optional
            Seed of the shuffling.
        alpha : float
            L2 penalty: each batch's loss gains ``alpha / 2 * sum(W**2) / sum(w)``, with
            ``sum(w)`` the batch's total sample weight (its size without weights);
            biases are not penalized.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights: each batch's loss is the weighted mean of its rows'
            losses (a weight of 2 counts a row twice). A batch of zero weights is skipped.
        schedule : {"constant", "invscaling", "adaptive"}
            How the step size evolves, for ``optimizer="sgd"``: ``invscaling`` uses
            ``learning_rate / (t + 1) ** power_t`` after each epoch (``t`` the samples
            seen); ``adaptive`` divides it by 5 whenever ``n_iter_no_change`` epochs pass
            without improvement, and stops once it is at most 1e-6.
        power_t : float
            The exponent of ``invscaling``.
        validation_data : (X_val, y_val), optional
            Scored after every epoch (``history_["val_loss"]``, ``["val_score"]``).
        validation_metric : {"loss", "accuracy", "r2"}
            The validation score, higher is better: ``-loss``, accuracy (argmax for
            softmax, ``> 0.5`` per output otherwise), or R² averaged over outputs.
        n_iter_no_change : int, optional
            Stop after more than this many epochs in a row without an improvement of at
            least ``tol`` (of the training loss, or with ``early_stopping`` of the
            validation score), as scikit-learn's MLPs do. ``None`` never stops early.
        tol : float
            The improvement that counts.
        early_stopping : bool
            Judge improvement by the validation score and restore, at the end, the
            weights of the best score. Needs ``validation_data``.
        callback : callable, optional
            ``callback(epoch, loss)`` after each epoch (1-based); returning ``True``
            stops training. An exception it raises ends training and propagates.
        progress : bool
            Show a progress bar (tqdm, an optional dependency) with the epoch's loss.

        Returns
        -------
        list of float
            The mean training loss of each epoch (each batch's loss taken in its forward
            pass, before its update). ``history_`` holds more: ``loss``, ``val_loss``,
            ``val_score``, ``learning_rate`` (per epoch), ``t`` (samples seen),
            ``best_loss``, ``best_val_score`` and ``stopped`` (why training ended:
            ``"max_epochs"``, ``"no_improvement"``, ``"learning_rate"`` or ``"callback"``).

        Raises
        ------
        ValueError
            For invalid data or settings, or if the loss becomes non-finite (the weights
            of the start of that epoch are then restored).
        KeyboardInterrupt
            On Ctrl-C, between two batches; the weights are those of the last step.
        """
        epochs = _check_int("epochs", epochs, 1)
        learning_rate = _check_float("learning_rate", learning_rate, positive=True)
        if batch_size is not None:
            batch_size = _check_int("batch_size", batch_size, 1)
        optimizer = _check_name("optimizer", optimizer, OPTIMIZERS)
        if seed is None:
            seed = secrets.randbits(63)
        seed = _check_int("seed", seed, 0, 2**64 - 1)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (X_val, y_val)")
            validation_data = (self._x(validation_data[0]), self._y(validation_data[1]))
        if n_iter_no_change is not None:
            n_iter_no_change = _check_int("n_iter_no_change", n_iter_no_change, 1)
        X, y = self._x(X), self._y(y)
        options = dict(
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            shuffle=bool(shuffle),
            seed=seed,
            optimizer=optimizer,
            momentum=_check_float("momentum", momentum, below_one=True),
            nesterov=bool(nesterov),
            beta_1=_check_float("beta_1", beta_1, below_one=True),
            beta_2=_check_float("beta_2", beta_2, below_one=True),
            epsilon=_check_float("epsilon", epsilon, positive=True),
            alpha=_check_float("alpha", alpha),
            sample_weight=None if sample_weight is None else self._weights(sample_weight),
            schedule=_check_name("schedule", schedule, SCHEDULES),
            power_t=_check_float("power_t", power_t),
            validation_data=validation_data,
            validation_metric=_check_name("validation_metric", validation_metric, METRICS),
            n_iter_no_change=n_iter_no_change,
            tol=_check_float("tol", tol),
            early_stopping=bool(early_stopping),
        )
        bar = None
        if progress:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                raise ImportError("progress=True needs tqdm: pip install tqdm") from None
            bar = tqdm(total=epochs, unit="epoch", desc="fit")
            callback = _with_bar(bar, callback)
        try:
            history = self._core.fit(X, y, callback=callback, **options)
        finally:
            if bar is not None:
                bar.close()
        self.history_: dict[str, Any] = history
        return list(history["loss"])

    def reset_optimizer(self) -> None:
        """Forget the optimizer's state (momentum, Adam's moments and step count).

        ``fit`` keeps that state between calls with the same optimizer settings, so that
        training can continue where it stopped; ``set_weights`` and this method reset it.
        """
        self._core.reset_optimizer()

    # -- persistence, pickling and copying ----------------------------------------------

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save to ``path`` in the safetensors format, atomically.

        The file holds ``layers.{k}.weight`` (``W.T``, shape ``(n_out, n_in)``, the layout
        of PyTorch's ``nn.Linear``) and ``layers.{k}.bias`` for each layer, and the
        architecture, dtype and loss in its metadata. It is written to a temporary file in
        the same folder and renamed over ``path``: a failed save leaves any previous file
        intact. The optimizer's state is not saved.
        """
        self._core.save(_path(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Network:
        """Load a network saved by :meth:`save`.

        Everything is checked before the weights are read: header, metadata, the file's
        size against its architecture, every tensor's name, dtype, shape and values.
        A file that is not a valid ferroprop file raises ``ValueError`` saying why.
        """
        return cls._from_core(_core.CoreNetwork.load(_path(path)))

    def to_bytes(self) -> bytes:
        """The bytes :meth:`save` would write."""
        return self._core.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Network:
        """A network from the bytes of :meth:`to_bytes` (checked as :meth:`load` does)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        return cls._from_core(_core.CoreNetwork.from_bytes(bytes(data)))

    @classmethod
    def _from_core(cls, core: _core.CoreNetwork) -> Network:
        net = cls.__new__(cls)
        net._core = core
        return net

    def __getstate__(self) -> dict[str, Any]:
        return {"safetensors": self.to_bytes()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._core = _core.CoreNetwork.from_bytes(state["safetensors"])


def _with_bar(bar: Any, callback: Callable[[int, float], Any] | None) -> Callable:
    """``callback`` that also advances the progress bar ``bar``."""

    def advance(epoch: int, loss: float) -> Any:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.5g}", refresh=False)
        return callback(epoch, loss) if callback is not None else None

    return advance


def _path(path: Any) -> str:
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
