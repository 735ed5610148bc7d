"""Pure-NumPy multilayer perceptron in the tutorial's shape.

This module is an independent implementation of everything ``ferroprop`` computes
in Rust. It is the oracle the parity tests compare against and the code to read
when learning how backpropagation works: one short function per activation and
loss, each next to its derivative, and a class ``mlp`` that keeps every
intermediate array of the forward and backward passes in plain lists.

Notes
-----
Rows are samples. Layers are numbered from 1; layer 0 is the input, ``a[0] = x``.
With ``W_k`` of shape ``(n_{k-1}, n_k)`` and ``b_k`` of shape ``(n_k,)``::

    z_k = a_{k-1} W_k + b_k            a_k = f_k(z_k)

Backward, from ``da_L = dL/dyhat`` of the mean loss down to the input::

    dz_k     = da_k * f_k'(z_k)        (elementwise)
    dW_k     = a_{k-1}^T dz_k
    db_k     = sum over rows of dz_k
    da_{k-1} = dz_k W_k^T

Every loss is a mean (over all elements for binary cross-entropy and mean squared
error, over samples for categorical cross-entropy), so the gradients above are
those of the mean, for ``W`` and ``b`` alike. At the output, sigmoid with binary
cross-entropy, softmax with categorical cross-entropy and exp with the Poisson loss use
the fused delta ``dz_L = (yhat - y) / N`` (``N`` the divisor of the mean), and softmax
with another loss uses the softmax Jacobian-vector product instead of ``f'``.

Inverted dropout (training only) multiplies a hidden layer's output by a mask ``m_k``
of zeros and ``1 / (1 - p)``: ``a_k = f_k(z_k) * m_k`` and ``dz_k = da_k * f_k'(z_k) *
m_k``; the rest is unchanged (the next layer reads the dropped ``a_k``).
:func:`dropout_mask` draws ferroprop's masks (a counter-based hash), and
:meth:`mlp.forward` takes masks explicitly.

Everything stays in the dtype of the model (float32 or float64).

Examples
--------
>>> import numpy as np
>>> net = mlp.from_names([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
>>> net.initialize(seed=0)
>>> yhat = net.forward(np.ones((4, 2)))
>>> net.backward(np.ones((4, 1)), yhat)
>>> net.dW[1].shape, net.db[2].shape, net.da[0].shape
((2, 3), (1,), (4, 2))
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np
import numpy.typing as npt

#: The arrays of the reference: float32 or float64, the model's dtype.
Array = npt.NDArray[np.floating[Any]]
#: An activation or its derivative: ``f(z)`` of the same shape and dtype as ``z``.
ActivationFn = Callable[[Array], Array]
#: A mean loss ``loss(y, yhat)``.
LossFn = Callable[[npt.ArrayLike, Array], Any]
#: The derivative ``dL/dyhat(y, yhat)`` of a mean loss.
LossDerivFn = Callable[[npt.ArrayLike, Array], Array]
# An output delta dz_L(y, yhat, da_L) that replaces da_L * f'(z_L).
_OutputDelta = Callable[[npt.ArrayLike, Array, Array], Array]
#: A float dtype: ``"float32"``, ``"float64"``, ``np.float32``, ``np.float64``...
FloatDType = Union[str, type[np.floating[Any]], np.dtype[np.floating[Any]]]

# --- activations, each followed by its derivative -------------------------------
# Each takes the pre-activations z (any shape, float32 or float64) and returns an array
# of the same shape and dtype.


def identity(z: Array) -> Array:
    """Identity, ``f(z) = z``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``z`` itself.
    """
    return z


def identity_deriv(z: Array) -> Array:
    """Derivative of the identity: ones.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        Ones of ``z``'s shape and dtype.
    """
    return np.ones_like(z)


def relu(z: Array) -> Array:
    """Rectified linear unit, ``max(z, 0)``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``max(z, 0)``, elementwise.
    """
    a: Array = np.maximum(z, z.dtype.type(0))
    return a


def relu_deriv(z: Array) -> Array:
    """Derivative of ReLU: 1 where ``z > 0``, else 0 (so ``relu'(0) = 0``).

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        1 where ``z > 0``, 0 elsewhere.
    """
    return (z > 0).astype(z.dtype)


def leaky_relu(z: Array) -> Array:
    """Leaky ReLU with slope 0.01 for ``z <= 0``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``z`` where ``z > 0``, ``0.01 z`` elsewhere.
    """
    return np.where(z > 0, z, z * z.dtype.type(0.01))


def leaky_relu_deriv(z: Array) -> Array:
    """Derivative of leaky ReLU: 1 where ``z > 0``, else 0.01.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        1 where ``z > 0``, 0.01 elsewhere.
    """
    d: Array = np.where(z > 0, z.dtype.type(1), z.dtype.type(0.01))
    return d


def sigmoid(z: Array) -> Array:
    """Logistic sigmoid ``1 / (1 + exp(-z))``, input clipped to [-500, 500].

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        Values in ``[0, 1]``.
    """
    with np.errstate(over="ignore"):  # exp(500) overflows float32 to inf: sigmoid is 0
        return 1 / (1 + np.exp(-np.clip(z, -500, 500)))


def sigmoid_deriv(z: Array) -> Array:
    """Derivative of the sigmoid, ``s (1 - s)`` (the tutorial's factor 2 was a bug).

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``s (1 - s)`` with ``s = sigmoid(z)``.
    """
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z: Array) -> Array:
    """Hyperbolic tangent.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``tanh(z)``, in ``[-1, 1]``.
    """
    return np.tanh(z)


def tanh_deriv(z: Array) -> Array:
    """Derivative of tanh, ``1 - tanh(z)^2``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``1 - tanh(z)^2``.
    """
    return 1 - np.tanh(z) ** 2


def _erfc(x: Array) -> Array:
    """``erfc`` elementwise by Python's :func:`math.erfc` (NumPy has none), in x's dtype."""
    values = [math.erfc(v) for v in np.asarray(x, dtype=np.float64).ravel()]
    return np.array(values, dtype=x.dtype).reshape(x.shape)


def gelu(z: Array) -> Array:
    """Gaussian error linear unit, exact form: ``z Phi(z)``, ``Phi(z) = erfc(-z/sqrt(2))/2``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``z`` times the standard normal distribution function at ``z``.
    """
    return z * (_erfc(-z / math.sqrt(2)) / 2)


def gelu_deriv(z: Array) -> Array:
    """Derivative of GELU, ``Phi(z) + z phi(z)``, ``phi`` the standard normal density.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``Phi(z) + z exp(-z^2/2) / sqrt(2 pi)``.
    """
    with np.errstate(over="ignore"):  # z^2 of a huge z: the density is 0
        density = np.exp(-(z * z) / 2) / math.sqrt(2 * math.pi)
    d: Array = (_erfc(-z / math.sqrt(2)) / 2 + z * density).astype(z.dtype)
    return d


def silu(z: Array) -> Array:
    """Sigmoid linear unit (swish), ``z / (1 + exp(-z))``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``z s(z)`` with ``s`` the logistic sigmoid.
    """
    with np.errstate(over="ignore"):  # exp(-z) of a very negative z is inf: silu is -0
        a: Array = z / (1 + np.exp(-z))
    return a


def silu_deriv(z: Array) -> Array:
    """Derivative of SiLU, ``s (1 + z (1 - s))`` with ``s = 1 / (1 + exp(-z))``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``s (1 + z (1 - s))``.
    """
    with np.errstate(over="ignore"):
        s = 1 / (1 + np.exp(-z))
    return s * (1 + z * (1 - s))


def elu(z: Array) -> Array:
    """Exponential linear unit with alpha 1: ``z`` where ``z > 0``, else ``exp(z) - 1``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        Values above -1.
    """
    with np.errstate(over="ignore"):  # the branch not taken may overflow
        a: Array = np.where(z > 0, z, np.expm1(z))
    return a


def elu_deriv(z: Array) -> Array:
    """Derivative of ELU: 1 where ``z > 0``, else ``exp(z)``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        1 or ``exp(z)``.
    """
    with np.errstate(over="ignore"):
        d: Array = np.where(z > 0, z.dtype.type(1), np.exp(z))
    return d


def softplus(z: Array) -> Array:
    """Softplus, ``log(1 + exp(z))``, and ``z`` itself where ``z > 20`` (PyTorch's threshold).

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        Positive values.
    """
    with np.errstate(over="ignore"):
        a: Array = np.where(z > 20, z, np.log1p(np.exp(z)))
    return a


def softplus_deriv(z: Array) -> Array:
    """Derivative of softplus, the sigmoid ``e / (e + 1)`` with ``e = exp(z)``; 1 if ``z > 20``.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        Values in ``[0, 1]``.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.exp(z)
        d: Array = np.where(z > 20, z.dtype.type(1), e / (e + 1))
    return d


def exp(z: Array) -> Array:
    """Exponential, ``exp(z)``: the output of a Poisson regression.

    Parameters
    ----------
    z : ndarray
        Pre-activations (log-means).

    Returns
    -------
    ndarray
        ``exp(z)``.
    """
    a: Array = np.exp(z)
    return a


def exp_deriv(z: Array) -> Array:
    """Derivative of the exponential: ``exp(z)`` itself.

    Parameters
    ----------
    z : ndarray
        Pre-activations.

    Returns
    -------
    ndarray
        ``exp(z)``.
    """
    d: Array = np.exp(z)
    return d


def softmax(z: Array) -> Array:
    """Row-wise softmax, stabilised by subtracting each row's maximum.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_classes)
        Pre-activations.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Rows of probabilities summing to 1.
    """
    e = np.exp(z - z.max(axis=1, keepdims=True))
    a: Array = e / e.sum(axis=1, keepdims=True)
    return a


def softmax_jvp(a: Array, da: Array) -> Array:
    """Gradient through softmax: ``dz = a * (da - sum(da * a, axis=1))``.

    Softmax mixes a row's entries, so it has no elementwise derivative; this is
    the product of ``da`` with its Jacobian, given the softmax output ``a``.

    Parameters
    ----------
    a : ndarray of shape (n_samples, n_classes)
        The softmax output.
    da : ndarray of shape (n_samples, n_classes)
        The gradient of the loss with respect to ``a``.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        The gradient of the loss with respect to the softmax's input.
    """
    dz: Array = a * (da - np.sum(da * a, axis=1, keepdims=True))
    return dz


ACTIVATIONS: dict[str, ActivationFn] = {
    "identity": identity,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "gelu": gelu,
    "silu": silu,
    "elu": elu,
    "softplus": softplus,
    "exp": exp,
}
#: Elementwise derivatives; softmax has none (see :func:`softmax_jvp`).
DERIVATIVES: dict[str, ActivationFn] = {
    "identity": identity_deriv,
    "relu": relu_deriv,
    "leaky_relu": leaky_relu_deriv,
    "sigmoid": sigmoid_deriv,
    "tanh": tanh_deriv,
    "gelu": gelu_deriv,
    "silu": silu_deriv,
    "elu": elu_deriv,
    "softplus": softplus_deriv,
    "exp": exp_deriv,
}

# --- losses (means), each followed by its derivative with respect to yhat --------
# Each takes the targets y (shape of yhat; categorical ones may also be integer labels)
# and the predictions yhat, and raises ValueError for targets of another shape.


def _like(y: npt.ArrayLike, yhat: Array) -> Array:
    """Targets as an array of yhat's dtype, refusing shapes that would broadcast."""
    arr = np.asarray(y, dtype=yhat.dtype)
    if arr.shape != yhat.shape:
        raise ValueError(f"y has shape {arr.shape}, expected {yhat.shape} like yhat")
    return arr


def _onehot(y: npt.ArrayLike, yhat: Array) -> Array:
    """Categorical targets: 1-D integer labels become one-hot rows of yhat's dtype."""
    labels = np.asarray(y)
    if labels.ndim != 1:
        return _like(labels, yhat)
    k = yhat.shape[1]
    if not np.issubdtype(labels.dtype, np.integer) or len(labels) != len(yhat):
        raise ValueError(f"labels must be {len(yhat)} integers, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}), got [{labels.min()}, {labels.max()}]")
    onehot: Array = np.eye(k, dtype=yhat.dtype)[labels]
    return onehot


def binary_cross_entropy(y: npt.ArrayLike, yhat: Array) -> np.floating[Any]:
    """Mean over all elements of ``-(y log p + (1 - y) log(1 - p))``, p = yhat clipped.

    Parameters
    ----------
    y : array-like
        Targets in ``[0, 1]``, of yhat's shape.
    yhat : ndarray
        Predicted probabilities, clipped to ``[eps, 1 - eps]`` (eps of the dtype).

    Returns
    -------
    numpy.floating
        The mean loss, in yhat's dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    eps = np.finfo(yhat.dtype).eps
    t, p = _like(y, yhat), np.clip(yhat, eps, 1 - eps)
    loss: np.floating[Any] = -np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))
    return loss


def binary_cross_entropy_deriv(y: npt.ArrayLike, yhat: Array) -> Array:
    """``(p - y) / (p (1 - p)) / y.size`` with p = yhat clipped to [eps, 1 - eps].

    Parameters
    ----------
    y : array-like
        Targets in ``[0, 1]``, of yhat's shape.
    yhat : ndarray
        Predicted probabilities.

    Returns
    -------
    ndarray
        ``dL/dyhat``, of yhat's shape and dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    eps = np.finfo(yhat.dtype).eps
    t, p = _like(y, yhat), np.clip(yhat, eps, 1 - eps)
    return (p - t) / (p * (1 - p)) / t.size


def cross_entropy(y: npt.ArrayLike, yhat: Array) -> np.floating[Any]:
    """Mean over rows of ``-sum_j y_ij log p_ij``; y one-hot/probabilities or labels.

    Parameters
    ----------
    y : array-like of shape (n_samples, n_classes) or (n_samples,)
        One-hot or probability rows, or integer class labels in ``[0, n_classes)``.
    yhat : ndarray of shape (n_samples, n_classes)
        Predicted probabilities, clipped to ``[eps, 1]`` (eps of the dtype).

    Returns
    -------
    numpy.floating
        The mean loss, in yhat's dtype.

    Raises
    ------
    ValueError
        If ``y`` has the wrong shape, or labels that are not integers or out of range.
    """
    p = np.clip(yhat, np.finfo(yhat.dtype).eps, 1)
    loss: np.floating[Any] = np.mean(-np.sum(_onehot(y, yhat) * np.log(p), axis=1))
    return loss


def cross_entropy_deriv(y: npt.ArrayLike, yhat: Array) -> Array:
    """``-y / p / n`` with p = yhat clipped to [eps, 1] and n the number of rows.

    Parameters
    ----------
    y : array-like of shape (n_samples, n_classes) or (n_samples,)
        One-hot or probability rows, or integer class labels.
    yhat : ndarray of shape (n_samples, n_classes)
        Predicted probabilities.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        ``dL/dyhat``, in yhat's dtype.

    Raises
    ------
    ValueError
        As :func:`cross_entropy`.
    """
    p = np.clip(yhat, np.finfo(yhat.dtype).eps, 1)
    return -_onehot(y, yhat) / p / len(yhat)


def mean_squared_error(y: npt.ArrayLike, yhat: Array) -> np.floating[Any]:
    """Mean over all elements of ``(yhat - y)^2``.

    Parameters
    ----------
    y : array-like
        Targets, of yhat's shape.
    yhat : ndarray
        Predictions.

    Returns
    -------
    numpy.floating
        The mean loss, in yhat's dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    return np.mean((yhat - _like(y, yhat)) ** 2)


def mean_squared_error_deriv(y: npt.ArrayLike, yhat: Array) -> Array:
    """``2 (yhat - y) / y.size``.

    Parameters
    ----------
    y : array-like
        Targets, of yhat's shape.
    yhat : ndarray
        Predictions.

    Returns
    -------
    ndarray
        ``dL/dyhat``, of yhat's shape and dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    return 2 * (yhat - _like(y, yhat)) / yhat.size


def huber(y: npt.ArrayLike, yhat: Array) -> np.floating[Any]:
    """Mean over all elements of the Huber loss with delta 1 (PyTorch's ``HuberLoss``).

    ``d^2 / 2`` where ``|d| < 1``, else ``|d| - 1/2``, with ``d = yhat - y``.

    Parameters
    ----------
    y : array-like
        Targets, of yhat's shape.
    yhat : ndarray
        Predictions.

    Returns
    -------
    numpy.floating
        The mean loss, in yhat's dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    d = np.abs(yhat - _like(y, yhat))
    return np.mean(np.where(d < 1, d * d / 2, d - yhat.dtype.type(0.5)))


def huber_deriv(y: npt.ArrayLike, yhat: Array) -> Array:
    """``clip(yhat - y, -1, 1) / y.size``.

    Parameters
    ----------
    y : array-like
        Targets, of yhat's shape.
    yhat : ndarray
        Predictions.

    Returns
    -------
    ndarray
        ``dL/dyhat``, of yhat's shape and dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    return np.clip(yhat - _like(y, yhat), -1, 1) / yhat.size


def mean_absolute_error(y: npt.ArrayLike, yhat: Array) -> np.floating[Any]:
    """Mean over all elements of ``|yhat - y|`` (PyTorch's ``L1Loss``).

    Parameters
    ----------
    y : array-like
        Targets, of yhat's shape.
    yhat : ndarray
        Predictions.

    Returns
    -------
    numpy.floating
        The mean loss, in yhat's dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    return np.mean(np.abs(yhat - _like(y, yhat)))


def mean_absolute_error_deriv(y: npt.ArrayLike, yhat: Array) -> Array:
    """``sign(yhat - y) / y.size``, with ``sign(0) = 0`` (PyTorch's subgradient).

    Parameters
    ----------
    y : array-like
        Targets, of yhat's shape.
    yhat : ndarray
        Predictions.

    Returns
    -------
    ndarray
        ``dL/dyhat``, of yhat's shape and dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    return np.sign(yhat - _like(y, yhat)) / yhat.size


def poisson(y: npt.ArrayLike, yhat: Array) -> np.floating[Any]:
    """Mean over all elements of half the Poisson deviance, ``y log(y / yhat) - y + yhat``.

    The term ``y log(y / yhat)`` is 0 where ``y = 0``; this is scikit-learn's
    ``MLPRegressor(loss="poisson")`` loss (divided by its number of outputs).

    Parameters
    ----------
    y : array-like
        Non-negative targets, of yhat's shape.
    yhat : ndarray
        Positive predictions (means).

    Returns
    -------
    numpy.floating
        The mean loss, in yhat's dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    t = _like(y, yhat)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(t == 0, 0, t * np.log(t / yhat))
    return np.mean(log_term - t + yhat)


def poisson_deriv(y: npt.ArrayLike, yhat: Array) -> Array:
    """``(1 - y / yhat) / y.size``.

    Parameters
    ----------
    y : array-like
        Non-negative targets, of yhat's shape.
    yhat : ndarray
        Positive predictions.

    Returns
    -------
    ndarray
        ``dL/dyhat``, of yhat's shape and dtype.

    Raises
    ------
    ValueError
        If ``y`` does not have yhat's shape.
    """
    return (1 - _like(y, yhat) / yhat) / yhat.size


LOSSES: dict[str, LossFn] = {
    "binary_cross_entropy": binary_cross_entropy,
    "cross_entropy": cross_entropy,
    "mean_squared_error": mean_squared_error,
    "huber": huber,
    "mean_absolute_error": mean_absolute_error,
    "poisson": poisson,
}
LOSS_DERIVATIVES: dict[str, LossDerivFn] = {
    "binary_cross_entropy": binary_cross_entropy_deriv,
    "cross_entropy": cross_entropy_deriv,
    "mean_squared_error": mean_squared_error_deriv,
    "huber": huber_deriv,
    "mean_absolute_error": mean_absolute_error_deriv,
    "poisson": poisson_deriv,
}

# Output deltas dz_L(y, yhat, da_L) that replace da_L * f'(z_L) for these pairs.
_OUTPUT_DELTAS: dict[tuple[str, str], _OutputDelta] = {
    ("sigmoid", "binary_cross_entropy"): lambda y, yhat, da: (yhat - _like(y, yhat)) / yhat.size,
    ("softmax", "cross_entropy"): lambda y, yhat, da: (yhat - _onehot(y, yhat)) / len(yhat),
    ("exp", "poisson"): lambda y, yhat, da: (yhat - _like(y, yhat)) / yhat.size,
    ("softmax", "mean_squared_error"): lambda y, yhat, da: softmax_jvp(yhat, da),
    ("softmax", "huber"): lambda y, yhat, da: softmax_jvp(yhat, da),
    ("softmax", "mean_absolute_error"): lambda y, yhat, da: softmax_jvp(yhat, da),
}
_REQUIRED_OUTPUT = {
    "binary_cross_entropy": "sigmoid",
    "cross_entropy": "softmax",
    "poisson": "exp",
}

# --- dropout masks ------------------------------------------------------------------

_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finalizer on an array of uint64 (products wrap modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: npt.NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def dropout_mask(
    seed: int,
    layer: int,
    first: int,
    n_rows: int,
    n_units: int,
    p: float,
    dtype: FloatDType = "float64",
) -> Array:
    """The dropout mask ferroprop draws for hidden layer ``layer`` (0-based).

    Unit ``j`` of sample ``s`` is kept iff ``u >= p``, where ``u = (h >> 11) * 2**-53``
    and ``h = mix(mix(mix(mix(seed + GAMMA) ^ layer) ^ s) ^ j)`` (``mix`` SplitMix64's
    finalizer, arithmetic modulo 2**64). Row ``i`` of the mask is sample
    ``first + i``; a fit counts samples from 0 across its epochs (``epoch * n_samples``
    plus the batch's start, without shuffling).

    Parameters
    ----------
    seed : int
        The fit's (or the training ``forward``'s) seed, in ``[0, 2**64)``.
    layer : int
        The layer's index, 0 for the first hidden layer.
    first : int
        The sample count of row 0.
    n_rows, n_units : int
        The mask's shape.
    p : float
        The rate, in ``(0, 1)``.
    dtype : {"float64", "float32"}
        The mask's dtype.

    Returns
    -------
    ndarray of shape (n_rows, n_units)
        ``1 / (1 - p)`` (rounded to ``dtype``) where a unit is kept, 0 where dropped.
    """
    h = _mix(np.array([seed], dtype=np.uint64) + _GAMMA)
    h = _mix(h ^ np.uint64(layer))
    samples = np.uint64(first) + np.arange(n_rows, dtype=np.uint64)
    h = _mix(h ^ samples)[:, None]
    h = _mix(h ^ np.arange(n_units, dtype=np.uint64)[None, :])
    u = (h >> np.uint64(11)).astype(np.float64) * 2.0**-53
    dt = np.dtype(dtype)
    mask: Array = np.where(u >= p, dt.type(1.0 / (1.0 - p)), dt.type(0)).astype(dt)
    return mask


class mlp:
    """Multilayer perceptron keeping every forward and backward array, as the tutorial.

    Parameters
    ----------
    layersizes : sequence of int
        Sizes of the input, hidden and output layers.
    activations, derivatives : sequence of callable
        One activation and its derivative per layer (``len(layersizes) - 1``).
    lossderiv : callable
        ``lossderiv(y, yhat)``, derivative of the mean loss with respect to yhat.
    loss : callable, optional
        ``loss(y, yhat)``; by default the loss of ``lossderiv`` if it is one of ours.
    dtype : {"float64", "float32"}
        Dtype of the parameters and of every computation.

    Attributes
    ----------
    z, W, b, a, dz, dW, db, da : list
        Per-layer arrays, index 0 for the input (only ``a[0]`` and ``da[0]`` are set);
        ``None`` until computed (``W`` and ``b`` until ``initialize``/``set_weights``).
    mask : list
        Per-layer dropout masks of the last :meth:`forward` (``None`` where it dropped
        nothing); ``a[k]`` is then ``f(z[k]) * mask[k]``.
    output_delta : callable or None
        The fused (or Jacobian-vector) output delta ``dz_L(y, yhat, da_L)`` that
        replaces ``da_L * f'(z_L)``; set by :meth:`from_names`.

    Raises
    ------
    ValueError
        If there is not one activation and one derivative per layer.
    """

    def __init__(
        self,
        layersizes: Sequence[int],
        activations: Sequence[ActivationFn],
        derivatives: Sequence[ActivationFn | None],
        lossderiv: LossDerivFn,
        *,
        loss: LossFn | None = None,
        dtype: FloatDType = "float64",
    ) -> None:
        self.layersizes = tuple(int(n) for n in layersizes)
        if not len(activations) == len(derivatives) == len(self.layersizes) - 1:
            raise ValueError("need one activation and one derivative per layer")
        self.activations, self.derivatives = list(activations), list(derivatives)
        self.lossderiv = lossderiv
        known = {d: LOSSES[name] for name, d in LOSS_DERIVATIVES.items()}
        self.lossfunc = loss if loss is not None else known.get(lossderiv)
        self.dtype: np.dtype[np.floating[Any]] = np.dtype(dtype)
        self.output_delta: _OutputDelta | None = None  # fused/JVP output delta, by from_names
        # The tutorial's lists, indexed by layer: arrays, or None where nothing is computed
        # yet (typed loosely so that the code indexes them as the tutorial does).
        L = len(self.layersizes)
        self.z: list[Any]
        self.W: list[Any]
        self.b: list[Any]
        self.a: list[Any]
        self.dz: list[Any]
        self.dW: list[Any]
        self.db: list[Any]
        self.da: list[Any]
        self.z, self.W, self.b, self.a = ([None] * L for _ in range(4))
        self.dz, self.dW, self.db, self.da = ([None] * L for _ in range(4))
        self.mask: list[Any] = [None] * L

    @classmethod
    def from_names(
        cls,
        layersizes: Sequence[int],
        activations: Sequence[str],
        loss: str,
        dtype: FloatDType = "float64",
    ) -> mlp:
        """Build from activation and loss names, refusing unsupported combinations.

        Parameters
        ----------
        layersizes : sequence of int
            Sizes of the input, hidden and output layers (at least 2, each positive).
        activations : sequence of str
            One name of :data:`ACTIVATIONS` per layer; ``"softmax"`` on the output only.
        loss : str
            A name of :data:`LOSSES`; ``binary_cross_entropy`` needs a sigmoid output
            and ``cross_entropy`` a softmax output.
        dtype : {"float64", "float32"}
            Dtype of the parameters and of every computation.

        Returns
        -------
        mlp
            The model, with the fused output delta of its output/loss pair; its weights
            are set by :meth:`initialize` or :meth:`set_weights`.

        Raises
        ------
        ValueError
            For an unsupported dtype, sizes, name or combination.
        """
        if dtype not in ("float32", "float64", np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        if len(layersizes) < 2 or any(int(n) < 1 for n in layersizes):
            raise ValueError(f"layersizes must be >= 2 positive sizes, got {layersizes}")
        if len(activations) != len(layersizes) - 1:
            raise ValueError(f"need {len(layersizes) - 1} activations, got {len(activations)}")
        for name in activations:
            if name not in ACTIVATIONS:
                raise ValueError(
                    f"unknown activation {name!r}, expected one of {list(ACTIVATIONS)}"
                )
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}, expected one of {list(LOSSES)}")
        if "softmax" in activations[:-1]:
            raise ValueError("softmax is only supported in the last layer")
        if _REQUIRED_OUTPUT.get(loss, activations[-1]) != activations[-1]:
            raise ValueError(
                f"{loss} needs a {_REQUIRED_OUTPUT[loss]} output, got {activations[-1]}"
            )
        funcs = [ACTIVATIONS[n] for n in activations]
        derivs = [DERIVATIVES.get(n) for n in activations]  # softmax: None, never used
        net = cls(layersizes, funcs, derivs, LOSS_DERIVATIVES[loss], loss=LOSSES[loss], dtype=dtype)
        net.output_delta = _OUTPUT_DELTAS.get((activations[-1], loss))
        return net

    def initialize(self, seed: int = 42, sigma: float = 0.1) -> None:
        """Draw every W and b from N(0, sigma^2) with NumPy's global seed, as the tutorial.

        Parameters
        ----------
        seed : int, default 42
            Seed of NumPy's global generator (which this reseeds).
        sigma : float, default 0.1
            Standard deviation of the draws.
        """
        np.random.seed(seed)  # noqa: NPY002 (the tutorial seeds the global generator)
        for k, (n_in, n_out) in enumerate(zip(self.layersizes, self.layersizes[1:]), 1):
            self.W[k] = (np.random.randn(n_in, n_out) * sigma).astype(self.dtype)  # noqa: NPY002
            self.b[k] = (np.random.randn(1, n_out) * sigma).reshape(-1).astype(self.dtype)  # noqa: NPY002

    def set_weights(self, weights: Sequence[tuple[npt.ArrayLike, npt.ArrayLike]]) -> None:
        """Set ``[(W_1, b_1), ...]`` from copies cast to the model's dtype.

        Parameters
        ----------
        weights : sequence of (W, b) pairs
            One pair per layer: ``W`` of shape ``(n_in, n_out)``, ``b`` of ``n_out``
            values (any shape, flattened).

        Raises
        ------
        ValueError
            If the number of pairs or a shape is wrong.
        """
        if len(weights) != len(self.layersizes) - 1:
            raise ValueError(f"need {len(self.layersizes) - 1} (W, b) pairs, got {len(weights)}")
        for k, (W, b) in enumerate(weights, 1):
            W_k = np.array(W, dtype=self.dtype)
            b_k = np.array(b, dtype=self.dtype).reshape(-1)
            shape = self.layersizes[k - 1 : k + 1]
            if W_k.shape != shape or b_k.shape != shape[1:]:
                raise ValueError(f"layer {k}: got W {W_k.shape}, b {b_k.shape}; expected {shape}")
            self.W[k], self.b[k] = W_k, b_k

    def get_weights(self) -> list[tuple[Array, Array]]:
        """Return copies ``[(W_1, b_1), ...]``.

        Returns
        -------
        list of (ndarray, ndarray)
            One ``(W, b)`` pair per layer.
        """
        return [(self.W[k].copy(), self.b[k].copy()) for k in range(1, len(self.layersizes))]

    def forward(self, x: npt.ArrayLike, masks: Sequence[Array | None] | None = None) -> Array:
        """Store ``a[0] = x`` and every ``z[k]``, ``a[k]``; return the output ``a[-1]``.

        Parameters
        ----------
        x : array-like of shape (n_samples, n_inputs)
            The batch, cast to the model's dtype.
        masks : sequence of ndarray or None, optional
            Dropout masks, one entry per hidden layer (``masks[0]`` for layer 1), each
            ``None`` or an array of ``a[k]``'s shape: ``a[k] = f(z[k]) * masks[k - 1]``.

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
            The output ``yhat``.

        Raises
        ------
        ValueError
            If ``masks`` does not have one entry per hidden layer.
        """
        L = len(self.layersizes) - 1
        if masks is not None and len(masks) != L - 1:
            raise ValueError(f"need {L - 1} masks (one per hidden layer), got {len(masks)}")
        self.mask = [None] + [None if m is None else np.asarray(m) for m in masks or []] + [None]
        self.mask += [None] * (L + 1 - len(self.mask))
        self.a[0] = np.asarray(x, dtype=self.dtype)
        for k, func in enumerate(self.activations, 1):
            self.z[k] = self.a[k - 1] @ self.W[k] + self.b[k]
            self.a[k] = func(self.z[k])
            if self.mask[k] is not None:
                self.a[k] = self.a[k] * self.mask[k]
        output: Array = self.a[-1]
        return output

    def backward(self, y: npt.ArrayLike, yhat: npt.ArrayLike) -> None:
        """Fill ``da``, ``dz``, ``dW``, ``db`` from the output down to ``da[0]``.

        Parameters
        ----------
        y : array-like
            Targets of the batch of the last :meth:`forward`, as the loss takes them.
        yhat : array-like
            The output of that forward pass.

        Raises
        ------
        ValueError
            If ``y`` does not fit the loss (see the loss functions).
        """
        out = np.asarray(yhat, dtype=self.dtype)
        L = len(self.layersizes) - 1
        self.da[L] = self.lossderiv(y, out)
        for k in range(L, 0, -1):
            if k == L and self.output_delta is not None:
                self.dz[k] = self.output_delta(y, out, self.da[k])
            else:
                derivative = self.derivatives[k - 1]
                assert derivative is not None  # only softmax has none, and only as output
                self.dz[k] = self.da[k] * derivative(self.z[k])
                if self.mask[k] is not None:
                    self.dz[k] = self.dz[k] * self.mask[k]
            self.dW[k] = self.a[k - 1].T @ self.dz[k]
            self.db[k] = self.dz[k].sum(axis=0)
            self.da[k - 1] = self.dz[k] @ self.W[k].T

    def update(self, eta: float) -> None:
        """Gradient-descent step ``W -= eta dW``, ``b -= eta db``.

        Parameters
        ----------
        eta : float
            The learning rate.
        """
        step = self.dtype.type(eta)
        for k in range(1, len(self.layersizes)):
            self.W[k] -= step * self.dW[k]
            self.b[k] -= step * self.db[k]

    def predict(self, x: npt.ArrayLike) -> Array:
        """Output of a forward pass that stores nothing.

        Parameters
        ----------
        x : array-like of shape (n_samples, n_inputs)
            The inputs.

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
            The output ``yhat``.
        """
        a = np.asarray(x, dtype=self.dtype)
        for k, func in enumerate(self.activations, 1):
            a = func(a @ self.W[k] + self.b[k])
        return a

    def loss(self, x: npt.ArrayLike, y: npt.ArrayLike) -> float:
        """Mean loss on ``(x, y)``, leaving the cached lists untouched.

        Parameters
        ----------
        x : array-like of shape (n_samples, n_inputs)
            The inputs.
        y : array-like
            The targets, as the loss takes them.

        Returns
        -------
        float
            The mean loss.

        Raises
        ------
        TypeError
            If the model has no loss function (``loss`` was not given and ``lossderiv``
            is not one of ours).
        """
        return self._loss_of(y, self.predict(x))

    def _loss_of(self, y: npt.ArrayLike, yhat: Array) -> float:
        if self.lossfunc is None:
            raise TypeError("this model has no loss function: pass loss= to mlp()")
        return float(self.lossfunc(y, yhat))

    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        epochs: int,
        eta: float,
        batch_size: int | None = None,
        dropout: Sequence[float] | None = None,
        seed: int = 0,
    ) -> list[float]:
        """Minibatch gradient descent over the rows in order (no shuffling).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_inputs)
            The training inputs.
        y : array-like
            The targets, as the loss takes them.
        epochs : int
            Passes over the data.
        eta : float
            The learning rate.
        batch_size : int, optional
            Rows per minibatch (the last one may be shorter); by default the full batch.
        dropout : sequence of float, optional
            One rate per hidden layer: each batch's masks are :func:`dropout_mask` of
            ``seed``, the layer and the sample count ``epoch * n_samples + start``.
        seed : int, default 0
            The seed of the masks.

        Returns
        -------
        list of float
            Per epoch, the mean of the batch losses (taken before each update)
            weighted by batch length.
        """
        X, y = np.asarray(X, dtype=self.dtype), np.asarray(y)
        n = len(X)
        step = batch_size or n
        history = []
        for epoch in range(epochs):
            total = 0.0
            for start in range(0, n, step):
                xb, yb = X[start : start + step], y[start : start + step]
                masks = [
                    dropout_mask(seed, k, epoch * n + start, len(xb), units, p, self.dtype)
                    if p > 0
                    else None
                    for k, (p, units) in enumerate(zip(dropout or [], self.layersizes[1:-1]))
                ]
                yhat = self.forward(xb, masks if dropout is not None else None)
                total += self._loss_of(yb, yhat) * len(xb)
                self.backward(yb, yhat)
                self.update(eta)
            history.append(total / n)
        return history


# --- optimizers and learning-rate schedules ------------------------------------
# Each optimizer updates a list of (W, b) pairs in place from their gradients (dW, db) and
# its state (lists of arrays shaped like the parameters); weight decay applies to W only.


def sgd_update(
    weights: Sequence[tuple[Array, Array]],
    grads: Sequence[tuple[Array, Array]],
    velocities: Sequence[tuple[Array, Array]] | None,
    eta: float,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> None:
    """One SGD step: scikit-learn's momentum, PyTorch's weight decay.

    With ``g = dW + weight_decay * W`` (``db`` for the biases, never decayed)::

        v = momentum * v - eta * g
        W += momentum * v - eta * g   (Nesterov)   or   W += v

    and ``W -= eta * g`` without momentum.

    Parameters
    ----------
    weights : sequence of (W, b)
        The parameters, updated in place.
    grads : sequence of (dW, db)
        Their gradients.
    velocities : sequence of (vW, vb) or None
        The velocities, updated in place (``None`` without momentum).
    eta : float
        The step size.
    momentum : float, default 0.0
        The momentum ``mu``.
    nesterov : bool, default False
        Nesterov's momentum.
    weight_decay : float, default 0.0
        PyTorch's ``SGD(weight_decay=...)``, for the weights.
    """
    for k, ((W, b), (dW, db)) in enumerate(zip(weights, grads)):
        for j, (p, g) in enumerate(((W, dW + weight_decay * W if weight_decay else dW), (b, db))):
            if momentum == 0.0 or velocities is None:
                p -= eta * g
                continue
            v = velocities[k][j]
            v[...] = momentum * v - eta * g
            p += momentum * v - eta * g if nesterov else v


def adamw_update(
    weights: Sequence[tuple[Array, Array]],
    grads: Sequence[tuple[Array, Array]],
    moments: Sequence[tuple[tuple[Array, Array], tuple[Array, Array]]],
    t: int,
    eta: float,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-8,
    weight_decay: float = 0.0,
) -> None:
    """Take step ``t`` (from 1) of PyTorch's AdamW, decaying W but not b.

    As ``torch.optim.AdamW``::

        W *= 1 - eta * weight_decay
        m = beta_1 m + (1 - beta_1) g          s = beta_2 s + (1 - beta_2) g**2
        p -= eta / (1 - beta_1**t) * m / (sqrt(s) / sqrt(1 - beta_2**t) + epsilon)

    Parameters
    ----------
    weights : sequence of (W, b)
        The parameters, updated in place.
    grads : sequence of (dW, db)
        Their gradients.
    moments : sequence of ((mW, mb), (sW, sb))
        The first and second moments of each layer, updated in place.
    t : int
        The number of this step, 1 for the first.
    eta : float
        The step size.
    beta_1, beta_2 : float, default 0.9 and 0.999
        The moments' decay rates.
    epsilon : float, default 1e-8
        Added to the bias-corrected ``sqrt(s)``.
    weight_decay : float, default 0.0
        The decoupled weight decay of the weights.
    """
    correction_1, correction_2 = 1.0 - beta_1**t, 1.0 - beta_2**t
    for (W, b), (dW, db), ((mW, mb), (sW, sb)) in zip(weights, grads, moments):
        W *= 1.0 - eta * weight_decay
        for p, g, m, s in ((W, dW, mW, sW), (b, db, mb, sb)):
            m[...] = beta_1 * m + (1.0 - beta_1) * g
            s[...] = beta_2 * s + (1.0 - beta_2) * g * g
            p -= eta / correction_1 * m / (np.sqrt(s) / np.sqrt(correction_2) + epsilon)


def cosine_lr(eta: float, epoch: int, t_max: int) -> float:
    """Return the step size of PyTorch's ``CosineAnnealingLR`` (to 0).

    ``eta (1 + cos(pi epoch / t_max)) / 2``.

    Parameters
    ----------
    eta : float
        The first step size.
    epoch : int
        The epoch, 0-based (past ``t_max`` the same formula rises again).
    t_max : int
        The epochs to 0.

    Returns
    -------
    float
        The step size of ``epoch``.
    """
    return float(eta * (1.0 + np.cos(np.pi * epoch / t_max)) / 2.0)


def step_lr(eta: float, epoch: int, step_size: int, gamma: float) -> float:
    """Return the step size of PyTorch's ``StepLR``: ``eta * gamma ** (epoch // step_size)``.

    Parameters
    ----------
    eta : float
        The first step size.
    epoch : int
        The epoch, 0-based.
    step_size : int
        The epochs between two multiplications by ``gamma``.
    gamma : float
        The factor.

    Returns
    -------
    float
        The step size of ``epoch``.
    """
    return float(eta * gamma ** (epoch // step_size))


def one_cycle_lr(max_lr: float, step: int, total_steps: int) -> float:
    """Return the step size of PyTorch's ``OneCycleLR`` with its defaults.

    Two phases, cosine annealing, no momentum cycling.

    From ``max_lr / 25`` up to ``max_lr`` over the first 30% of the steps, then down to
    ``max_lr / 25 / 1e4`` at the last step (and there after it).

    Parameters
    ----------
    max_lr : float
        The peak step size.
    step : int
        The step (batch), 0-based.
    total_steps : int
        The steps of the cycle.

    Returns
    -------
    float
        The step size of ``step``.
    """
    initial = max_lr / 25.0
    final = initial / 1e4
    step = min(step, total_steps - 1)
    peak = 0.3 * total_steps - 1.0  # the step of max_lr (PyTorch's phase end)
    if step <= peak:
        start, end, pct = initial, max_lr, step / peak
    else:
        start, end, pct = max_lr, final, (step - peak) / (total_steps - 1.0 - peak)
    return float(end + (start - end) * (1.0 + np.cos(np.pi * pct)) / 2.0)


def schedule_lrs(
    schedule: str,
    eta: float,
    epochs: int,
    batches: int,
    *,
    warmup: int = 0,
    t_max: int | None = None,
    step_size: int | None = None,
    gamma: float = 0.1,
) -> Array:
    """Return the step size of every batch of a fit under one of PyTorch's schedules.

    ``warmup`` epochs come first, epoch ``e`` stepping by ``(e + 1) / (warmup + 1)`` times
    the schedule's first step size; the schedule's epochs count from the end of the
    warm-up, and ``t_max`` is by default the epochs left after it.

    Parameters
    ----------
    schedule : {"constant", "cosine", "step", "one_cycle"}
        The schedule.
    eta : float
        Its step size (``max_lr`` of ``"one_cycle"``).
    epochs, batches : int
        Epochs, and batches per epoch.
    warmup : int, default 0
        Epochs of linear warm-up.
    t_max : int, optional
        The epochs of ``"cosine"`` and ``"one_cycle"``.
    step_size : int, optional
        The period of ``"step"``.
    gamma : float, default 0.1
        The factor of ``"step"``.

    Returns
    -------
    ndarray of shape (epochs, batches)
        The step sizes.

    Raises
    ------
    ValueError
        For an unknown schedule.
    """
    horizon = t_max if t_max is not None else max(epochs - warmup, 1)
    first = {"one_cycle": eta / 25.0}.get(schedule, eta)
    lrs = np.empty((epochs, batches))
    for e in range(epochs):
        for i in range(batches):
            if e < warmup:
                lrs[e, i] = first * (e + 1) / (warmup + 1)
                continue
            s = e - warmup
            if schedule == "constant":
                lrs[e, i] = eta
            elif schedule == "cosine":
                lrs[e, i] = cosine_lr(eta, s, horizon)
            elif schedule == "step":
                assert step_size is not None, "step needs step_size"
                lrs[e, i] = step_lr(eta, s, step_size, gamma)
            elif schedule == "one_cycle":
                lrs[e, i] = one_cycle_lr(eta, s * batches + i, horizon * batches)
            else:
                raise ValueError(f"unknown schedule {schedule!r}")
    return lrs


def train(
    net: mlp,
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    lrs: npt.ArrayLike,
    batch_size: int,
    optimizer: str = "sgd",
    settings: dict[str, Any] | None = None,
) -> None:
    """Train ``net`` on minibatches in order (no shuffling), stepping by ``lrs``.

    Batch ``i`` of epoch ``e`` steps by ``lrs[e, i]``.

    Parameters
    ----------
    net : mlp
        The model, trained in place.
    X : array-like of shape (n_samples, n_inputs)
        The inputs.
    y : array-like
        The targets.
    lrs : array-like of shape (epochs, batches)
        The step size of each batch (see :func:`schedule_lrs`).
    batch_size : int
        Rows per minibatch.
    optimizer : {"sgd", "adamw"}, default "sgd"
        :func:`sgd_update` or :func:`adamw_update`.
    settings : dict, optional
        Their keyword arguments (``momentum``, ``weight_decay``, ``beta_1``, ...).
    """
    settings = settings or {}
    X, y, lrs = np.asarray(X, dtype=net.dtype), np.asarray(y), np.asarray(lrs)
    weights = [(net.W[k], net.b[k]) for k in range(1, len(net.layersizes))]
    zeros = [(np.zeros_like(W), np.zeros_like(b)) for W, b in weights]
    state_1 = [(np.zeros_like(W), np.zeros_like(b)) for W, b in weights]
    t = 0
    for epoch_lrs in lrs:
        for i, start in enumerate(range(0, len(X), batch_size)):
            xb, yb = X[start : start + batch_size], y[start : start + batch_size]
            net.backward(yb, net.forward(xb))
            grads = [(net.dW[k], net.db[k]) for k in range(1, len(net.layersizes))]
            t += 1
            if optimizer == "adamw":
                adamw_update(weights, grads, list(zip(zeros, state_1)), t, epoch_lrs[i], **settings)
            else:
                sgd_update(weights, grads, zeros, epoch_lrs[i], **settings)


def tutorial_data() -> tuple[Array, Array]:
    """The tutorial's data: 1000 points of ``make_circles`` with seed 0.

    Needs scikit-learn. Reseeds NumPy's global generator, as the tutorial does.

    Returns
    -------
    X : ndarray of shape (1000, 2)
        The points.
    y : ndarray of shape (1000, 1)
        Their classes, 0 (outer circle) or 1 (inner circle).
    """
    from sklearn.datasets import make_circles

    np.random.seed(0)  # noqa: NPY002 (make_circles draws from the global generator)
    X, y = make_circles(n_samples=1000, factor=0.5, noise=0.1)
    return X, y.reshape(-1, 1)
