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
cross-entropy and softmax with categorical cross-entropy use the fused delta
``dz_L = (yhat - y) / N`` (``N`` the divisor of the mean), and softmax with mean
squared error uses the softmax Jacobian-vector product instead of ``f'``.

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

import numpy as np

# --- activations, each followed by its derivative -------------------------------


def identity(z):
    """Identity, ``f(z) = z``."""
    return z


def identity_deriv(z):
    """Derivative of the identity: ones."""
    return np.ones_like(z)


def relu(z):
    """Rectified linear unit, ``max(z, 0)``."""
    return np.maximum(z, z.dtype.type(0))


def relu_deriv(z):
    """Derivative of ReLU: 1 where ``z > 0``, else 0 (so ``relu'(0) = 0``)."""
    return (z > 0).astype(z.dtype)


def leaky_relu(z):
    """Leaky ReLU with slope 0.01 for ``z <= 0``."""
    return np.where(z > 0, z, z * z.dtype.type(0.01))


def leaky_relu_deriv(z):
    """Derivative of leaky ReLU: 1 where ``z > 0``, else 0.01."""
    return np.where(z > 0, z.dtype.type(1), z.dtype.type(0.01))


def sigmoid(z):
    """Logistic sigmoid ``1 / (1 + exp(-z))``, input clipped to [-500, 500]."""
    with np.errstate(over="ignore"):  # exp(500) overflows float32 to inf: sigmoid is 0
        return 1 / (1 + np.exp(-np.clip(z, -500, 500)))


def sigmoid_deriv(z):
    """Derivative of the sigmoid, ``s (1 - s)`` (the tutorial's factor 2 was a bug)."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z):
    """Hyperbolic tangent."""
    return np.tanh(z)


def tanh_deriv(z):
    """Derivative of tanh, ``1 - tanh(z)^2``."""
    return 1 - np.tanh(z) ** 2


def softmax(z):
    """Row-wise softmax, stabilised by subtracting each row's maximum."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_jvp(a, da):
    """Gradient through softmax: ``dz = a * (da - sum(da * a, axis=1))``.

    Softmax mixes a row's entries, so it has no elementwise derivative; this is
    the product of ``da`` with its Jacobian, given the softmax output ``a``.
    """
    return a * (da - np.sum(da * a, axis=1, keepdims=True))


ACTIVATIONS = {
    "identity": identity,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
}
#: Elementwise derivatives; softmax has none (see :func:`softmax_jvp`).
DERIVATIVES = {
    "identity": identity_deriv,
    "relu": relu_deriv,
    "leaky_relu": leaky_relu_deriv,
    "sigmoid": sigmoid_deriv,
    "tanh": tanh_deriv,
}

# --- losses (means), each followed by its derivative with respect to yhat --------


def _like(y, yhat):
    """Targets as an array of yhat's dtype, refusing shapes that would broadcast."""
    y = np.asarray(y, dtype=yhat.dtype)
    if y.shape != yhat.shape:
        raise ValueError(f"y has shape {y.shape}, expected {yhat.shape} like yhat")
    return y


