"""Running one op on both devices, for the GPU tests (marked `gpu`, see conftest.py): the op once on
NumPy arrays and once on CuPy copies of them, the results compared structure and all. CuPy is
imported inside the functions, so importing this module never needs it.

Tolerances (float32, GPU vs CPU): elementwise results within atol 1e-6 + rtol 1e-5 * |ref| (both
sides use their own exp); results of a reduction of length L (softmax rows, column sums, GEMMs,
coalesced rows) within 1e-5 * sqrt(L) both ways; returned mean losses within rtol 1e-5.
"""

import numpy as np

F32 = np.float32
ID_TYPES = [np.int32, np.int64]
ELEMENTWISE = dict(rtol=1e-5, atol=1e-6)


def tol(L=1):
    return dict(rtol=1e-5 * np.sqrt(L), atol=1e-6 * np.sqrt(L))


def gpu(a):
    import cupy

    return cupy.asarray(a) if isinstance(a, np.ndarray) else a


def host(r):
    """Results to NumPy / Python, keeping tuple structure."""
    import cupy

    if isinstance(r, cupy.ndarray):
        return cupy.asnumpy(r)
    if isinstance(r, (tuple, list)):
        values = [host(v) for v in r]
        return type(r)(*values) if hasattr(r, "_fields") else type(r)(values)  # namedtuple or not
    return r


def assert_same(got, want, what="result", **tolerance):
    """got (from the GPU, already on the host) matches want (from the CPU), structure included."""
    if want is None:
        assert got is None, f"{what}: expected None, got {type(got).__name__}"
    elif isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), \
            f"{what}: expected {len(want)} results, got {got!r:.200}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{what}[{i}]", **tolerance)
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"{what}: expected an array, got {type(got).__name__}"
        assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
        assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
        if want.dtype.kind in "iu":
            np.testing.assert_array_equal(got, want, err_msg=what)
        else:
            np.testing.assert_allclose(got, want, err_msg=what, **tolerance)
    else:
        np.testing.assert_allclose(float(got), float(want), err_msg=what, **tolerance)


def both(fn, *args, **kwargs):
    """fn on NumPy arrays and on CuPy copies of them. Returns (cpu_result, gpu_result on the host,
    cpu_args, gpu_args on the host) so in-place updates can be compared too."""
    cpu_args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    gpu_args = [gpu(a) for a in args]
    r_cpu = fn(*cpu_args, **kwargs)
    r_gpu = host(fn(*gpu_args, **kwargs))
    return r_cpu, r_gpu, cpu_args, host(gpu_args)


def check_gpu_still_works():
    """An out-of-range id must be caught before any kernel indexes with it: an illegal address
    would poison the CUDA context and fail every later call."""
    import cupy

    from fastnlp import ops

    cupy.cuda.Device().synchronize()
    x = cupy.arange(5, dtype=cupy.float32)
    np.testing.assert_allclose(cupy.asnumpy(ops.activation(x, "relu")), np.arange(5, dtype=F32))


# ---- the sequence ops (conv1d, RNNs) ---------------------------------------------------------------
# Tolerances: conv outputs and gradients within 1e-5 * sqrt(L) (relative and absolute), L the length
# of their reduction (K*D for outputs, B*T_out for dW, H for dx). RNN outputs and gradients within
# atol 5e-5 + rtol 5e-4 (RNN_TOL): both sides use their own polynomial tanh / exp, and errors
# compound through T steps of the recurrence.

RNN_TOL = dict(rtol=5e-4, atol=5e-5)


def seq_tol(L=1):
    return dict(rtol=1e-5 * np.sqrt(L), atol=1e-5 * np.sqrt(L))


def dev(a):
    """CuPy copy of a float array; lengths and None pass through (lengths stay on the host)."""
    import cupy

    if isinstance(a, np.ndarray) and a.dtype.kind == "f":
        return cupy.asarray(a)
    return a


def to_host(a):
    import cupy

    return cupy.asnumpy(a) if isinstance(a, cupy.ndarray) else a


def close(got, want, what, **t):
    got = to_host(got)
    assert got is not None and want is not None or got is want, f"{what}: {got!r:.80} vs {want!r:.80}"
    if want is None:
        return
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    np.testing.assert_allclose(got, want, err_msg=what, **t)


def lengths_for(rng, B, T, lo=1):
    L = rng.integers(lo, T + 1, size=B).astype(np.int64)
    L[rng.integers(B)] = T  # at least one full sequence
    return L
