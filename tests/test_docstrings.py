"""Every public class, method, property and function of ferroprop's Python API has a
numpydoc docstring: a one-line summary, every parameter in "Parameters", and a "Returns"
section wherever a value is returned. numpydoc's own validation runs too if it is installed."""

from __future__ import annotations

import inspect
import re
import types
import warnings
from collections.abc import Iterator

import pytest

import ferroprop
import ferroprop.network
import ferroprop.reference
import ferroprop.threads

MODULES: list[types.ModuleType] = [ferroprop.network, ferroprop.reference, ferroprop.threads]
try:
    import ferroprop.sklearn
except ImportError:  # scikit-learn or SciPy not installed
    pass
else:
    MODULES.append(ferroprop.sklearn)
try:
    import ferroprop.onnx
except ImportError:  # onnx or skl2onnx not installed
    pass
else:
    MODULES.append(ferroprop.onnx)


def public_objects() -> Iterator[tuple[str, object]]:
    """``(dotted name, object)`` of every public class, function, method and property."""
    for module in MODULES:
        names = getattr(module, "__all__", None) or [
            n for n, o in vars(module).items() if getattr(o, "__module__", None) == module.__name__
        ]
        for name in names:
            if name.startswith("_"):
                continue
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
            elif inspect.isclass(obj):
                yield f"{module.__name__}.{name}", obj
                # Members ferroprop defines (not scikit-learn's), inherited ones included.
                ours = [c for c in obj.__mro__ if c.__module__.startswith("ferroprop")]
                members = {m for c in ours for m in vars(c) if not m.startswith("_")}
                for member in sorted(members):
                    value = getattr(obj, member)
                    ours_too = getattr(value, "__module__", "").startswith("ferroprop")
                    if isinstance(value, property) or (callable(value) and ours_too):
                        yield f"{module.__name__}.{name}.{member}", value


def sections(doc: str) -> dict[str, list[str]]:
    """The numpydoc sections of ``doc`` (the lines under each underlined heading)."""
    lines = inspect.cleandoc(doc).splitlines()
    found: dict[str, list[str]] = {}
    current = None
    for i, line in enumerate(lines):
        underline = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", underline) and len(underline) == len(line):
            current = line.strip()
            found[current] = []
        elif current is not None and not re.fullmatch(r"-{3,}", line):
            found[current].append(line)
    return found


def documented_names(lines: list[str]) -> set[str]:
    """The names of a Parameters section: ``x : type``, ``a, b : type`` or ``x``."""
    names = set()
    for line in lines:
        if line and not line[0].isspace():
            names.update(n.strip().lstrip("*") for n in line.split(" : ")[0].split(","))
    return names


OBJECTS = sorted(public_objects(), key=lambda item: item[0])


def test_the_api_is_found():
    found = {name for name, _ in OBJECTS}
    assert {
        "ferroprop.network.Network.fit",
        "ferroprop.network.Layer.W",
        "ferroprop.sklearn.MLPClassifier.predict_proba",
        "ferroprop.sklearn.MLPRegressor.partial_fit",
        "ferroprop.reference.mlp.backward",
    } <= found


@pytest.mark.parametrize("name, obj", OBJECTS, ids=[name for name, _ in OBJECTS])
def test_numpydoc_sections(name, obj):
    doc = inspect.getdoc(obj)
    assert doc, f"{name} has no docstring"
    summary, _, rest = doc.partition("\n")
    assert summary.strip() and (not rest or rest.startswith("\n")), f"{name}: a one-line summary"
    if isinstance(obj, property):
        return
    found = sections(doc)
    function = obj.__init__ if inspect.isclass(obj) else obj
    if not getattr(function, "__module__", "").startswith("ferroprop"):
        return  # a class without a constructor of its own (FitHistory, a TypedDict)
    signature = inspect.signature(function)
    params = [
        p.name
        for p in signature.parameters.values()
        if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if params:
        assert "Parameters" in found, f"{name} takes {params} but has no Parameters section"
        documented = documented_names(found["Parameters"])
        assert set(params) <= documented, f"{name}: {set(params) - documented} undocumented"
        assert documented <= set(params), f"{name}: {documented - set(params)} not parameters"
    returns = signature.return_annotation
    if not inspect.isclass(obj) and returns not in ("None", None, inspect.Signature.empty):
        assert "Returns" in found, f"{name} returns {returns} but has no Returns section"


@pytest.mark.parametrize("name, obj", OBJECTS, ids=[name for name, _ in OBJECTS])
def test_numpydoc_validation(name, obj):
    validate = pytest.importorskip("numpydoc.validate").validate
    optional = {"ES01", "SA01", "EX01"}  # extended summary, See Also, Examples
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errors = [e for e in validate(name)["errors"] if e[0] not in optional]
    assert not errors, f"{name}: {errors}"


def test_package_docstrings():
    for module in [ferroprop, *MODULES]:
        assert module.__doc__ and module.__doc__.strip(), module.__name__
