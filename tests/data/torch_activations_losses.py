"""Writes torch_activations_losses.npz: PyTorch's values and gradients of the activations
and losses ferroprop shares with it, in float64, on a fixed grid and batch.

Run with an environment that has torch (ferroprop does not depend on it):

    python tests/data/torch_activations_losses.py

tests/test_activations_losses.py compares ferroprop with the file always, and with torch
live when torch imports.
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent


def grid():
    """256 inputs (a power of two: the test scales gradients by it exactly): a uniform
    grid, zero, tiny values, both sides of softplus's threshold and large magnitudes."""
    special = [0.0, 1e-300, -1e-300, 1e-8, -1e-8, 19.999, 20.0, 20.001, -20.0, 25.0, 30.0]
    special += [-30.0, 50.0, -50.0, 100.0, -100.0, 700.0, -700.0, 1e4, -1e4, 1e6, -1e6]
    uniform = np.linspace(-8.0, 8.0, 256 - len(special))
    return np.concatenate([special, uniform])


# ferroprop's name -> torch's function (defaults: GELU exact, ELU alpha 1, softplus beta 1
# threshold 20).
ACTIVATIONS = {
    "gelu": F.gelu,
    "silu": F.silu,
    "elu": F.elu,
    "softplus": F.softplus,
    "exp": torch.exp,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
}


def batch():
    """Predictions and targets of shape (16, 3), with differences of exactly 0 and of
    magnitude below and above Huber's delta 1; Poisson counts with zeros."""
    rng = np.random.default_rng(20240607)
    y = rng.normal(size=(16, 3)) * 2.0
    yhat = y + rng.normal(size=(16, 3)) * 1.5
    yhat[0] = y[0]  # d = 0: the L1 subgradient
    yhat[1] = y[1] + np.array([0.5, -0.999, 1.0])
    z = rng.normal(size=(16, 3))  # log-means of a Poisson regression
    counts = rng.poisson(np.exp(z)).astype(np.float64)
    counts[2] = 0.0
    return yhat, y, z, counts


def activations(z):
    out = {}
    for name, f in ACTIVATIONS.items():
        t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
        a = f(t)
        (grad,) = torch.autograd.grad(a, t, torch.ones_like(a))
        out[f"{name}_value"] = a.detach().numpy()
        out[f"{name}_grad"] = grad.numpy()
    return out


def losses(yhat, y, z, counts):
    out = {}
    for name, f in {
        "huber": torch.nn.HuberLoss(delta=1.0),
        "mean_absolute_error": torch.nn.L1Loss(),
    }.items():
        p = torch.tensor(yhat, dtype=torch.float64, requires_grad=True)
        value = f(p, torch.tensor(y, dtype=torch.float64))
        (grad,) = torch.autograd.grad(value, p)
        out[f"{name}_value"] = np.array(value.item())
        out[f"{name}_grad"] = grad.numpy()
    # The Poisson negative log-likelihood on the log-mean z (mean of e^z − y z), and its
    # gradient with respect to z: ferroprop's exp output with the poisson loss.
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    value = torch.nn.PoissonNLLLoss(log_input=True, full=False)(t, torch.tensor(counts))
    (grad,) = torch.autograd.grad(value, t)
    out["poisson_nll_value"] = np.array(value.item())
    out["poisson_nll_grad_z"] = grad.numpy()
    return out


def main():
    z = grid()
    yhat, y, log_mean, counts = batch()
    arrays = {"z": z, "yhat": yhat, "y": y, "log_mean": log_mean, "counts": counts}
    arrays.update(activations(z))
    arrays.update(losses(yhat, y, log_mean, counts))
    np.savez(HERE / "torch_activations_losses.npz", torch_version=torch.__version__, **arrays)


if __name__ == "__main__":
    main()
