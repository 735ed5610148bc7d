"""Saving and loading a fitted estimator without pickle: ``est.save(path)``,
``MLPClassifier.load(path)``, ``MLPRegressor.load(path)``.

The file is the network's safetensors file (``Network.to_bytes``: the weights and the
optimizer's state) with one more metadata entry, ``METADATA_KEY``: a JSON document of the
estimator's class, its ``get_params()`` and its fitted attributes (``classes_``,
``n_iter_``, ``t_``, ``loss_curve_``, the label binarizer's state, the stopping rule's
state, ...). Values JSON has no type for are tagged (``{"__ndarray__": ..., "dtype": ...}``,
tuples, NumPy scalars, dicts with any keys, a ``RandomState``'s state), so they come back
as they were; nothing is ever unpickled. ``ferroprop.Network.load`` reads the same file
(the network alone), and so does any safetensors reader.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from typing import Any

import numpy as np
from sklearn.preprocessing import LabelBinarizer

from ferroprop.network import DTypeName, Network

#: The metadata entry that holds the estimator.
METADATA_KEY = "ferroprop.sklearn"
FORMAT_VERSION = "1"
# The core's bound on a safetensors header (`io::MAX_HEADER_BYTES`).
_MAX_HEADER_BYTES = 1 << 20
# Attributes that are not the fitted model: the network (the file's tensors), and the
# callbacks' and metadata routing's objects, which a file does not carry.
_NOT_SAVED = ("_network", "_best_network", "_metadata_request")
_NOT_SAVED_PREFIXES = ("_skl_callbacks", "_callback_fit_ctx", "_parent_callback_ctx")


def _encode(value: Any, name: str) -> Any:
    """``value`` as JSON, tagged where JSON has no type for it (``name``: for errors)."""
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        return {"__scalar__": _encode(value.item(), name), "dtype": value.dtype.str}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufUO":
            raise TypeError(f"cannot save {name}: an array of dtype {value.dtype}")
        items = [_encode(v, name) for v in value.ravel().tolist()]
        return {"__ndarray__": items, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, name) for v in value]}
    if isinstance(value, list):
        return [_encode(v, name) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, name), _encode(v, name)] for k, v in value.items()]}
    if isinstance(value, np.dtype):
        return {"__dtype__": value.str}
    if isinstance(value, type) and issubclass(value, np.generic):
        return {"__dtype_type__": np.dtype(value).str}
    if isinstance(value, np.random.RandomState):
        state = value.get_state(legacy=False)
        if state["bit_generator"] != "MT19937":
            raise TypeError(f"cannot save {name}: a RandomState over {state['bit_generator']}")
        key = [int(k) for k in state["state"]["key"]]
        inner = [key, int(state["state"]["pos"]), int(state["has_gauss"]), state["gauss"]]
        return {"__RandomState__": inner}
    if isinstance(value, LabelBinarizer):
        return {"__LabelBinarizer__": _encode(dict(vars(value)), name)}
    raise TypeError(f"cannot save {name}: {type(value).__name__} values are not supported")


def _decode(value: Any) -> Any:
    """The value ``_encode`` made ``value`` from."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__ndarray__" in value:
        dtype = np.dtype(value["dtype"])
        items = [_decode(v) for v in value["__ndarray__"]]
        return np.array(items, dtype=dtype).reshape(value["shape"])
    if "__scalar__" in value:
        return np.dtype(value["dtype"]).type(_decode(value["__scalar__"]))
    if "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {_decode(k): _decode(v) for k, v in value["__dict__"]}
    if "__dtype__" in value:
        return np.dtype(value["__dtype__"])
    if "__dtype_type__" in value:
        return np.dtype(value["__dtype_type__"]).type
    if "__RandomState__" in value:
        key, pos, has_gauss, gauss = value["__RandomState__"]
        random_state = np.random.RandomState()
        random_state.set_state(("MT19937", np.array(key, dtype=np.uint32), pos, has_gauss, gauss))
        return random_state
    if "__LabelBinarizer__" in value:
        binarizer = LabelBinarizer()
        binarizer.__dict__.update(_decode(value["__LabelBinarizer__"]))
        return binarizer
    raise ValueError(f"unknown value in the estimator's metadata: {sorted(value)}")


