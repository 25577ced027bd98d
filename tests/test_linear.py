"""Activations and the fused linear layer: fast CPU kernels against the C++ reference and NumPy,
float64 gradient checks, and bad input.

Tolerances: float32 results within atol 1e-5 + rtol 1e-5 * |ref| times sqrt(D) for the
reduction length D of a GEMM; float64 gradients within rtol 1e-5, atol 1e-7 of central
differences (eps 1e-6).
"""

import numpy as np
import pytest

import fastnlp
from fastnlp import _C, ops
from conftest import AWKWARD
from gradcheck import assert_grad_close
import gpu_compare as gc

ACTS = list(ops.ACTIVATIONS)
NP_ACT = {
    "identity": lambda z: z,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "hardtanh": lambda z: np.clip(z, -1, 1),
    "relu": lambda z: np.maximum(z, 0),
}


def tol(D=1):
    return dict(rtol=1e-5 * np.sqrt(D), atol=1e-5 * np.sqrt(D))


@pytest.mark.simd
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("n", AWKWARD + [100_003])  # vector remainders; above 2 * kGrain: threaded
def test_activation_matches_numpy(act, n, rng):
    x = (rng.standard_normal(n) * 4).astype(np.float32)
    y = ops.activation(x, act)
    np.testing.assert_allclose(y, NP_ACT[act](x.astype(np.float64)), rtol=2e-6, atol=2e-7)
    dy = rng.standard_normal(n).astype(np.float32)
    dx = ops.activation_backward(y, dy, act)
    ref = np.empty_like(dx)
    _C.activation_backward(y, dy, ref, act, reference=True)
    np.testing.assert_allclose(dx, ref, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("act", ACTS)
def test_activation_extremes_and_nan(act):
    x = np.array([-1e30, -100, -88.8, -20, -1, 0, 1, 20, 88.8, 100, 1e30, np.inf, -np.inf],
                 np.float32)
    with np.errstate(over="ignore"):
        np.testing.assert_allclose(ops.activation(x, act), NP_ACT[act](x.astype(np.float64)),
                                   rtol=1e-6, atol=1e-30)
    assert np.isnan(ops.activation(np.array([np.nan], np.float32), act)).all()


@pytest.mark.parametrize("act", ACTS)
def test_activation_in_place(act, rng):
    x = rng.standard_normal(37).astype(np.float32)
    expected = ops.activation(x, act)
    ops.activation(x, act, out=x)
    np.testing.assert_array_equal(x, expected)


@pytest.mark.simd
@pytest.mark.parametrize("act", ACTS)
# (1000, 64, 70): B above twice the grain of 2^21 / (H * D) rows (csrc/ops/linear.cpp), so the
# epilogue runs threaded.
@pytest.mark.parametrize("B,D,H", [(1, 1, 1), (3, 7, 9), (8, 16, 17), (15, 33, 8), (33, 9, 31), (64, 300, 100),
                                   (1000, 64, 70)])
def test_linear_forward_backward_match_reference(act, B, D, H, rng):
    x = rng.standard_normal((B, D)).astype(np.float32)
    W = (rng.standard_normal((H, D)) / np.sqrt(D)).astype(np.float32)
    b = rng.standard_normal(H).astype(np.float32)
    y = ops.linear(x, W, b, act)
    np.testing.assert_allclose(y, NP_ACT[act](x.astype(np.float64) @ W.T + b), **tol(D))
    y_ref = np.empty_like(y)
    _C.linear_forward(x, W, b, y_ref, act, reference=True)
    np.testing.assert_allclose(y, y_ref, **tol(D))

    dy = rng.standard_normal((B, H)).astype(np.float32)
    dx, dW, db = ops.linear_backward(x, W, y, dy, act)
    rx, rW, rb = np.empty_like(dx), np.empty_like(dW), np.empty_like(db)
    _C.linear_backward(x, W, y, dy, rx, rW, rb, act, reference=True)
    np.testing.assert_allclose(dx, rx, **tol(H))
    np.testing.assert_allclose(dW, rW, **tol(B))
    np.testing.assert_allclose(db, rb, **tol(B))


def test_linear_without_bias_and_accumulate(rng):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    W = rng.standard_normal((3, 4)).astype(np.float32)
    y = ops.linear(x, W, None, "tanh")
    np.testing.assert_allclose(y, np.tanh(x @ W.T), **tol(4))
    dy = rng.standard_normal((5, 3)).astype(np.float32)
    dx, dW, db = ops.linear_backward(x, W, y, dy, "tanh", need_dx=False, need_db=False)
    assert dx is None and db is None
    dW2 = dW.copy()
    ops.linear_backward(x, W, y, dy, "tanh", need_dx=False, need_db=False, dW=dW2, accumulate=True)
    np.testing.assert_allclose(dW2, 2 * dW, rtol=1e-6)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("reference", [False, True])
def test_linear_gradcheck_float64(act, reference, rng):
    B, D, H = 3, 5, 4
    x = rng.standard_normal((B, D))
    W = rng.standard_normal((H, D)) * 0.5
    b = rng.standard_normal(H) * 0.5
    R = rng.standard_normal((B, H))

    def forward():
        y = np.empty((B, H))
        _C.linear_forward(x, W, b, y, act, reference=reference)
        return y

    def loss():
        return float((forward() * R).sum())

    y = forward()
    dx, dW, db = np.empty_like(x), np.empty_like(W), np.empty_like(b)
    _C.linear_backward(x, W, y, R, dx, dW, db, act, reference=reference)
    assert_grad_close(dx, loss, x)
    assert_grad_close(dW, loss, W)
    assert_grad_close(db, loss, b)


@pytest.mark.parametrize("act", ACTS)
def test_activation_gradcheck_float64(act, rng):
    x = rng.standard_normal(17) * 2
    x[np.abs(np.abs(x) - 1) < 1e-3] += 0.01  # keep clear of hard-tanh's kinks
    R = rng.standard_normal(17)
    y = ops.activation(x, act)
    dx = ops.activation_backward(y, R, act)
    assert_grad_close(dx, lambda: float((ops.activation(x, act) * R).sum()), x)


# ---- bad input: the error names the op, the argument, what was expected and what was given ----

def _xwb(B=4, D=3, H=2, dtype=np.float32):
    return np.ones((B, D), dtype), np.ones((H, D), dtype), np.ones(H, dtype)


def test_bad_dtype():
    x, W, b = _xwb()
    with pytest.raises(TypeError, match=r"linear_forward: x must be float32 or float64, got int64"):
        ops.linear(x.astype(np.int64), W, b)
    with pytest.raises(TypeError, match=r"W must have the dtype of x \(float32\), got float64"):
        ops.linear(x, W.astype(np.float64), b)


def test_bad_ndim():
    x, W, b = _xwb()
    with pytest.raises(ValueError, match=r"linear: x must be 2-D, got shape \(4, 3, 1\)"):
        ops.linear(x[..., None], W, b)


def test_shape_mismatch():
    x, W, b = _xwb()
    with pytest.raises(ValueError, match=r"W must have shape \(\*, 3\) \(H, D\) with D from x, got \(2, 4\)"):
        ops.linear(x, np.ones((2, 4), np.float32), b)
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        ops.linear(x, W, np.ones(3, np.float32))


def test_non_contiguous_input():
    x, W, b = _xwb(B=4, D=6)
    with pytest.raises(ValueError, match=r"x must be C-contiguous"):
        ops.linear(x[:, ::2], np.ones((2, 3), np.float32), b)


def test_read_only_output():
    x, W, b = _xwb()
    y = np.empty((4, 2), np.float32)
    y.flags.writeable = False
    with pytest.raises(ValueError, match=r"y is written in place and must be writeable"):
        ops.linear(x, W, b, out=y)


def test_wrong_output_shape():
    x, W, b = _xwb()
    with pytest.raises(ValueError, match=r"linear_forward: y must have shape \(4, 2\), got \(4, 3\)"):
        ops.linear(x, W, b, out=np.empty((4, 3), np.float32))


def test_empty_batch():
    _, W, b = _xwb()
    with pytest.raises(ValueError, match=r"x must not be empty, got shape \(0, 3\)"):
        ops.linear(np.ones((0, 3), np.float32), W, b)


def test_not_an_array():
    _, W, b = _xwb()
    with pytest.raises(TypeError, match=r"linear: x must be a NumPy array or a GPU array, got list"):
        ops.linear([[1.0, 2.0, 3.0]], W, b)


def test_unknown_activation():
    x, W, b = _xwb()
    with pytest.raises(ValueError, match=r"activation must be one of .*; got 'gelu'"):
        ops.linear(x, W, b, "gelu")


def test_reference_rejects_nothing_on_cpu_and_threads_setting():
    old = fastnlp.get_num_threads()
    try:
        fastnlp.set_num_threads(1)
        assert fastnlp.get_num_threads() == 1
        x, W, b = _xwb()
        np.testing.assert_allclose(ops.linear(x, W, b), np.full((4, 2), 4.0))
    finally:
        fastnlp.set_num_threads(old)


class _FakeGpuArray:
    """Exposes a NumPy array through __cuda_array_interface__: the bindings must treat it as a GPU
    array (and never hand its pointer to a CPU kernel)."""

    def __init__(self, a):
        self._a = a
        self.shape, self.dtype = a.shape, a.dtype
        self.__cuda_array_interface__ = {"shape": a.shape, "typestr": a.dtype.str, "strides": None,
                                         "data": (a.ctypes.data, False), "version": 3}


def test_optional_arguments_on_another_device():
    x, W, b = _xwb()
    with pytest.raises(ValueError, match=r"linear_forward: b is on the GPU but x is on the CPU"):
        ops.linear(x, W, _FakeGpuArray(b))
    y = ops.linear(x, W, b)
    with pytest.raises(ValueError, match=r"linear_backward: db is on the GPU but x is on the CPU"):
        _C.linear_backward(x, W, y, np.ones_like(y), None, np.empty_like(W), _FakeGpuArray(np.empty_like(b)),
                           "identity")


# ---- GPU: activations and the linear epilogue against the CPU (marked gpu) ----

@pytest.mark.gpu
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("n", AWKWARD + [255, 256, 257, 1000, 100_003])
def test_gpu_activation_forward_backward(act, n, rng, cp):
    x = (rng.standard_normal(n) * 4).astype(gc.F32)
    y_cpu, y_gpu, _, _ = gc.both(ops.activation, x, act)
    gc.assert_same(y_gpu, y_cpu, "y", **gc.ELEMENTWISE)
    dy = rng.standard_normal(n).astype(gc.F32)
    dx_cpu, dx_gpu, _, _ = gc.both(ops.activation_backward, y_cpu, dy, act)
    gc.assert_same(dx_gpu, dx_cpu, "dx", **gc.ELEMENTWISE)


@pytest.mark.gpu
@pytest.mark.parametrize("act", ACTS)
def test_gpu_activation_extremes_kinks_and_nan(act, cp):
    x = np.array([-1e30, -100, -88.8, -20, -1, 0, 1, 20, 88.8, 100, 1e30, np.inf, -np.inf, np.nan],
                 gc.F32)
    y_cpu, y_gpu, _, _ = gc.both(ops.activation, x, act)
    np.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-5, atol=1e-30)
    assert np.isnan(y_gpu[-1])
    # Derivatives from y, with the subgradient 0 at the kinks (y = -1, 1 for hard-tanh; 0 for ReLU).
    y = np.array([-1, -0.5, 0, 0.5, 1, np.nan], gc.F32)
    dy = np.ones_like(y)
    dx_cpu, dx_gpu, _, _ = gc.both(ops.activation_backward, y, dy, act)
    np.testing.assert_array_equal(dx_gpu, dx_cpu)


