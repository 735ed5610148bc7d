"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn 1.9 and later) on the
estimators' fits: ``est.set_callbacks(ProgressBar(), ScoringMonitor(scoring="r2"))``.

A fit is scikit-learn's task tree: the root task ``"fit"`` and one subtask per epoch
(``"epoch"``; ``partial_fit``: one) or per L-BFGS iteration (``"lbfgs-iter"``, with the
extra empty last one scikit-learn's own L-BFGS estimators have). The epochs run in one
Rust call: each epoch's end hook is called from the core's per-epoch report, with a
``fitted_estimator`` that predicts with that epoch's weights, and a hook that returns True
stops the fit after that epoch. Without callbacks, nothing is done per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["CallbackSupportMixin", "FitTasks"]


class _NoCallbacks:
    """scikit-learn before 1.9 has no callbacks: nothing to support."""


def _mixin() -> Any:
    try:
        from sklearn.callback import CallbackSupportMixin as mixin
    except ImportError:  # scikit-learn < 1.9
        return _NoCallbacks
    return mixin


#: scikit-learn's ``CallbackSupportMixin`` (``set_callbacks``), where it has one.
CallbackSupportMixin: Any = _mixin()


class FitTasks:
    """The callback contexts of one fit of ``estimator`` on ``X``, ``y`` (``metadata``: the
    sample weights), with at most ``max_subtasks`` subtasks named ``subtask``;
    ``snapshot()`` gives the attributes of an estimator that predicts as the fit stands."""

    def __init__(
        self,
        estimator: Any,
        X: Any,
        y: Any,
        sample_weight: Any,
        *,
        max_subtasks: int,
        subtask: str,
        snapshot: Callable[[], dict[str, Any]],
    ) -> None:
        self.estimator = estimator
        self.data = dict(
            X=X, y=y, metadata=None if sample_weight is None else {"sample_weight": sample_weight}
        )
        self.subtask = subtask
        self.snapshot = snapshot
        # scikit-learn's CallbackContext objects (untyped).
        self.root: Any = None
        self.current: Any = None
        if hasattr(estimator, "_init_callback_context"):
            self.root = estimator._init_callback_context(max_subtasks=max_subtasks)
            self.root.call_on_fit_task_begin(estimator=estimator, **self.data)
        # Per-subtask hooks only when there is a callback to call.
        self.active = self.root is not None and bool(getattr(estimator, "_skl_callbacks", None))

    def begin(self, snapshot: Callable[[], dict[str, Any]] | None = None) -> None:
        """Starts the next subtask (``snapshot``: its starting state, if not the fit's)."""
        if not self.active:
            return
        assert self.root is not None
        self.current = self.root.subcontext(task_name=self.subtask)
        self.current.call_on_fit_task_begin(
            estimator=self.estimator,
            **self.data,
            reconstruction_attributes=snapshot or self.snapshot,
        )

    def end(self, snapshot: Callable[[], dict[str, Any]] | None = None) -> bool:
        """Ends the current subtask; whether a callback asks to stop."""
        if self.current is None:
            return False
        stop = self.current.call_on_fit_task_end(
            estimator=self.estimator,
            **self.data,
            reconstruction_attributes=snapshot or self.snapshot,
        )
        self.current = None
        return bool(stop)

    def close(self) -> None:
        """Ends a subtask begun but never run (as an empty task), then the fit."""
        if self.current is not None:
            self.current.call_on_fit_task_end(estimator=self.estimator)
            self.current = None
        if self.root is not None:
            self.root.call_on_fit_task_end(
                estimator=self.estimator, **self.data, reconstruction_attributes={}
            )
