"""Writes torch_dropout.npz: PyTorch's gradients of two networks with inverted dropout on
their hidden layers, for fixed masks (ferroprop's, drawn by ``reference.dropout_mask``).

Run with a Python that has torch and NumPy: ``python tests/data/torch_dropout.py``. The
test (tests/test_dropout.py) compares ferroprop's training pass against these numbers, and
against torch itself when torch imports.
"""

import importlib.util
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
SEED = 123  # the masks' seed: ferroprop's forward(X, training=True, seed=SEED)

# name: (sizes, hidden activations, output, loss, dropout rates)
CASES = {
    "ce": ([4, 7, 6, 3], ["tanh", "relu"], "softmax", "cross_entropy", [0.5, 0.25]),
    "mse": ([4, 8, 5, 2], ["leaky_relu", "sigmoid"], "identity", "mean_squared_error", [0.3, 0.6]),
}
ACT = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.01),
    "identity": lambda z: z,
}


def reference_module():
    """ferroprop.reference by its path (NumPy only: no need for the compiled core)."""
    path = HERE.parent.parent / "python" / "ferroprop" / "reference.py"
    spec = importlib.util.spec_from_file_location("reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inputs(name):
    sizes, _, _, loss, rates = CASES[name]
    rng = np.random.default_rng(7)
    n = 9
    X = rng.normal(size=(n, sizes[0]))
    y = (
        rng.integers(0, sizes[-1], n)
        if loss == "cross_entropy"
        else rng.normal(size=(n, sizes[-1]))
    )
    weights = [
        (rng.normal(size=(i, o)) / np.sqrt(i), rng.normal(size=o) * 0.1)
        for i, o in zip(sizes[:-1], sizes[1:])
    ]
    ref = reference_module()
    masks = [
        ref.dropout_mask(SEED, k, 0, n, units, p)
        for k, (p, units) in enumerate(zip(rates, sizes[1:-1]))
    ]
    return X, y, weights, masks


def torch_gradients(name, X, y, weights, masks):
    """The mean loss and (dW, db) of each layer, by torch's autograd in float64."""
    _, hidden, _, loss, _ = CASES[name]
    params = [
        (torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))
        for W, b in weights
    ]
    a = torch.tensor(X)
    for k, (W, b) in enumerate(params):
        z = a @ W + b
        if k < len(hidden):
            a = ACT[hidden[k]](z) * torch.tensor(masks[k])  # inverted dropout, fixed mask
        else:
            a = z
    if loss == "cross_entropy":
        value = torch.nn.functional.cross_entropy(a, torch.tensor(y))
    else:
        value = torch.nn.functional.mse_loss(a, torch.tensor(y))
    value.backward()
    grads = [(W.grad.numpy(), b.grad.numpy()) for W, b in params]
    return value.item(), grads


def main():
    out = {}
    for name in CASES:
        X, y, weights, masks = inputs(name)
        loss, grads = torch_gradients(name, X, y, weights, masks)
        out[f"{name}/X"], out[f"{name}/y"], out[f"{name}/loss"] = X, y, np.float64(loss)
        for k, ((W, b), (dW, db)) in enumerate(zip(weights, grads)):
            out[f"{name}/W{k}"], out[f"{name}/b{k}"] = W, b
            out[f"{name}/dW{k}"], out[f"{name}/db{k}"] = dW, db
        for k, m in enumerate(masks):
            out[f"{name}/mask{k}"] = m
    # torch's own dropout keeps x / (1 - p) or gives 0: the values of ferroprop's masks.
    torch.manual_seed(0)
    for p in (0.25, 0.5):
        kept = torch.nn.functional.dropout(torch.ones(1000, dtype=torch.float64), p, True)
        out[f"dropout_values/{p}"] = np.unique(kept.numpy())
    np.savez(HERE / "torch_dropout.npz", **out)


if __name__ == "__main__":
    main()
