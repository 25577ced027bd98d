"""Where arrays live: NumPy on the CPU, CuPy (or any __cuda_array_interface__ array) on the GPU.

CuPy is optional: it is imported lazily, only when a GPU array is seen or asked for.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _C


def set_num_threads(n: int) -> None:
    """Sets the threads used by fastnlp's kernels and its BLAS (``OMP_NUM_THREADS`` does not).

    Parameters
    ----------
    n : int
        Threads; n <= 0 means all cores.
    """
    _C.set_num_threads(int(n))


def get_num_threads() -> int:
    """The threads fastnlp's kernels use.

    Returns
    -------
    int
    """
    return _C.get_num_threads()


def cuda_available() -> bool:
    """Whether fastnlp can run on the GPU.

    Returns
    -------
    bool
        True when the CUDA kernels were compiled in, a GPU is present and CuPy imports.
    """
    if not _C.cuda_compiled or _C.cuda_device_count() == 0:
        return False
    try:
        import cupy  # noqa: F401
    except ImportError:
        return False
    return True


def is_gpu(x: Any) -> bool:
    """Whether x is a GPU array (has ``__cuda_array_interface__``)."""
    return hasattr(x, "__cuda_array_interface__") and not isinstance(x, np.ndarray)


def array_module(x: Any) -> Any:
    """numpy for CPU arrays, cupy for GPU arrays."""
    if is_gpu(x):
        import cupy

        return cupy
    return np
