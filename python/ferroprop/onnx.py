"""Export ferroprop models to ONNX, and teach skl2onnx to convert ferroprop's estimators.

:func:`to_onnx` turns a :class:`ferroprop.Network`, a fitted
:class:`ferroprop.sklearn.MLPClassifier` or a fitted :class:`ferroprop.sklearn.MLPRegressor`
into an ``onnx.ModelProto`` whose outputs are what ``predict`` (and ``predict_proba``)
return. Importing this module also registers converters with skl2onnx, so that
``skl2onnx.to_onnx(estimator, X[:1])`` converts ferroprop's estimators, alone or inside a
scikit-learn ``Pipeline``, with the options skl2onnx users know (``zipmap``, ``nocl``,
``output_class_labels``).

Each layer is ``z = MatMul(a, W) + b`` followed by its activation, in the network's dtype
(float32 or float64), with the batch dimension left free:

============  ===================================================================
identity      ``z``
relu          ``Relu(z)``
leaky_relu    ``Max(z, 0.01 · z)`` (the slope held in the network's dtype)
sigmoid       ``1 / (1 + Exp(-Max(Min(z, 500), -500)))``
tanh          ``Tanh(z)``
softmax       ``Softmax(z, axis=1)``
gelu          ``z · (1 + Erf(z · √½)) / 2`` (float32 only: see below)
silu          ``z / (1 + Exp(-z))``
elu           ``Where(z > 0, z, Exp(Min(z, 0)) - 1)``
softplus      ``Where(z > 20, z, Log(1 + Exp(Min(z, 20))))``
exp           ``Exp(z)``
============  ===================================================================

The sigmoid is written out rather than ONNX's ``Sigmoid``, whose ONNX Runtime kernels
saturate early (and ``LeakyRelu`` holds its slope as a float32 attribute), so that the
model computes what ferroprop computes. ONNX has no ``Erfc``, ``Expm1`` nor ``Log1p``:
where ferroprop's GELU, ELU and softplus use them, the graph agrees to a few units in the
last place of 1 (not of a tiny result: GELU of z < -8 is 0 in the graph). ONNX Runtime
has no float64 ``Erf`` (nor ``Gelu``) kernel, so a float64 network with a GELU layer is
refused with a ``ValueError``: export a float32 copy. Needs ``onnx`` and ``skl2onnx`` (``pip install
'ferroprop[onnx]'``, which adds ``onnxruntime`` to run the models); the rest of ferroprop
never imports this module.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any, Union

import numpy as np
import numpy.typing as npt

_MISSING = [name for name in ("onnx", "skl2onnx") if importlib.util.find_spec(name) is None]
if _MISSING:
    raise ImportError(
        f"ferroprop.onnx needs {' and '.join(_MISSING)}: pip install 'ferroprop[onnx]'"
    )

import onnx
import skl2onnx
from onnx import TensorProto, helper, numpy_helper
from skl2onnx._parse import (
    _apply_zipmap,
    _parse_sklearn_classifier,
    _parse_sklearn_simple_model,
)
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from skl2onnx.common.utils import check_input_and_output_numbers
from skl2onnx.common.utils_classifier import get_label_classes
from sklearn.utils.validation import check_is_fitted

from ferroprop import __version__
from ferroprop.network import Network
from ferroprop.sklearn import MLPClassifier, MLPRegressor

__all__ = ["to_onnx"]

#: What :func:`to_onnx` converts.
Model = Union[Network, MLPClassifier, MLPRegressor]

# The oldest opset whose operators the graphs use (Max/Min broadcasting, Cast, Greater).
_MIN_OPSET = 9
_LEAKY_RELU_SLOPE = 0.01
_SIGMOID_CLIP = 500.0
# scikit-learn's names of the hidden activations, in ferroprop's words.
_HIDDEN = {
    "identity": "identity",
    "logistic": "sigmoid",
    "tanh": "tanh",
    "relu": "relu",
    **{f: f for f in ("sigmoid", "leaky_relu", "gelu", "silu", "elu", "softplus")},
}
_OUTPUT = {"identity": "identity", "logistic": "sigmoid", "softmax": "softmax", "exp": "exp"}
_SOFTPLUS_THRESHOLD = 20.0
_PROTO = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}
_CLASSIFIER_OPTIONS: dict[str, list[Any]] = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "output_class_labels": [False, True],
}


def to_onnx(
    model: Model,
    path: str | os.PathLike[str] | None = None,
    *,
    target_opset: int | None = None,
    options: Mapping[str, Any] | None = None,
    input_name: str = "X",
) -> onnx.ModelProto:
    """The ONNX model of a ferroprop network or fitted estimator (written to ``path`` if given).

    The model takes one input, ``input_name``, of shape ``(n_samples, n_features)`` with a
    free batch dimension and the network's dtype, and computes in that dtype:

    - a :class:`~ferroprop.Network`: one output ``"y"``, what :meth:`Network.predict`
      returns;
    - an ``MLPRegressor``: skl2onnx's output ``"variable"``, shape ``(n_samples,
      n_outputs)`` (``predict``, one column for a single output);
    - an ``MLPClassifier``: skl2onnx's outputs ``"label"`` (``predict``: the class labels,
      int64 for integer, boolean or (integral) float labels, strings for strings; the int64
      indicator matrix of a multilabel problem) and ``"probabilities"``
      (``predict_proba``).

    Parameters
    ----------
    model : Network, MLPClassifier or MLPRegressor
        The model to export; estimators must be fitted.
    path : str or os.PathLike, optional
        Where to write the model (atomically: a temporary file, then renamed).
    target_opset : int, optional
        The opset of the ``ai.onnx`` domain, at least 9; by default the newest that both
        onnx and skl2onnx support.
    options : mapping, optional
        The converter options of skl2onnx for an estimator, such as ``{"zipmap": True}``,
        ``{"nocl": True}`` or ``{"output_class_labels": True}`` for a classifier. Unlike
        skl2onnx, ``zipmap`` defaults to False here, so that the outputs are the arrays
        that ``predict`` and ``predict_proba`` return. A ``Network`` takes none.
    input_name : str, default="X"
        The name of the model's input.

    Returns
    -------
    onnx.ModelProto
        The model, checked by ``onnx.checker``.

    Raises
    ------
    TypeError
        If ``model`` is not one of the types above, ``input_name`` not a string,
        ``options`` not a mapping or ``target_opset`` not an integer.
    ValueError
        If an estimator is not fitted (scikit-learn's ``NotFittedError``), a classifier
        was fitted on a single class, ``target_opset`` is too old, or ``options`` are
        given for a ``Network`` or not accepted by the converter.

    Examples
    --------
    >>> import numpy as np
    >>> from ferroprop import Network
    >>> from ferroprop.onnx import to_onnx
    >>> net = Network([3, 8, 2], ["tanh", "softmax"], seed=0)
    >>> model = to_onnx(net)
    >>> [i.name for i in model.graph.input], [o.name for o in model.graph.output]
    (['X'], ['y'])

    With ONNX Runtime:

    >>> import onnxruntime as ort
    >>> session = ort.InferenceSession(model.SerializeToString())
    >>> X = np.ones((4, 3))
    >>> np.allclose(session.run(None, {"X": X})[0], net.predict(X), rtol=1e-12)
    True
    """
    if not isinstance(input_name, str) or not input_name:
        raise TypeError(f"input_name must be a non-empty string, got {input_name!r}")
    opset = _opset(target_opset)
    if isinstance(model, Network):
        if options:
            raise ValueError(f"a Network's export takes no options, got {dict(options)}")
        proto = _network_model(model, opset, input_name)
    elif isinstance(model, (MLPClassifier, MLPRegressor)):
        check_is_fitted(model)
        options = _options(model, options)
        dtype = np.dtype(model.coefs_[0].dtype)
        tensor = FloatTensorType if dtype == np.float32 else DoubleTensorType
        proto = skl2onnx.convert_sklearn(
            model,
            name=type(model).__name__,
            initial_types=[(input_name, tensor([None, model.n_features_in_]))],
            target_opset=opset,
            options={id(model): dict(options)} if options else None,
        )
        proto.producer_name, proto.producer_version = "ferroprop", __version__
    else:
        raise TypeError(
            "to_onnx converts a ferroprop Network, MLPClassifier or MLPRegressor, got "
            f"{type(model).__name__} (convert a Pipeline with skl2onnx.to_onnx after "
            "importing ferroprop.onnx)"
        )
    onnx.checker.check_model(proto)
    if path is not None:
        _write(proto, path)
    return proto


# -- the graph, whoever collects it -------------------------------------------------------


class _Graph:
    """Collects nodes and initializers of a plain ONNX graph."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def constant(self, hint: str, value: npt.NDArray[Any]) -> str:
        name = self.name(hint)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: Sequence[str], output: str | None = None, **attrs: Any) -> str:
        out = output or self.name(op.lower())
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=self.name(op), **attrs))
        return out