def _split(data: bytes, what: str) -> tuple[dict[str, Any], bytes]:
    """The header (parsed) and the tensors' bytes of the safetensors file ``data``."""
    if len(data) < 8:
        raise ValueError(f"{what} is not a safetensors file: {len(data)} bytes")
    n = int.from_bytes(data[:8], "little")
    if n > min(len(data) - 8, _MAX_HEADER_BYTES):
        raise ValueError(f"{what} is not a safetensors file: its header length is {n}")
    try:
        header = json.loads(data[8 : 8 + n])
    except ValueError as e:
        raise ValueError(f"{what} is not a safetensors file: its header is not JSON") from e
    if not isinstance(header, dict):
        raise ValueError(f"{what} is not a safetensors file: its header is not a JSON object")
    return header, data[8 + n :]


def to_bytes(estimator: Any) -> bytes:
    """The file ``estimator.save`` writes, as bytes."""
    net: Network = estimator._network
    attributes = {}
    for name, value in vars(estimator).items():
        if name in _NOT_SAVED or name.startswith(_NOT_SAVED_PREFIXES):
            continue
        attributes[name] = _encode(value, name)
    params = {name: _encode(value, name) for name, value in estimator.get_params(False).items()}
    best = estimator._best_network
    best_weights = None
    if best is not None:
        pairs = best.get_weights()
        same = all(
            np.array_equal(W, W2) and np.array_equal(b, b2)
            for (W, b), (W2, b2) in zip(pairs, net.get_weights())
        )
        # The best weights are the network's after an early-stopping fit; else kept here.
        best_weights = "network" if same else _encode([list(pair) for pair in pairs], "best")
    document = {
        "format_version": FORMAT_VERSION,
        "estimator": type(estimator).__name__,
        "params": params,
        "attributes": attributes,
        "best_weights": best_weights,
    }
    header, tensors = _split(net.to_bytes(), "the network's bytes")
    header["__metadata__"][METADATA_KEY] = json.dumps(document, allow_nan=True)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors aligns the data to 8 bytes
    if len(text) > _MAX_HEADER_BYTES:
        raise ValueError(
            f"the estimator's metadata makes a header of {len(text)} bytes, over the "
            f"{_MAX_HEADER_BYTES} a ferroprop file may have"
        )
    return len(text).to_bytes(8, "little") + text + tensors


def save(estimator: Any, path: str | os.PathLike[str]) -> None:
    """Writes ``to_bytes(estimator)`` to ``path`` atomically (a temporary file in the same
    folder, renamed over ``path``)."""
    data = to_bytes(estimator)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".ferroprop-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def read(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the regular file ``path`` (a folder, FIFO or device is refused before
    it is opened, as ``Network.load`` refuses them)."""
    mode = os.stat(path).st_mode
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{os.fspath(path)!r} is a directory, not a saved estimator")
    if not stat.S_ISREG(mode):
        raise OSError(f"{os.fspath(path)!r} is not a regular file")
    with open(path, "rb") as f:
        return f.read()


def from_bytes(cls: type, data: bytes, what: str) -> Any:
    """The ``cls`` estimator the bytes ``data`` of a saved file (named ``what``) hold."""
    header, _ = _split(data, what)
    metadata = header.get("__metadata__")
    text = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if text is None:
        raise ValueError(
            f"{what} holds no estimator (a file of ferroprop.Network.save, or another "
            f"safetensors file): load it with ferroprop.Network.load, or save the estimator "
            f"with {cls.__name__}.save"
        )
    document = json.loads(text)
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(f"{what} has estimator format_version {version!r}, not {FORMAT_VERSION!r}")
    kind = document.get("estimator")
    if kind != cls.__name__:
        raise ValueError(f"{what} holds an {kind}, not an {cls.__name__}: load it with {kind}.load")
    net = Network.from_bytes(data)
    estimator = cls(**{name: _decode(value) for name, value in document["params"].items()})
    for name, value in document["attributes"].items():
        setattr(estimator, name, _decode(value))
    estimator._network = net
    best = document["best_weights"]
    if best is None:
        estimator._best_network = None
    else:
        pairs = net.get_weights() if best == "network" else _decode(best)
        estimator._best_network = _copy(net, [(W, b) for W, b in pairs])
    return estimator


def _copy(net: Network, weights: list[tuple[Any, Any]]) -> Network:
    dtype: DTypeName = "float32" if net.dtype == np.float32 else "float64"
    copy = Network(net.layer_sizes, net.activations, net.loss_name, dtype, seed=0)
    copy.set_weights([(np.asarray(W, net.dtype), np.asarray(b, net.dtype)) for W, b in weights])
    return copy