@pytest.mark.gpu
@pytest.mark.parametrize("act", ACTS)
def test_gpu_activation_in_place(act, rng, cp):
    x = cp.asarray(rng.standard_normal(1037).astype(gc.F32))
    expected = ops.activation(x, act)
    ops.activation(x, act, out=x)
    np.testing.assert_array_equal(cp.asnumpy(x), cp.asnumpy(expected))
    dy = cp.asarray(rng.standard_normal(1037).astype(gc.F32))
    expected = ops.activation_backward(x, dy, act)
    ops.activation_backward(x, dy, act, out=dy)
    np.testing.assert_array_equal(cp.asnumpy(dy), cp.asnumpy(expected))


# (1000, 9, 17) and (5000, 3, 33) split B into chunks for the bias gradient; (3, 7, 9000) has
# enough column tiles to keep one chunk.
LINEAR_SHAPES = [(1, 1, 1), (3, 7, 9), (8, 16, 17), (15, 33, 8), (33, 9, 31), (257, 31, 33),
                 (1000, 9, 17), (5000, 3, 33), (3, 7, 9000)]


@pytest.mark.gpu
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("B,D,H", LINEAR_SHAPES)
def test_gpu_linear_forward_backward(act, B, D, H, rng, cp):
    x = rng.standard_normal((B, D)).astype(gc.F32)
    W = (rng.standard_normal((H, D)) / np.sqrt(D)).astype(gc.F32)
    b = rng.standard_normal(H).astype(gc.F32)
    y_cpu, y_gpu, _, _ = gc.both(ops.linear, x, W, b, act)
    gc.assert_same(y_gpu, y_cpu, "y", **gc.tol(D))
    dy = rng.standard_normal((B, H)).astype(gc.F32)
    g_cpu, g_gpu, _, _ = gc.both(ops.linear_backward, x, W, y_cpu, dy, act)
    gc.assert_same(g_gpu[0], g_cpu[0], "dx", **gc.tol(H))
    gc.assert_same(g_gpu[1], g_cpu[1], "dW", **gc.tol(B))
    gc.assert_same(g_gpu[2], g_cpu[2], "db", **gc.tol(B))


