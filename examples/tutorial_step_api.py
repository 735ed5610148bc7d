"""The tutorial's network, step by step: forward, backward, update, with every array
of the chain rule inspectable, then checked three ways.

What it shows, on a batch of 3 samples of the circles and the network [2, 4, 3, 1]
(relu, relu, sigmoid, binary cross-entropy):

1. the shapes and values of ``z``, ``a`` (forward) and ``dz``, ``dW``, ``db``, ``da``
   (backward) of every layer;
2. the total derivative of the loss with respect to ONE weight, ``W2[2, 0]``, written
   out as the tutorial's chain-rule factors and computed by hand in NumPy from the
   printed ``z``, ``a`` and ``W``, against the backpropagated ``dW`` and a central
   finite difference of the loss (all three must agree);
3. the same step in the pure-NumPy reference, ``Network.gradient_check``, and then
   training with the step API in Python and with ``fit`` in one Rust call.

Layers are numbered from 1 as in the tutorial: ``W2`` is ``net.layers[1].W``.

Run: python examples/tutorial_step_api.py   (about 2 seconds)
"""

import numpy as np
from sklearn.datasets import make_circles

from ferroprop import Network, reference

np.set_printoptions(precision=5, suppress=True)

X, y = make_circles(n_samples=1000, factor=0.5, noise=0.1, random_state=0)
net = Network([2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy", seed=0)

# -- 1. One step on a tiny batch, printing everything backpropagation computes. ----------
xb, yb = X[:3], y[:3].astype(np.float64)
yhat = net.forward(xb)
net.backward(yb)
print(f"batch: x =\n{xb}\ny = {yb}\n")
for k, layer in enumerate(net.layers, 1):
    n_in, n_out = layer.W.shape
    print(f"layer {k} ({n_in} -> {n_out}, {net.activations[k - 1]}): W {layer.W.shape}")
    print(f"  z{k} = a{k - 1} @ W{k} + b{k}, shape {layer.z.shape}:\n{layer.z}")
    print(f"  a{k} = f(z{k}), shape {layer.a.shape}:\n{layer.a}")
    print(f"  da{k} = dL/da{k}, shape {layer.da.shape}:\n{layer.da}")
    print(f"  dz{k} = da{k} * f'(z{k}), shape {layer.dz.shape}:\n{layer.dz}")
    print(f"  dW{k} = a{k - 1}.T @ dz{k}, shape {layer.dW.shape}:\n{layer.dW}")
    print(f"  db{k} = sum(dz{k}, axis=0), shape {layer.db.shape}: {layer.db}\n")

# -- 2. The total derivative for one weight, by hand, from the printed arrays. ------------
# W2[i, j] connects unit i of layer 1 to unit j of layer 2. It reaches the loss through
# every sample n of the batch, so dL/dW2[i, j] is a SUM over samples of the product of the
# factors along that sample's path:
#   dL/dW2[i,j] = sum_n  dL/dyhat_n * dyhat_n/dz3_n * dz3_n/da2[n,j]
#                        * da2[n,j]/dz2[n,j] * dz2[n,j]/dW2[i,j]
#               = sum_n  (yhat_n - y_n) / (N yhat_n (1 - yhat_n))   (mean BCE, N = 3)
#                        * sigmoid'(z3_n) * W3[j, 0] * relu'(z2[n, j]) * a1[n, i]
# We pick W2[2, 0]: unit 0 of layer 2 is active for all 3 samples and unit 2 of layer 1 is
# non-zero for all 3, so all three terms of the sum contribute.
i, j = 2, 0
L1, L2, L3 = net.layers
N = yb.size
z2, z3 = L2.z, L3.z[:, 0]
a1 = L1.a
W3 = L3.W
yhat_hand = 1.0 / (1.0 + np.exp(-z3))  # sigmoid(z3), recomputed by hand
dL_dyhat = (yhat_hand - yb) / (N * yhat_hand * (1.0 - yhat_hand))
dyhat_dz3 = yhat_hand * (1.0 - yhat_hand)
dz3_da2 = np.full(N, W3[j, 0])
da2_dz2 = (z2[:, j] > 0).astype(np.float64)
dz2_dW2 = a1[:, i]
terms = dL_dyhat * dyhat_dz3 * dz3_da2 * da2_dz2 * dz2_dW2
by_hand = terms.sum()
print(f"dL/dW2[{i},{j}] by the chain rule, one row per sample:")
print("  n  dL/dyhat_n  sigmoid'(z3)   W3[j,0]  relu'(z2)   a1[n,i]   (dL/dyhat is da3)")
for n in range(N):
    print(
        f"{n:>3} {dL_dyhat[n]:>11.5f} {dyhat_dz3[n]:>13.5f} {dz3_da2[n]:>9.5f} "
        f"{da2_dz2[n]:>10.0f} {dz2_dW2[n]:>9.5f}   term {terms[n]:+.10f}"
    )
backprop = L2.dW[i, j]

# Central finite difference of the mean loss, moving only W2[i, j].
if np.min(np.abs(z2[:, j])) < 1e-3:
    raise SystemExit("a relu input is too close to its kink for a finite difference")
W2 = L2.W.copy()
eps = 1e-6
losses = []
for sign in (+1, -1):
    moved = W2.copy()
    moved[i, j] += sign * eps
    L2.W = moved
    losses.append(net.loss(xb, yb))
L2.W = W2  # put the weight back exactly
finite_difference = (losses[0] - losses[1]) / (2 * eps)

print(f"  {'sum of the terms (by hand)':<31} {by_hand:+.12f}")
print(f"  {f'backpropagated dW2[{i},{j}]':<31} {backprop:+.12f}")
print(f"  {'central finite difference':<31} {finite_difference:+.12f}  (eps {eps:g})")
assert np.isclose(by_hand, backprop, rtol=1e-12, atol=0), (by_hand, backprop)
assert np.isclose(finite_difference, backprop, rtol=1e-6, atol=1e-10), (finite_difference, backprop)
print("  all three agree\n")

# -- 3. The same step in plain NumPy gives the same numbers. -----------------------------
ref = reference.mlp.from_names([2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy")
ref.set_weights(net.get_weights())
ref.backward(yb.reshape(-1, 1), ref.forward(xb))
worst = max(np.abs(layer.dW - ref.dW[k]).max() for k, layer in enumerate(net.layers, 1))
print(f"largest difference from the NumPy reference: {worst:.1e}")
assert worst < 1e-12
error = net.gradient_check(xb, yb)
print(f"gradient check (max relative error vs finite differences): {error:.1e}")
assert error < 1e-6

# Plain gradient descent with the step API, then the same thing in one Rust call.
for _epoch in range(200):
    for start in range(0, len(X), 16):
        net.forward(X[start : start + 16])
        net.backward(y[start : start + 16])
        net.update(0.03)
print(f"step API, 200 epochs: accuracy {np.mean((net.predict(X)[:, 0] > 0.5) == y):.3f}")

net2 = Network([2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy", seed=0)
history = net2.fit(X, y, epochs=200, learning_rate=0.03, batch_size=16, seed=0)
accuracy = np.mean((net2.predict(X)[:, 0] > 0.5) == y)
print(f"fit, 200 epochs: loss {history[-1]:.4f}, accuracy {accuracy:.3f}")