class _Container(_Graph):
    """Adds the nodes to the graph skl2onnx is building (its scope and container)."""

    def __init__(self, scope: Any, container: Any) -> None:
        super().__init__()
        self._scope, self._container = scope, container

    def name(self, hint: str) -> str:
        name: str = self._scope.get_unique_variable_name(hint)
        return name

    def constant(self, hint: str, value: npt.NDArray[Any]) -> str:
        name = self.name(hint)
        if value.dtype.kind in "OSU":  # skl2onnx copies raw data only, which strings lack
            texts = [str(v).encode("utf-8") for v in value.ravel()]
            self._container.add_initializer(name, TensorProto.STRING, list(value.shape), texts)
        else:
            self._container.add_initializer(name, None, None, numpy_helper.from_array(value))
        return name

    def node(self, op: str, inputs: Sequence[str], output: str | None = None, **attrs: Any) -> str:
        out = output or self.name(op.lower())
        op_name = self._scope.get_unique_operator_name(op)
        self._container.add_node(op, list(inputs), [out], name=op_name, **attrs)
        return out


def _forward(
    g: _Graph,
    x: str,
    weights: Sequence[tuple[npt.NDArray[Any], npt.NDArray[Any]]],
    activations: Sequence[str],
) -> str:
    """The network's output for input ``x`` (already in the weights' dtype)."""
    a = x
    for k, ((W, b), f) in enumerate(zip(weights, activations)):
        z = g.node("MatMul", [a, g.constant(f"W{k}", W)])
        z = g.node("Add", [z, g.constant(f"b{k}", b)])
        a = _activation(g, f, z, W.dtype)
    return a