@pytest.mark.gpu
@pytest.mark.parametrize("B,H", [(1, 1), (7, 3), (300, 17), (5000, 5), (2, 9000)])
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_gpu_bias_act_backward_accumulate_and_no_db(B, H, act, rng, cp):
    y = np.tanh(rng.standard_normal((B, H))).astype(gc.F32)
    dy = rng.standard_normal((B, H)).astype(gc.F32)
    db0 = rng.standard_normal(H).astype(gc.F32)

    def run(y, dy, db, accumulate):
        dz = (cp if isinstance(y, cp.ndarray) else np).empty_like(y)
        _C.bias_act_backward(y, dy, dz, db, act, accumulate)
        return dz

    for accumulate in (False, True):
        dz_cpu, dz_gpu, a_cpu, a_gpu = gc.both(run, y, dy, db0, accumulate)
        gc.assert_same(dz_gpu, dz_cpu, "dz", **gc.ELEMENTWISE)
        gc.assert_same(a_gpu[2], a_cpu[2], f"db (accumulate={accumulate})", **gc.tol(B))
    dz_cpu, dz_gpu, _, _ = gc.both(run, y, dy, None, False)
    gc.assert_same(dz_gpu, dz_cpu, "dz without db", **gc.ELEMENTWISE)
    # bias + activation forward without a bias
    z = rng.standard_normal((B, H)).astype(gc.F32)
    _, _, z_cpu, z_gpu = gc.both(_C.bias_act_forward, z, None, act)
    gc.assert_same(z_gpu[0], z_cpu[0], "z", **gc.ELEMENTWISE)


@pytest.mark.gpu
def test_gpu_arrays_must_be_float32_on_one_device(cp):
    x64 = cp.ones(5, cp.float64)
    with pytest.raises(TypeError, match=r"the CUDA kernels take float32, got x as float64"):
        _C.activation_forward(x64, cp.empty_like(x64), "relu")
    with pytest.raises(ValueError, match=r"all arrays must live on one device"):
        _C.activation_forward(cp.ones(5, cp.float32), np.empty(5, gc.F32), "relu")
    with pytest.raises(ValueError, match=r"reference kernels run on the CPU"):
        _C.activation_forward(cp.ones(5, cp.float32), cp.empty(5, cp.float32), "relu", reference=True)


@pytest.mark.gpu
def test_gpu_device_queries(cp):
    assert _C.cuda_device_count() >= 1
    assert isinstance(_C.cuda_device_name(), str) and _C.cuda_device_name()
    _C.cuda_synchronize()
