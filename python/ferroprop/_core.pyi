"""Type stub of the compiled extension ``ferroprop._core`` (see ``src/python.rs``).

Arrays must already have the network's dtype; ``ferroprop.Network`` converts them.
"""

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__version__: str

_Array = npt.NDArray[np.floating]
_Targets = npt.NDArray[np.floating] | npt.NDArray[np.int64]

class CoreNetwork:
    def __init__(
        self,
        layer_sizes: Sequence[int],
        activations: Sequence[str],
        loss: str,
        dtype: str,
        seed: int,
    ) -> None: ...
    @property
    def dtype(self) -> str: ...
    @property
    def layer_sizes(self) -> list[int]: ...
    @property
    def activations(self) -> list[str]: ...
    @property
    def loss_name(self) -> str: ...
    def forward(self, x: _Array) -> _Array: ...
    def backward(self, y: _Targets) -> None: ...
    def update(self, learning_rate: float) -> None: ...
    def predict(self, x: _Array) -> _Array: ...
    def loss(self, x: _Array, y: _Targets) -> float: ...
    def gradient_check(self, x: _Array, y: _Targets, eps: float | None = None) -> float: ...
    def loss_and_gradient(
        self, x: _Array, y: _Targets, sample_weight: _Array | None = None, alpha: float = 0.0
    ) -> tuple[float, float, list[tuple[_Array, _Array]]]: ...
    def get_weights(self) -> list[tuple[_Array, _Array]]: ...
    def set_weights(self, weights: Sequence[tuple[_Array, _Array]]) -> None: ...
    def layer_array(self, k: int, name: str) -> _Array | None: ...
    def reset_optimizer(self) -> None: ...
    def to_bytes(self) -> bytes: ...
    @staticmethod
    def from_bytes(data: bytes) -> CoreNetwork: ...
    def save(self, path: str) -> None: ...
    @staticmethod
    def load(path: str) -> CoreNetwork: ...
    def fit(
        self,
        x: _Array,
        y: _Targets,
        *,
        epochs: int,
        learning_rate: float,
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
        sample_weight: _Array | None = None,
        schedule: str = "constant",
        power_t: float = 0.5,
        validation_data: tuple[_Array, _Targets] | None = None,
        validation_metric: str = "loss",
        n_iter_no_change: int | None = None,
        tol: float = 1e-4,
        early_stopping: bool = False,
        callback: Callable[[int, float], object] | None = None,
    ) -> dict[str, Any]: ...