def _activation(g: _Graph, f: str, z: str, dtype: np.dtype[Any]) -> str:
    if f == "identity":
        return z
    if f == "relu":
        return g.node("Relu", [z])
    if f == "leaky_relu":
        slope = g.constant("slope", np.array(_LEAKY_RELU_SLOPE, dtype))
        return g.node("Max", [z, g.node("Mul", [z, slope])])
    if f == "sigmoid":
        # Min and Max rather than Clip, whose float64 kernels need opset 12 in ONNX Runtime
        lo = g.constant("clip_min", np.array(-_SIGMOID_CLIP, dtype))
        hi = g.constant("clip_max", np.array(_SIGMOID_CLIP, dtype))
        clipped = g.node("Max", [g.node("Min", [z, hi]), lo])
        one = g.constant("one", np.array(1, dtype))
        e = g.node("Exp", [g.node("Neg", [clipped])])
        return g.node("Div", [one, g.node("Add", [one, e])])
    if f == "tanh":
        return g.node("Tanh", [z])
    if f == "softmax":
        return g.node("Softmax", [z], axis=1)
    return _smooth(g, f, z, dtype)


def _smooth(g: _Graph, f: str, z: str, dtype: np.dtype[Any]) -> str:
    """The activations with an exponential or erf, written out in opset-9 operators."""
    one = g.constant("one", np.array(1, dtype))
    if f == "exp":
        return g.node("Exp", [z])
    if f == "silu":
        return g.node("Div", [z, g.node("Add", [one, g.node("Exp", [g.node("Neg", [z])])])])
    if f == "gelu":
        if dtype == np.float64:
            raise ValueError(
                "activation 'gelu' has no float64 ONNX export: its erf (ONNX's Erf, or Gelu) "
                "has no float64 kernel in ONNX Runtime; export a float32 copy of the network "
                "(Network(..., dtype='float32') with the same weights) instead"
            )
        root_half = g.constant("root_half", np.array(np.sqrt(0.5), dtype))
        half = g.constant("half", np.array(0.5, dtype))
        erf = g.node("Erf", [g.node("Mul", [z, root_half])])
        return g.node("Mul", [z, g.node("Mul", [half, g.node("Add", [one, erf])])])
    zero = g.constant("zero", np.array(0, dtype))
    if f == "elu":
        # Exp of min(z, 0) only: the branch not taken must not overflow.
        below = g.node("Sub", [g.node("Exp", [g.node("Min", [z, zero])]), one])
        return g.node("Where", [g.node("Greater", [z, zero]), z, below])
    if f == "softplus":
        threshold = g.constant("threshold", np.array(_SOFTPLUS_THRESHOLD, dtype))
        e = g.node("Exp", [g.node("Min", [z, threshold])])
        below = g.node("Log", [g.node("Add", [one, e])])
        return g.node("Where", [g.node("Greater", [z, threshold]), z, below])
    raise ValueError(f"activation {f!r} has no ONNX form")


