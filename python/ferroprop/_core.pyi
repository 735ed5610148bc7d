"""Type stub of the compiled extension ``ferroprop._core`` (see ``src/python/``).

Arrays must already be NumPy arrays of the network's dtype, in any memory order (2-D for
``X``, 1-D for sample weights and biases; targets 2-D of the dtype, or 1-D ``int64`` class
labels): ``ferroprop.Network`` converts and checks them. Parameter names, defaults and
keyword-only markers are those of the binding's ``__text_signature__``.

Errors: invalid shapes, values and names raise ``ValueError`` (integers are taken as
128-bit, beyond which ``OverflowError``; names as any string, an unknown one refused by
``ValueError``); an argument of the wrong type ``TypeError``; file errors
the ``OSError`` subclass of their cause (``FileNotFoundError``, ``PermissionError``,
``IsADirectoryError``, ``FileExistsError``); an allocation that fails ``MemoryError``; a
second ``fit``, or a call that changes the network (``forward``, ``backward``, ``update``,
``set_weights``, ``reset_optimizer``), while ``fit`` trains it ``RuntimeError``; an
exception raised by ``fit``'s callback, or Ctrl-C, propagates.

``CoreNetwork.fit``'s last keywords serve the scikit-learn estimators: ``scales``
``(loss, penalty, step)`` (the units the stopping rule judges the loss in, and the factor
of each step), ``resume`` ``(count, best_loss, best_score, samples_seen, learning_rate)``
and optionally ``epochs`` (where an earlier fit left the rule and the schedule's clock),
``validation_sample_weight``, ``best_weights`` (the weights that scored ``best_score``)
and ``report``, called after each epoch with its ``_EpochReport``;
``validation_metric="one_class"`` scores 1 (a classifier of one class).
"""

from collections.abc import Callable, Iterable, Sequence
from os import PathLike
from typing import Any, Literal, final

import numpy as np
import numpy.typing as npt

# The names and the history are those of the Python API, which documents them.
from ferroprop.network import ActivationName as _Activation
from ferroprop.network import FitHistory as _History
from ferroprop.network import LossName as _Loss
from ferroprop.network import _EpochReport

__all__ = ["CoreNetwork", "__version__", "_packing_blocks", "get_num_threads", "set_num_threads"]

__version__: str

def get_num_threads() -> int: ...
def set_num_threads(threads: int | None) -> None: ...
def _packing_blocks() -> dict[str, int]: ...

_Floats = npt.NDArray[np.float32] | npt.NDArray[np.float64]
_Targets = npt.NDArray[np.float32] | npt.NDArray[np.float64] | npt.NDArray[np.int64]
_Pair = tuple[_Floats, _Floats]
_DType = Literal["float32", "float64"]
_LayerArray = Literal["W", "b", "z", "a", "dz", "dW", "db", "da", "mask"]

@final
class CoreNetwork:
    def __new__(
        cls,
        layer_sizes: Sequence[int],
        activations: Sequence[str],
        loss: str,
        dtype: str,
        seed: int,
        dropout: float | Sequence[float] | None = None,
    ) -> CoreNetwork:
        """Integers of any sign, names of any spelling and rates of any value: the core checks
        them all. `dropout`: one rate for every hidden layer, or a list of one per hidden
        layer."""
    @property
    def dtype(self) -> _DType: ...
    @property
    def layer_sizes(self) -> list[int]: ...
    @property
    def activations(self) -> list[_Activation]: ...
    @property
    def loss_name(self) -> _Loss: ...
    @property
    def dropout(self) -> list[float]:
        """Dropout's rate of each hidden layer."""
    def forward(self, x: _Floats, seed: int | None = None) -> _Floats:
        """`seed`: `None` for a pass that drops nothing, else the seed of a training pass's
        masks."""
    def backward(self, y: _Targets) -> None: ...
    def update(self, learning_rate: float) -> None: ...
    def predict(self, x: _Floats) -> _Floats: ...
    def loss(self, x: _Floats, y: _Targets) -> float: ...
    def gradient_check(
        self,
        x: _Floats,
        y: _Targets,
        eps: float | None = None,
        masks: Sequence[_Floats | None] | None = None,
    ) -> float:
        """`masks`: one entry per hidden layer, each `None` or a 2-D array of the dtype."""
    def loss_and_gradient(
        self, x: _Floats, y: _Targets, sample_weight: _Floats | None = None, alpha: float = 0.0
    ) -> tuple[float, float, list[_Pair]]:
        """`(data_loss, penalty, [(dW, db), ...])` of full-batch training, in one pass."""
    def get_weights(self) -> list[_Pair]: ...
    def set_weights(self, weights: Iterable[_Pair]) -> None: ...
    def layer_array(self, k: int, name: _LayerArray) -> _Floats | None:
        """One array of layer `k` (`W, b, z, a, dz, dW, db, da`, `mask`), copied; `None` for
        the pass values before the first `forward`, and for `mask` where the last `forward`
        dropped nothing."""
    def reset_optimizer(self) -> None:
        """Forgets the optimizer's state; the next `fit` starts it afresh."""
    def to_bytes(self) -> bytes:
        """The network as the bytes of a safetensors file, with its optimizer's state."""
    @staticmethod
    def from_bytes(data: bytes) -> CoreNetwork: ...
    def save(self, path: str | PathLike[str], optimizer_state: bool = False) -> None:
        """Saves atomically in the safetensors format (with the optimizer's state if asked)."""
    @staticmethod
    def load(path: str | PathLike[str]) -> CoreNetwork: ...
    def fit(
        self,
        x: _Floats,
        y: _Targets,
        *,
        epochs: int,
        learning_rate: float | Callable[[int], float],
        batch_size: int | None,
        shuffle: bool,
        seed: int,
        optimizer: str,
        momentum: float,
        nesterov: bool,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        alpha: float = 0.0,
        sample_weight: _Floats | None = None,
        schedule: str = "constant",
        power_t: float = 0.5,
        weight_decay: float = 0.0,
        warmup: int = 0,
        t_max: int | None = None,
        step_size: int | None = None,
        gamma: float = 0.1,
        validation_data: tuple[_Floats, _Targets] | None = None,
        validation_metric: str | Callable[[Any, Any], object] | None = None,
        n_iter_no_change: int | None = None,
        tol: float = 1e-4,
        early_stopping: bool = False,
        callback: Callable[[int, float], object] | None = None,
        scales: tuple[float, float, float] | None = None,
        resume: tuple[int, float, float, int, float]
        | tuple[int, float, float, int, float, int]
        | None = None,
        validation_sample_weight: _Floats | None = None,
        best_weights: Sequence[_Pair] | None = None,
        report: Callable[[_EpochReport], object] | None = None,
        numpy_stream: tuple[npt.NDArray[np.uint32], int] | None = None,
        divergence: Literal["raise", "record"] = "raise",
    ) -> _History: ...
