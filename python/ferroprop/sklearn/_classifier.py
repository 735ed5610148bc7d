"""``MLPClassifier``: scikit-learn's multi-layer perceptron classifier over ferroprop."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
from sklearn.base import ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
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
class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier, trained by ferroprop (scikit-learn's API).

    A drop-in replacement for scikit-learn 1.9.1's ``MLPClassifier``: the same
    parameters, defaults and fitted attributes, plus ``class_weight`` and ``dtype``.
    Binary problems use one sigmoid output, multiclass a softmax, multilabel (an
    indicator matrix ``y``) one sigmoid per label; the loss is the log-loss.

    Parameters
    ----------
    {common_parameters}
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, applied as sample weights (multiplying ``sample_weight``):
        ``"balanced"`` uses ``n_samples / (n_classes * np.bincount(y))``. ``"balanced"``
        is refused by ``partial_fit`` (a batch's class counts are not the data's).
    {dtype_parameter}
    {torch_parameters}
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (for multilabel ``y``, the label indices).
    {common_attributes}
    out_activation_ : {"logistic", "softmax"}
        The output activation: ``"softmax"`` for multiclass problems.

    See Also
    --------
    MLPRegressor : The regressor.
    ferroprop.Network : The network the estimator trains.

    Notes
    -----
    ``predict_log_proba`` is ``log(predict_proba)`` (``-inf`` where a probability is 0),
    except that the probability ``1 - p`` of a binary problem's first class is taken as
    ``log1p(-p)``, exact for small ``p``. See :mod:`ferroprop.sklearn` for the known
    differences from scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from ferroprop.sklearn import MLPClassifier
    >>> X, y = make_classification(n_samples=200, random_state=0)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=1000, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    >>> clf.score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict[str, list[Any]] = {
        **_BaseMLP._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    if TYPE_CHECKING:
        # Generated when the class is created, by scikit-learn's metadata routing (see its
        # docstrings); declared for type checkers, stubtest compares them with the runtime.
        def set_partial_fit_request(
            self,
            *,
            classes: bool | str | None = "$UNCHANGED$",
            sample_weight: bool | str | None = "$UNCHANGED$",
        ) -> Self: ...
        def set_score_request(
            self, *, sample_weight: bool | str | None = "$UNCHANGED$"
        ) -> Self: ...

    def __init__(
        self,
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
        class_weight: dict[Any, float] | Literal["balanced"] | None = None,
        dtype: FloatDTypeLike | None = None,
        weight_decay: float = 0.0,
        warmup: int = 0,
        t_max: int | None = None,
        step_size: int | None = None,
        gamma: float = 0.1,
        dropout: float | Sequence[float] = 0.0,
    ) -> None:
        super().__init__(loss="log_loss", **_base_arguments(locals()))
        self.class_weight = class_weight

    def _output_activation(self) -> _OutActivation:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(
        self, X: MatrixLike, y: ArrayLike, incremental: bool, reset: bool
    ) -> tuple[Any, npt.NDArray[Any], Any]:
        X_arr, labels = self._check_X_y(X, y, reset)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = column_or_1d(labels, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(labels)
            self.classes_ = self._label_binarizer.classes_
        else:
            indicator = None if self.warm_start else self._known_indicator(labels)
            if indicator is not None:
                return X_arr, indicator, labels
            classes = unique_labels(labels)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        return X_arr, self._label_binarizer.transform(labels).astype(bool), labels

    def _known_indicator(self, labels: npt.NDArray[Any]) -> npt.NDArray[np.bool_] | None:
        """What ``self._label_binarizer.transform(labels).astype(bool)`` gives, for 1-D
        integer or string labels all among ``classes_`` (two or more), found by a binary
        search in them; ``None`` for any other labels, which take the general path (its
        type inference and its errors). ``partial_fit`` runs this on every batch: the
        general path costs more than training a small network on it."""
        classes = self.classes_
        binarizer = self._label_binarizer
        kinds = labels.dtype.kind + classes.dtype.kind
        if (
            labels.ndim != 1
            or kinds not in ("ii", "iu", "ui", "uu", "UU")
            or len(classes) < 2
            or binarizer.y_type_ not in ("binary", "multiclass")
            or binarizer.sparse_output
            or (binarizer.neg_label, binarizer.pos_label) != (0, 1)
        ):
            return None
        index = np.searchsorted(classes, labels)
        np.minimum(index, len(classes) - 1, out=index)
        if not np.array_equal(classes[index], labels):  # a class not in classes_
            return None
        if len(classes) == 2:  # one column, for the second class
            column: npt.NDArray[np.bool_] = (index == 1).reshape(-1, 1)
            return column
        indicator = np.zeros((len(labels), len(classes)), dtype=bool)
        indicator[np.arange(len(labels)), index] = True
        return indicator

    def _class_sample_weight(
        self, sample_weight: FloatArray | None, y: Any, incremental: bool
    ) -> FloatArray | None:
        if self.class_weight is None:
            return sample_weight
        if incremental and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: pass a dict "
                "(for instance computed with sklearn.utils.class_weight."
                "compute_class_weight on all the data)"
            )
        if isinstance(self.class_weight, dict):
            for label, weight in self.class_weight.items():
                if not _weight_like(weight):
                    raise ValueError(
                        f"class_weight: the weight of class {label!r} must be a finite, "
                        f"non-negative number, got {weight!r}"
                    )
        weights: FloatArray = compute_sample_weight(self.class_weight, y)
        if not np.any(weights):
            raise ValueError(
                "class_weight gives every sample a weight of 0: at least one class of y "
                "needs a positive weight"
            )
        if sample_weight is None:
            return weights
        with np.errstate(over="ignore", under="ignore"):
            product: FloatArray = sample_weight * weights
        if not np.isfinite(product).all():
            raise ValueError(
                "sample_weight × class_weight overflows (largest sample weight "
                f"{np.max(sample_weight)}, largest class weight {np.max(weights)}): scale "
                "one of them down"
            )
        if np.any((product == 0) & (sample_weight != 0) & (weights != 0)):
            raise ValueError(
                "sample_weight × class_weight underflows to 0 (smallest positive sample "
                f"weight {np.min(sample_weight[sample_weight > 0])}, smallest positive class "
                f"weight {np.min(weights[weights > 0])}): scale one of them up"
            )
        return product

    @available_when(lambda est: est._check_solver())
    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self,
        X: MatrixLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        classes: ArrayLike | None = None,
    ) -> Self:
        """Update the model with a single epoch over the given data.

        Only with ``solver="sgd"`` or ``"adam"`` (the method does not exist otherwise).
        The first call starts a new network and optimizer; later calls continue them.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data (sparse input is densified).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            The class labels (an indicator matrix for multilabel problems).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        classes : array-like of shape (n_classes,), default=None
            Every class of all the calls to ``partial_fit``: required on the first call,
            ignored on later ones (and for multilabel ``y``).

        Returns
        -------
        MLPClassifier
            The updated estimator itself.

        Raises
        ------
        ValueError
            If ``classes`` is missing on the first call or ``y`` has other classes,
            with ``early_stopping=True`` or ``class_weight="balanced"``, or for invalid
            data or parameters.
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X: MatrixLike) -> npt.NDArray[Any]:
        """Predict the classes of ``X``.

        {predict_parameters}
        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes (an indicator matrix for multilabel problems).

        {predict_raises}
        """
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X: MatrixLike, check_input: bool = True) -> npt.NDArray[Any]:
        labels: npt.NDArray[Any] = self._label_binarizer.inverse_transform(
            self._outputs(X, check_input=check_input)
        )
        return labels

    def predict_proba(self, X: MatrixLike) -> FloatArray:
        """Probability estimates of the classes of ``X``.

        {predict_parameters}
        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The probability of each class, in the order of ``classes_``, in the network's
            dtype; for multilabel problems, each label's probability.

        {predict_raises}
        """
        check_is_fitted(self)
        y_pred = self._outputs(X)
        if y_pred.ndim == 1:
            proba: FloatArray = np.vstack([1 - y_pred, y_pred]).T
            return proba
        return y_pred

    def predict_log_proba(self, X: MatrixLike) -> FloatArray:
        """Logarithm of :meth:`predict_proba`.

        ``-inf`` where a probability is 0; the first class of a binary problem, of
        probability ``1 - p``, is computed as ``log1p(-p)``, exact for small ``p``.

        {predict_parameters}
        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            The log-probability of each class, in the order of ``classes_``.

        {predict_raises}
        """
        check_is_fitted(self)
        y_pred = self._forward_pass_fast(X)
        with np.errstate(divide="ignore"):
            if self.n_outputs_ == 1:
                p = y_pred.ravel()
                log_proba: FloatArray = np.vstack([np.log1p(-p), np.log(p)]).T
                return log_proba
            return np.log(y_pred)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _weight_like(value: object) -> bool:
    """Whether ``value`` is a finite, non-negative real number."""
    return isinstance(value, Real) and bool(np.isfinite(float(value))) and float(value) >= 0
