"""The threads of ferroprop's pool, which runs large matrix products, split batches and
optimizer updates. Results never depend on the number of threads."""

from __future__ import annotations

from ferroprop import _core


def get_num_threads() -> int:
    """The number of threads ferroprop's parallel work uses now.

    Returns
    -------
    int
        The limit set by :func:`set_num_threads` (or by ``threadpoolctl``) if any,
        otherwise ``FERROPROP_NUM_THREADS``, otherwise ``OMP_NUM_THREADS`` (which joblib
        and Dask set in their workers), otherwise the number of CPUs.
    """
    return int(_core.get_num_threads())


def set_num_threads(threads: int | None) -> None:
    """Limit ferroprop's parallel work to ``threads`` threads.

    Parameters
    ----------
    threads : int or None
        At least 1; more than the pool holds (the number of CPUs, or
        ``FERROPROP_NUM_THREADS`` if larger) counts as all of them. ``None`` goes back
        to the default of :func:`get_num_threads`.

    Raises
    ------
    ValueError
        If ``threads`` is less than 1.
    TypeError
        If ``threads`` is not an integer or None.

    Examples
    --------
    >>> import ferroprop
    >>> ferroprop.set_num_threads(1)
    >>> ferroprop.get_num_threads()
    1
    >>> ferroprop.set_num_threads(None)
    """
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)):
        raise TypeError(f"threads must be an int or None, got {type(threads).__name__}")
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1 (or None for the default), got {threads}")
    _core.set_num_threads(threads)