def _onehot(y, yhat):
    """Categorical targets: 1-D integer labels become one-hot rows of yhat's dtype."""
    y = np.asarray(y)
    if y.ndim != 1:
        return _like(y, yhat)
    k = yhat.shape[1]
    if not np.issubdtype(y.dtype, np.integer) or len(y) != len(yhat):
        raise ValueError(f"labels must be {len(yhat)} integers, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise ValueError(f"labels must lie in [0, {k}), got [{y.min()}, {y.max()}]")
    return np.eye(k, dtype=yhat.dtype)[y]


def binary_cross_entropy(y, yhat):
    """Mean over all elements of ``-(y log p + (1 - y) log(1 - p))``, p = yhat clipped."""
    eps = np.finfo(yhat.dtype).eps
    y, p = _like(y, yhat), np.clip(yhat, eps, 1 - eps)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def binary_cross_entropy_deriv(y, yhat):
    """``(p - y) / (p (1 - p)) / y.size`` with p = yhat clipped to [eps, 1 - eps]."""
    eps = np.finfo(yhat.dtype).eps
    y, p = _like(y, yhat), np.clip(yhat, eps, 1 - eps)
    return (p - y) / (p * (1 - p)) / y.size


def cross_entropy(y, yhat):
    """Mean over rows of ``-sum_j y_ij log p_ij``; y one-hot/probabilities or labels."""
    p = np.clip(yhat, np.finfo(yhat.dtype).eps, 1)
    return np.mean(-np.sum(_onehot(y, yhat) * np.log(p), axis=1))


def cross_entropy_deriv(y, yhat):
    """``-y / p / n`` with p = yhat clipped to [eps, 1] and n the number of rows."""
    p = np.clip(yhat, np.finfo(yhat.dtype).eps, 1)
    return -_onehot(y, yhat) / p / len(yhat)


def mean_squared_error(y, yhat):
    """Mean over all elements of ``(yhat - y)^2``."""
    return np.mean((yhat - _like(y, yhat)) ** 2)


def mean_squared_error_deriv(y, yhat):
    """``2 (yhat - y) / y.size``."""
    return 2 * (yhat - _like(y, yhat)) / yhat.size


LOSSES = {
    "binary_cross_entropy": binary_cross_entropy,
    "cross_entropy": cross_entropy,
    "mean_squared_error": mean_squared_error,
}
LOSS_DERIVATIVES = {
    "binary_cross_entropy": binary_cross_entropy_deriv,
    "cross_entropy": cross_entropy_deriv,
    "mean_squared_error": mean_squared_error_deriv,
}

# Output deltas dz_L(y, yhat, da_L) that replace da_L * f'(z_L) for these pairs.
_OUTPUT_DELTAS = {
    ("sigmoid", "binary_cross_entropy"): lambda y, yhat, da: (yhat - _like(y, yhat)) / yhat.size,
    ("softmax", "cross_entropy"): lambda y, yhat, da: (yhat - _onehot(y, yhat)) / len(yhat),
    ("softmax", "mean_squared_error"): lambda y, yhat, da: softmax_jvp(yhat, da),
}
_REQUIRED_OUTPUT = {"binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}


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
        Per-layer arrays, index 0 for the input (only ``a[0]`` and ``da[0]`` are set).
    """

    def __init__(
        self, layersizes, activations, derivatives, lossderiv, *, loss=None, dtype="float64"
    ):
        self.layersizes = tuple(int(n) for n in layersizes)
        if not len(activations) == len(derivatives) == len(self.layersizes) - 1:
            raise ValueError("need one activation and one derivative per layer")
        self.activations, self.derivatives = list(activations), list(derivatives)
        self.lossderiv = lossderiv
        known = {d: LOSSES[name] for name, d in LOSS_DERIVATIVES.items()}
        self.lossfunc = loss if loss is not None else known.get(lossderiv)
        self.dtype = np.dtype(dtype)
        self.output_delta = None  # fused/JVP output delta, set by from_names
        L = len(self.layersizes)
        self.z, self.W, self.b, self.a = ([None] * L for _ in range(4))
        self.dz, self.dW, self.db, self.da = ([None] * L for _ in range(4))

    @classmethod
    def from_names(cls, layersizes, activations, loss, dtype="float64"):
        """Build from activation and loss names, refusing unsupported combinations."""
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

    def initialize(self, seed=42, sigma=0.1):
        """Draw every W and b from N(0, sigma^2) with NumPy's global seed, as the tutorial."""
        np.random.seed(seed)  # noqa: NPY002 (the tutorial seeds the global generator)
        for k, (n_in, n_out) in enumerate(zip(self.layersizes, self.layersizes[1:]), 1):
            self.W[k] = (np.random.randn(n_in, n_out) * sigma).astype(self.dtype)  # noqa: NPY002
            self.b[k] = (np.random.randn(1, n_out) * sigma).reshape(-1).astype(self.dtype)  # noqa: NPY002

    def set_weights(self, weights):
        """Set ``[(W_1, b_1), ...]`` from copies cast to the model's dtype."""
        if len(weights) != len(self.layersizes) - 1:
            raise ValueError(f"need {len(self.layersizes) - 1} (W, b) pairs, got {len(weights)}")
        for k, (W, b) in enumerate(weights, 1):
            W = np.array(W, dtype=self.dtype)
            b = np.array(b, dtype=self.dtype).reshape(-1)
            shape = self.layersizes[k - 1 : k + 1]
            if W.shape != shape or b.shape != shape[1:]:
                raise ValueError(f"layer {k}: got W {W.shape}, b {b.shape}; expected {shape}")
            self.W[k], self.b[k] = W, b

    def get_weights(self):
        """Return copies ``[(W_1, b_1), ...]``."""
        return [(self.W[k].copy(), self.b[k].copy()) for k in range(1, len(self.layersizes))]

    def forward(self, x):
        """Store ``a[0] = x`` and every ``z[k]``, ``a[k]``; return the output ``a[-1]``."""
        self.a[0] = np.asarray(x, dtype=self.dtype)
        for k, func in enumerate(self.activations, 1):
            self.z[k] = self.a[k - 1] @ self.W[k] + self.b[k]
            self.a[k] = func(self.z[k])
        return self.a[-1]

    def backward(self, y, yhat):
        """Fill ``da``, ``dz``, ``dW``, ``db`` from the output down to ``da[0]``."""
        yhat = np.asarray(yhat, dtype=self.dtype)
        L = len(self.layersizes) - 1
        self.da[L] = self.lossderiv(y, yhat)
        for k in range(L, 0, -1):
            if k == L and self.output_delta is not None:
                self.dz[k] = self.output_delta(y, yhat, self.da[k])
            else:
                self.dz[k] = self.da[k] * self.derivatives[k - 1](self.z[k])
            self.dW[k] = self.a[k - 1].T @ self.dz[k]
            self.db[k] = self.dz[k].sum(axis=0)
            self.da[k - 1] = self.dz[k] @ self.W[k].T

    def update(self, eta):
        """Gradient-descent step ``W -= eta dW``, ``b -= eta db``."""
        eta = self.dtype.type(eta)
        for k in range(1, len(self.layersizes)):
            self.W[k] -= eta * self.dW[k]
            self.b[k] -= eta * self.db[k]

    def predict(self, x):
        """Output of a forward pass that stores nothing."""
        a = np.asarray(x, dtype=self.dtype)
        for k, func in enumerate(self.activations, 1):
            a = func(a @ self.W[k] + self.b[k])
        return a

    def loss(self, x, y):
        """Mean loss on ``(x, y)``, leaving the cached lists untouched."""
        return float(self.lossfunc(y, self.predict(x)))

    def fit(self, X, y, epochs, eta, batch_size=None):
        """Minibatch gradient descent over the rows in order (no shuffling).

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
        for _ in range(epochs):
            total = 0.0
            for start in range(0, n, step):
                xb, yb = X[start : start + step], y[start : start + step]
                yhat = self.forward(xb)
                total += float(self.lossfunc(yb, yhat)) * len(xb)
                self.backward(yb, yhat)
                self.update(eta)
            history.append(total / n)
        return history


def tutorial_data():
    """The tutorial's data: 1000 points of ``make_circles`` with seed 0, y of shape (n, 1)."""
    from sklearn.datasets import make_circles

    np.random.seed(0)  # noqa: NPY002 (make_circles draws from the global generator)
    X, y = make_circles(n_samples=1000, factor=0.5, noise=0.1)
    return X, y.reshape(-1, 1)
