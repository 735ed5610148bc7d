"""``MLPRegressor``: scikit-learn's multi-layer perceptron regressor over ferroprop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ferroprop.network import ArrayLike, FloatArray, FloatDTypeLike
from ferroprop.sklearn._base import (
    HiddenActivation,
    HiddenLayerSizes,
    LearningRateSchedule,
    MatrixLike,
    RandomStateLike,
    Solver,
    _BaseMLP,
    _OutActivation,
    available_when,
    fit_context,
)

if TYPE_CHECKING:
    from typing_extensions import Self


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, trained by ferroprop (scikit-learn's API).

    A drop-in replacement for scikit-learn 1.9.1's ``MLPRegressor``: the same parameters,
    defaults and fitted attributes, plus ``dtype``. The output layer is linear (identity)
    and the loss half the squared error.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"squared_error"`` (half the squared error). ``"poisson"`` is accepted by the
        constructor, as scikit-learn's, but refused by ``fit``: ferroprop has no
        exponential output.
    hidden_layer_sizes : int or array-like of int, default=(100,)
        Units of each hidden layer (an int: one hidden layer).
    activation : {"identity", "logistic", "tanh", "relu"}, default="relu"
        Activation of the hidden layers (``"logistic"`` is the sigmoid).
    solver : {"lbfgs", "sgd", "adam"}, default="adam"
        ``"sgd"`` and ``"adam"`` train by minibatches in ferroprop's Rust loop;
        ``"lbfgs"`` runs SciPy's L-BFGS-B on ferroprop's full-batch loss and gradient.
    alpha : float, default=0.0001
        Strength of the L2 penalty, divided by the total sample weight (the number of
        samples without weights) when added to the loss; biases are not penalized.
    batch_size : int or "auto", default="auto"
        Minibatch size of ``"sgd"`` and ``"adam"``; ``"auto"`` is
        ``min(200, n_samples)``. A size above ``n_samples`` is clipped, with a warning.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Step-size schedule of ``solver="sgd"``: ``"constant"`` keeps
        ``learning_rate_init``; ``"invscaling"`` uses
        ``learning_rate_init / (t_ + 1) ** power_t`` after each epoch; ``"adaptive"``
        divides the step by 5 whenever more than ``n_iter_no_change`` epochs in a row
        fail to improve by ``tol``, and stops once it is at most 1e-6.
    learning_rate_init : float, default=0.001
        Initial step size of ``"sgd"`` and ``"adam"``.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs (``"sgd"``, ``"adam"``) or of iterations (``"lbfgs"``).
    shuffle : bool, default=True
        Shuffle the samples before each epoch (``"sgd"``, ``"adam"``), in ferroprop's
        order, seeded from ``random_state``.
    random_state : int, RandomState instance or None, default=None
        Source of the initial weights (scikit-learn's Glorot-uniform draw: the same
        numbers as scikit-learn's), of the early-stopping split and of the shuffling
        seeds.
    tol : float, default=1e-4
        The improvement of the loss (or of the validation score) that counts; for
        ``"lbfgs"``, SciPy's ``gtol``.
    verbose : bool, default=False
        Print the loss of each epoch (scikit-learn's lines) and, if tqdm is installed, show
        a progress bar.
    warm_start : bool, default=False
        Start ``fit`` from the weights, counters and best values of the previous fit.
    momentum : float, default=0.9
        Momentum of ``"sgd"``, in ``[0, 1)`` (``fit`` refuses 1).
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum (``"sgd"``).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (a stratified split for binary
        classification), stop once the validation score has not improved by ``tol`` for
        more than ``n_iter_no_change`` epochs, and restore the weights of the best score
        (``"sgd"`` and ``"adam"``; refused by ``partial_fit``).
    validation_fraction : float, default=0.1
        The share of the data held out for early stopping, in ``[0, 1)``.
    beta_1 : float, default=0.9
        Adam's decay rate of the first moment, in ``[0, 1)``.
    beta_2 : float, default=0.999
        Adam's decay rate of the second moment, in ``[0, 1)``.
    epsilon : float, default=1e-8
        Adam's numerical-stability term.
    n_iter_no_change : int or np.inf, default=10
        Epochs without an improvement of ``tol`` that ``"sgd"`` and ``"adam"`` tolerate;
        ``np.inf`` never stops early.
    max_fun : int, default=15000
        Maximum number of loss evaluations of ``"lbfgs"``.
    dtype : {None, "float32", "float64"}, default=None
        The network's dtype. ``None`` follows scikit-learn: float32 ``X`` trains a float32
        network with SGD/Adam, anything else (and lbfgs) float64.

    Attributes
    ----------
    loss_ : float
        The loss of the last epoch (``"sgd"``, ``"adam"``) or at the solution
        (``"lbfgs"``), penalty included, in scikit-learn's convention.
    best_loss_ : float or None
        The lowest epoch loss (``None`` with ``early_stopping``; ``"sgd"``/``"adam"``).
    loss_curve_ : list of float
        The loss of each epoch (``"sgd"``, ``"adam"``).
    validation_scores_ : list of float or None
        The validation score of each epoch with ``early_stopping``, else ``None``.
    best_validation_score_ : float or None
        The best validation score with ``early_stopping``, else ``None``.
    t_ : int
        Number of training samples seen.
    coefs_ : list of ndarray
        Weight matrix of each layer, shape ``(fan_in, fan_out)`` (read-only copies).
    intercepts_ : list of ndarray
        Bias vector of each layer, shape ``(fan_out,)`` (read-only copies).
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``, if ``X`` had string column names.
    n_iter_ : int
        Number of epochs (or L-BFGS iterations) of the last fit.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of output units.
    out_activation_ : {"identity"}
        The output activation.

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
    ) -> None:
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            loss=loss,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
        )

    def _output_activation(self) -> _OutActivation:
        return "identity"

    def _score_function(
        self, y: Any, y_pred: Any, sample_weight: FloatArray | None = None
    ) -> float:
        return float(r2_score(y, y_pred, sample_weight=sample_weight))

    def _original_targets(self, Y: npt.NDArray[Any]) -> Any:
        return Y

    def _validate_input(
        self, X: MatrixLike, y: ArrayLike, incremental: bool, reset: bool
    ) -> tuple[Any, npt.NDArray[Any], Any]:
        X_arr, targets = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            reset=reset,
        )
        if targets.ndim == 2 and targets.shape[1] == 1:
            targets = column_or_1d(targets, warn=True)
        return X_arr, targets, targets

    def predict(self, X: MatrixLike) -> FloatArray:
        """Predict the targets of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data.

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
        y_pred = self._forward_pass_fast(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

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