def _assign(g: _Graph, value: str, output: str, value_type: int, output_type: int) -> None:
    """``output = value``, cast to the output's element type if it differs."""
    if value_type == output_type:
        g.node("Identity", [value], output)
    else:
        g.node("Cast", [value], output, to=output_type)


# -- a Network ----------------------------------------------------------------------------


def _network_model(net: Network, opset: int, input_name: str) -> onnx.ModelProto:
    dtype = np.dtype(net.dtype)
    proto_type = _PROTO[dtype]
    sizes = net.layer_sizes
    g = _Graph()
    y = _forward(g, input_name, net.get_weights(), net.activations)
    g.node("Identity", [y], "y")
    graph = helper.make_graph(
        g.nodes,
        "ferroprop_Network",
        [helper.make_tensor_value_info(input_name, proto_type, [None, sizes[0]])],
        [helper.make_tensor_value_info("y", proto_type, [None, sizes[-1]])],
        initializer=g.initializers,
        doc_string=repr(net),
    )
    opsets = [helper.make_opsetid("", opset)]
    model = helper.make_model(
        graph,
        opset_imports=opsets,
        ir_version=helper.find_min_ir_version_for(opsets),
        producer_name="ferroprop",
        producer_version=__version__,
    )
    return model


# -- the estimators, as skl2onnx operators ------------------------------------------------


def _weights_and_activations(
    model: MLPClassifier | MLPRegressor,
) -> tuple[list[tuple[npt.NDArray[Any], npt.NDArray[Any]]], list[str]]:
    weights = list(zip(model.coefs_, model.intercepts_))
    hidden = [_HIDDEN[model.activation]] * (len(weights) - 1)
    return weights, [*hidden, _OUTPUT[model.out_activation_]]


def _multilabel(model: MLPClassifier) -> bool:
    return model.out_activation_ == "logistic" and model.n_outputs_ > 1


def _labels(scope: Any, model: MLPClassifier) -> npt.NDArray[Any]:
    """The classes as the graph holds them: int64 or str (class indices for nocl)."""
    if len(model.classes_) < 2:
        raise ValueError(
            f"cannot export a classifier fitted on a single class ({model.classes_!r})"
        )
    if scope.get_options(model, {"nocl": False})["nocl"] or _multilabel(model):
        return np.arange(len(model.classes_), dtype=np.int64)
    classes = np.asarray(model.classes_)
    values = list(classes.ravel())
    if all(isinstance(v, str) for v in values):
        return np.array(values, dtype=object)
    # scikit-learn's classifiers take integral floats only; ONNX labels are int64 as skl2onnx's
    if all(isinstance(v, (bool, np.bool_, Real)) for v in values):
        labels = classes.astype(np.int64)
        if np.array_equal(labels, classes):
            return labels
    raise TypeError(
        "class labels must be strings, or integers (booleans, integral floats) within "
        f"int64, to export, got {model.classes_!r}"
    )


def _label_type(labels: npt.NDArray[Any], shape: list[Any]) -> Any:
    return Int64TensorType(shape) if labels.dtype == np.int64 else StringTensorType(shape)


def _parse_classifier(scope: Any, model: Any, inputs: Any, custom_parsers: Any = None) -> Any:
    """skl2onnx's classifier parser, with ZipMap's float32 probabilities for float64 inputs."""
    check_is_fitted(model)
    options = scope.get_options(model, {"zipmap": True, "output_class_labels": False})
    zipmap = options["zipmap"]
    if zipmap is True and _multilabel(model):
        raise ValueError(
            "zipmap does not apply to a multilabel classifier: pass options={'zipmap': False}"
        )
    if options["output_class_labels"]:
        classes = get_label_classes(scope, model)
        if classes.dtype not in (np.int32, np.int64) and classes.dtype.kind not in "OU":
            raise ValueError(
                "skl2onnx's output_class_labels takes integer or string classes only, got "
                f"{classes.dtype} classes: pass options={{'nocl': True}} too, or leave it out"
            )
    if zipmap is True and isinstance(inputs[0].type, DoubleTensorType):
        # ONNX's ZipMap maps float32 only: the probabilities it reads are declared float32.
        outputs = _parse_sklearn_simple_model(scope, model, inputs, custom_parsers=custom_parsers)
        outputs[1].set_type(FloatTensorType())
        return _apply_zipmap(zipmap, scope, model, FloatTensorType(), outputs)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)


