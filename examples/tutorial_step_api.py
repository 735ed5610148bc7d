"""The tutorial's network, step by step: forward, backward, update, with every array
of the chain rule inspectable, then checked against the pure-NumPy reference.

Run: python examples/tutorial_step_api.py
"""

import numpy as np
from sklearn.datasets import make_circles

from ferroprop import Network, reference

X, y = make_circles(n_samples=1000, factor=0.5, noise=0.1, random_state=0)
net = Network([2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy", seed=0)

# One step on a tiny batch, printing what backpropagation computes.
xb, yb = X[:3], y[:3]
yhat = net.forward(xb)
net.backward(yb)
for k, layer in enumerate(net.layers, 1):
    print(f"layer {k}: W {layer.W.shape}, z {layer.z.shape}, a {layer.a.shape}")
    print(f"  dz = da * f'(z):\n{layer.dz}")
    print(f"  dW = a_prev.T @ dz:\n{layer.dW}")
    print(f"  db = sum(dz, axis=0): {layer.db}")

# The same step in plain NumPy gives the same numbers.
ref = reference.mlp.from_names([2, 4, 3, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy")
ref.set_weights(net.get_weights())
ref.backward(yb.reshape(-1, 1), ref.forward(xb))
worst = max(np.abs(layer.dW - ref.dW[k]).max() for k, layer in enumerate(net.layers, 1))
print(f"largest difference from the NumPy reference: {worst:.1e}")
error = net.gradient_check(xb, yb)
print(f"gradient check (max relative error vs finite differences): {error:.1e}")

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
