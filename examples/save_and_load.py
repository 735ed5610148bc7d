"""Saving a trained Network to a .safetensors file, loading it back, and reading the file
with other tools.

1. Train a [4, 16, 8, 3] network (relu, tanh, softmax, cross-entropy) on iris, save it
   with ``Network.save`` and load it with ``Network.load``: the predictions are
   bit-identical.
2. Read the same file with ``safetensors.numpy.load_file``: the tensors are
   ``layers.{k}.weight`` (``W.T``, shape ``(n_out, n_in)``, the layout of PyTorch's
   ``nn.Linear``) and ``layers.{k}.bias``, and the metadata holds the architecture. A
   forward pass in plain NumPy from those arrays gives the network's predictions.
3. If PyTorch is installed, build the equivalent ``torch.nn.Sequential`` of ``Linear``
   layers, load the file into it with ``safetensors.torch.load_file`` (renaming the keys
   to the Sequential's indices), and check that its predictions match; without PyTorch
   this part says it was skipped.

The file is written to a temporary directory, or to the path given.

Run: python examples/save_and_load.py [MODEL.safetensors]   (a few seconds; more if
PyTorch has to be imported)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

from ferroprop import Network

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("path", nargs="?", type=Path, help="where to write the model file")
args = parser.parse_args()
path = args.path or Path(tempfile.mkdtemp(prefix="ferroprop-")) / "iris.safetensors"

# -- 1. Train, save, load. --------------------------------------------------------------
X, y = load_iris(return_X_y=True)
X = (X - X.mean(axis=0)) / X.std(axis=0)
net = Network([4, 16, 8, 3], ["relu", "tanh", "softmax"], "cross_entropy", seed=0)
net.fit(X, y, epochs=200, learning_rate=0.01, batch_size=16, optimizer="adam", seed=0)
accuracy = np.mean(net.predict(X).argmax(axis=1) == y)
print(f"trained {net}: training accuracy {accuracy:.3f}")

net.save(path)
print(f"saved to {path} ({path.stat().st_size} bytes)")
loaded = Network.load(path)
print(f"loaded {loaded}")
same = np.array_equal(loaded.predict(X), net.predict(X))
print(f"loaded network's predictions identical to the original's: {same}")
assert same

# -- 2. The file, read by the safetensors library. ------------------------------------------
try:
    from safetensors import safe_open
    from safetensors.numpy import load_file
except ImportError:
    print("safetensors is not installed (pip install safetensors): the rest is skipped")
    raise SystemExit(0) from None

tensors = load_file(str(path))
with safe_open(str(path), framework="numpy") as f:
    metadata = f.metadata()
print("\ntensors in the file:")
for name in sorted(tensors):
    print(f"  {name:<16} {tensors[name].dtype} {tensors[name].shape}")
print(f"metadata: {metadata}")


# A forward pass in plain NumPy with the file's arrays: z = a @ weight.T + bias.
def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax of each row of ``z``.

    Parameters
    ----------
    z : ndarray of shape (n_samples, n_classes)
        The output layer's ``z``.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        ``exp(z)`` normalized to sum to 1 in each row (computed after subtracting each
        row's maximum, which changes nothing but avoids overflow).
    """
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


activations = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "softmax": softmax}
a = X
for k, name in enumerate(metadata["activations"].split(",")):
    a = activations[name](a @ tensors[f"layers.{k}.weight"].T + tensors[f"layers.{k}.bias"])
difference = np.abs(a - net.predict(X)).max()
print(f"NumPy forward pass from the file vs Network.predict: max difference {difference:.1e}")
assert difference < 1e-12

# -- 3. The same model in PyTorch. -----------------------------------------------------------
try:
    import torch
    from safetensors.torch import load_file as load_torch_file
except ImportError:
    print("\nPyTorch is not installed: the PyTorch part was skipped (pip install torch)")
    raise SystemExit(0) from None

sizes = [int(n) for n in metadata["layer_sizes"].split(",")]
torch_activation = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}
modules: list[torch.nn.Module] = []
for k, name in enumerate(metadata["activations"].split(",")):
    modules.append(torch.nn.Linear(sizes[k], sizes[k + 1], dtype=torch.float64))
    modules.append(torch.nn.Softmax(dim=1) if name == "softmax" else torch_activation[name]())
model = torch.nn.Sequential(*modules)
# "layers.{k}.weight" -> "{2k}.weight": each Linear is followed by its activation.
state = {
    f"{2 * int(key.split('.')[1])}.{key.split('.')[2]}": value
    for key, value in load_torch_file(str(path)).items()
}
model.load_state_dict(state)
print(f"\n{model}")
with torch.no_grad():
    torch_output = model(torch.from_numpy(X)).numpy()
difference = np.abs(torch_output - net.predict(X)).max()
print(f"PyTorch vs ferroprop predictions: max difference {difference:.1e}")
assert difference < 1e-12