def _classifier_shapes(operator: Any) -> None:
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=2)
    model = operator.raw_operator
    check_is_fitted(model)
    n = operator.inputs[0].get_first_dimension()
    labels = _labels(operator.scope_inst, model)
    k = len(model.classes_)
    operator.outputs[0].set_type(_label_type(labels, [n, k] if _multilabel(model) else [n]))
    operator.outputs[1].type.shape = [n, k]


def _input(g: _Graph, variable: Any, dtype: np.dtype[Any]) -> str:
    """The operator's input in the network's dtype."""
    name: str = variable.full_name
    if variable.type.to_onnx_type().tensor_type.elem_type == _PROTO[dtype]:
        return name
    return g.node("Cast", [name], to=_PROTO[dtype])


def _elem_type(variable: Any) -> int:
    elem: int = variable.type.to_onnx_type().tensor_type.elem_type
    return elem


def _convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    model = operator.raw_operator
    weights, activations = _weights_and_activations(model)
    dtype = weights[0][0].dtype
    g = _Container(scope, container)
    y = _forward(g, _input(g, operator.inputs[0], dtype), weights, activations)
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    multilabel = _multilabel(model)
    if model.n_outputs_ == 1:  # binary: the output is the second class's probability
        one = g.constant("one", np.array(1, dtype))
        y = g.node("Concat", [g.node("Sub", [one, y]), y], axis=1)
    _assign(g, y, proba, _PROTO[dtype], _elem_type(operator.outputs[1]))
    if multilabel:  # scikit-learn's threshold: a label is on when its probability > 0.5
        half = g.constant("half", np.array(0.5, dtype))
        g.node("Cast", [g.node("Greater", [y, half])], label, to=TensorProto.INT64)
        return
    index = g.node("ArgMax", [y], axis=1, keepdims=0)  # the first of equal maxima
    labels = _labels(scope, model)
    g.node("Gather", [g.constant("classes", labels), index], label, axis=0)


def _regressor_shapes(operator: Any) -> None:
    check_input_and_output_numbers(operator, input_count_range=1, output_count_range=1)
    model = operator.raw_operator
    check_is_fitted(model)
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type.shape = [n, model.n_outputs_]


def _convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    model = operator.raw_operator
    weights, activations = _weights_and_activations(model)
    dtype = weights[0][0].dtype
    g = _Container(scope, container)
    y = _forward(g, _input(g, operator.inputs[0], dtype), weights, activations)
    output = operator.outputs[0]
    _assign(g, y, output.full_name, _PROTO[dtype], _elem_type(output))


# -- helpers ------------------------------------------------------------------------------


def _options(model: MLPClassifier | MLPRegressor, options: object) -> dict[str, Any]:
    """The converter's options, checked: a classifier's with ``zipmap`` off by default."""
    allowed = _CLASSIFIER_OPTIONS if isinstance(model, MLPClassifier) else {}
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise TypeError(f"options must be a mapping, got {type(options).__name__}")
    for key, value in options.items():
        if key not in allowed:
            raise ValueError(
                f"unknown option {key!r} for {type(model).__name__}; expected one of "
                f"{sorted(allowed)}"
            )
        if not any(value is v or (type(value) is type(v) and value == v) for v in allowed[key]):
            raise ValueError(f"option {key!r} must be one of {allowed[key]}, got {value!r}")
    return {"zipmap": False, **options} if allowed else {}


def _opset(target_opset: object) -> int:
    newest = min(onnx.defs.onnx_opset_version(), skl2onnx.get_latest_tested_opset_version())
    if target_opset is None:
        return int(newest)
    if isinstance(target_opset, bool) or not isinstance(target_opset, Integral):
        raise TypeError(f"target_opset must be an integer, got {target_opset!r}")
    opset = int(target_opset)
    if not _MIN_OPSET <= opset <= onnx.defs.onnx_opset_version():
        raise ValueError(
            f"target_opset must be in [{_MIN_OPSET}, {onnx.defs.onnx_opset_version()}], got {opset}"
        )
    return opset


def _write(proto: onnx.ModelProto, path: str | os.PathLike[str]) -> None:
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    target = os.fspath(path)
    data = proto.SerializeToString()
    tmp = f"{target}.{secrets.token_hex(8)}.tmp"  # opened by open(), so the umask applies
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


skl2onnx.update_registered_converter(
    MLPClassifier,
    "FerropropMLPClassifier",
    _classifier_shapes,
    _convert_classifier,
    parser=_parse_classifier,
    options=_CLASSIFIER_OPTIONS,
)
skl2onnx.update_registered_converter(
    MLPRegressor, "FerropropMLPRegressor", _regressor_shapes, _convert_regressor
)
