"""Make ``python/`` importable when ferroprop is not installed (e.g. before ``maturin develop``)."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("ferroprop") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
