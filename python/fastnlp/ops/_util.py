"""Small helpers shared by the functional ops: output allocation on the input's device, and the
few checks needed before an output shape can be computed (the bindings check everything else)."""

from typing import Any

import numpy as np

from .._device import array_module

# The arrays the ops take and return: numpy.ndarray, or a CuPy array (anything with
# __cuda_array_interface__) where an op runs on the GPU. Type hints name it Array.
Array = Any


def shape_of(op, name, x, ndim=None):
    """x's shape, after checking x is an array (TypeError) of ndim dimensions (ValueError) and not a
    NumPy view whose elements overlap each other (a broadcast: a zero stride). Such a view is not
    C-contiguous, which the bindings refuse; refused here already, before an output of its logical
    shape is allocated, so a 4 TB broadcast of one number gets that error, not a MemoryError."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{op}: {name} must be a NumPy array or a GPU array, got {type(x).__name__}")
    if ndim is not None and len(x.shape) != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D, got shape {tuple(x.shape)} ({len(x.shape)}-D) "
                         f"dtype {x.dtype}")
    extent = _extent(x) if isinstance(x, np.ndarray) else None
    if extent is not None and extent[2] - extent[1] < x.nbytes:
        raise ValueError(f"{op}: {name} must be C-contiguous (use numpy.ascontiguousarray), got a strided "
                         f"view of shape {tuple(x.shape)}")
    return tuple(x.shape)


def _extent(a):
    """(device, lo, hi): the bytes a's elements span (NumPy: host, else __cuda_array_interface__)."""
    if isinstance(a, np.ndarray):
        iface, device = a.__array_interface__, "cpu"
    else:
        iface, device = getattr(a, "__cuda_array_interface__", None), "gpu"
        if iface is None:
            return None
    shape = tuple(iface["shape"])
    itemsize = np.dtype(iface["typestr"]).itemsize
    strides = iface.get("strides")
    if strides is None:  # C-contiguous
        strides, step = [], itemsize
        for n in reversed(shape):
            strides.insert(0, step)
            step *= n
    if any(n == 0 for n in shape):
        return None
    base = iface["data"][0]
    lo = base + sum(s * (n - 1) for s, n in zip(strides, shape) if s < 0)
    hi = base + itemsize + sum(s * (n - 1) for s, n in zip(strides, shape) if s > 0)
    return device, lo, hi


def check_no_overlap(op, outputs, inputs):
    """The bindings' expect_no_overlap for ops composed in Python (the GPU paths): no output
    (name -> array or None) may share memory (NumPy's may_share_memory: byte extents intersect)
    with an input (name -> array or None) or another output; ValueError naming both."""
    extents = {name: _extent(a) for name, a in dict(inputs, **outputs).items() if a is not None}
    for out_name in outputs:
        e = extents.get(out_name)
        for name, f in extents.items():
            if name != out_name and e is not None and f is not None and e[0] == f[0] and e[1] < f[2] and f[1] < e[2]:
                raise ValueError(f"{op}: {out_name} overlaps {name} in memory (the op reads one while writing "
                                 f"the other); pass a separate {out_name} array")


def empty(like, shape, dtype=None):
    """An uninitialized array on like's device."""
    xp = array_module(like)
    return xp.empty(shape, dtype=like.dtype if dtype is None else dtype)


def zeros(like, shape, dtype=None):
    xp = array_module(like)
    return xp.zeros(shape, dtype=like.dtype if dtype is None else dtype)
