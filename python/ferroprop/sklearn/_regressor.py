"""``MLPRegressor``: scikit-learn's multi-layer perceptron regressor over ferroprop."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy.typing as npt
from sklearn.base import RegressorMixin
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ferroprop.network import ArrayLike, FloatArray, FloatDTypeLike
from ferroprop.sklearn._base import (
    HiddenActivation,
    HiddenLayerSizes,
    LearningRateSchedule,
    MatrixLike,
    RandomStateLike,
    Solver,
    _base_arguments,
    _BaseMLP,
    _OutActivation,
    _shared_docs,
    available_when,
    fit_context,
)

if TYPE_CHECKING:
    from typing_extensions import Self


@_shared_docs
class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, trained by ferroprop (scikit-learn's API).

    A drop-in replacement for scikit-learn 1.9.1's ``MLPRegressor``: the same parameters,
    defaults and fitted attributes, plus ``dtype``. The output layer is linear (identity)
    and the loss half the squared error, or, with ``loss="poisson"``, exponential and half
    the Poisson deviance.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"squared_error"``: half the squared error, identity output. ``"poisson"``: half
        the Poisson deviance ``y log(y / ŷ) - y + ŷ`` (summed over the outputs, averaged
        over the samples, as scikit-learn reports it), exponential output ``ŷ = exp(z)``;
        targets must be non-negative.
    {common_parameters}
    {dtype_parameter}
    {torch_parameters}
    Attributes
    ----------
    {common_attributes}
    out_activation_ : {"identity", "exp"}
        The output activation (``"exp"`` with ``loss="poisson"``).

    See Also
    --------
    MLPClassifier : The classifier.
    ferroprop.Network : The network the estimator trains.

    Notes
    -----
    See :mod:`ferroprop.sklearn` for the known differences from scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from ferroprop.sklearn import MLPRegressor
    >>> X, y = make_regression(n_samples=200, n_features=4, noise=0.1, random_state=0)
    >>> y = y / y.std()
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), solver="lbfgs", random_state=0)
    >>> reg.fit(X, y).predict(X[:3]).shape
    (3,)
    >>> reg.score(X, y) > 0.99
    True
    """

    _parameter_constraints: dict[str, list[Any]] = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    if TYPE_CHECKING:
        # Generated when the class is created, by scikit-learn's metadata routing (see its
        # docstrings); declared for type checkers, stubtest compares them with the runtime.
        def set_partial_fit_request(
            self, *, sample_weight: bool | str | None = "$UNCHANGED$"
        ) -> Self: ...
        def set_score_request(
            self, *, sample_weight: bool | str | None = "$UNCHANGED$"
        ) -> Self: ...

    def __init__(
        self,
        loss: Literal["squared_error", "poisson"] = "squared_error",
        hidden_layer_sizes: HiddenLayerSizes = (100,),
        activation: HiddenActivation = "relu",
        *,
        solver: Solver = "adam",
        alpha: float = 0.0001,
        batch_size: int | Literal["auto"] = "auto",
        learning_rate: LearningRateSchedule = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: RandomStateLike = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        dtype: FloatDTypeLike | None = None,
        weight_decay: float = 0.0,
        warmup: int = 0,
        t_max: int | None = None,
        step_size: int | None = None,
        gamma: float = 0.1,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        super().__init__(**_base_arguments(locals()))

    def _output_activation(self) -> _OutActivation:
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(
        self, X: MatrixLike, y: ArrayLike, incremental: bool, reset: bool
    ) -> tuple[Any, npt.NDArray[Any], Any]:
        X_arr, targets = self._check_X_y(X, y, reset, y_numeric=True)
        if targets.ndim == 2 and targets.shape[1] == 1:
            targets = column_or_1d(targets, warn=True)
        return X_arr, targets, targets

    def predict(self, X: MatrixLike) -> FloatArray:
        """Predict the targets of ``X``.

        {predict_parameters}
        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values, in the network's dtype (1-D for a single output).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the estimator is not fitted.
        ValueError
            If ``X`` does not have ``n_features_in_`` columns or is not finite, or if a
            prediction is not finite (a layer overflowed).
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X: MatrixLike, check_input: bool = True) -> FloatArray:
        return self._outputs(X, check_input=check_input)

    # As scikit-learn 1.9.1 (the condition is not called, so it is always true): with
    # solver="lbfgs", partial_fit runs a whole L-BFGS fit from the current weights.
    @available_when(lambda est: est._check_solver)
    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Self:
        """Update the model with a single epoch over the given data.

        The first call starts a new network and optimizer; later calls continue them.
        With ``solver="lbfgs"`` each call runs a whole L-BFGS fit from the current
        weights (as scikit-learn 1.9.1 does).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (sparse input is densified).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        MLPRegressor
            The updated estimator itself.

        Raises
        ------
        ValueError
            With ``early_stopping=True``, if ``y`` has another number of outputs than
            before, or for invalid data or parameters.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)
