"""threadpoolctl's controller for ferroprop's thread pool.

Registered when ferroprop is imported and threadpoolctl (>= 3.5) is installed, so that
``threadpoolctl.threadpool_info()`` lists ferroprop's pool and ``threadpool_limits`` (which
scikit-learn and joblib use to share the cores between workers) caps it. It calls the C
symbols ``ferroprop_get_num_threads``/``ferroprop_set_num_threads`` of the compiled core,
as threadpoolctl does for OpenBLAS.
"""

from __future__ import annotations

import ctypes
from typing import Any


def register() -> bool:
    """Register the controller with threadpoolctl; ``False`` if it cannot be.

    Returns
    -------
    bool
        Whether threadpoolctl now knows ferroprop's pool.
    """
    try:
        import threadpoolctl
    except ImportError:
        return False
    base: Any = getattr(threadpoolctl, "LibController", None)
    if base is None or not hasattr(threadpoolctl, "register"):
        return False

    def get_num_threads(self: Any) -> int | None:
        get = getattr(self.dynlib, "ferroprop_get_num_threads", None)
        return None if get is None else int(get())

    def set_num_threads(self: Any, num_threads: int) -> None:
        set_ = getattr(self.dynlib, "ferroprop_set_num_threads", None)
        if set_ is not None:
            set_(ctypes.c_int(int(num_threads)))

    def get_version(self: Any) -> str | None:
        version = getattr(self.dynlib, "ferroprop_version", None)
        if version is None:
            return None
        version.restype = ctypes.c_char_p
        return str(version().decode())

    controller = type(
        "FerropropController",
        (base,),
        {
            "user_api": "ferroprop",
            "internal_api": "ferroprop",
            # The extension module's file name; check_symbols tells it from other `_core`s.
            "filename_prefixes": ("_core",),
            "check_symbols": ("ferroprop_get_num_threads", "ferroprop_set_num_threads"),
            "get_num_threads": get_num_threads,
            "set_num_threads": set_num_threads,
            "get_version": get_version,
        },
    )
    threadpoolctl.register(controller)
    return True
