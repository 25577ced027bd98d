"""Small helpers shared by the functional ops: output allocation on the input's device, and the
few checks needed before an output shape can be computed (the bindings check everything else)."""

from .._device import array_module


def shape_of(op, name, x, ndim=None):
    """x's shape, after checking x is an array (TypeError) of ndim dimensions (ValueError)."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"{op}: {name} must be a NumPy array or a GPU array, got {type(x).__name__}")
    if ndim is not None and len(x.shape) != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D, got shape {tuple(x.shape)} ({len(x.shape)}-D) "
                         f"dtype {x.dtype}")
    return tuple(x.shape)


def empty(like, shape, dtype=None):
    """An uninitialized array on like's device."""
    xp = array_module(like)
    return xp.empty(shape, dtype=like.dtype if dtype is None else dtype)


def zeros(like, shape, dtype=None):
    xp = array_module(like)
    return xp.zeros(shape, dtype=like.dtype if dtype is None else dtype)
