"""The CUDA kernels against the CPU kernels: every op through fastnlp.ops, called once with NumPy
arrays and once with CuPy copies of the same arrays, on awkward sizes; out-of-range ids on the GPU
raise ValueError (and leave the GPU usable). Skipped unless fastnlp.cuda_available() (CUDA built
in, a GPU present and CuPy importable).

Tolerances (float32, GPU vs CPU): elementwise results within atol 1e-6 + rtol 1e-5 * |ref|
(both sides use their own exp); results of a reduction of length L (softmax rows, column sums,
GEMMs, coalesced rows) within 1e-5 * sqrt(L) both ways; returned mean losses within rtol 1e-5.
"""

import inspect

import numpy as np
import pytest
from conftest import cuda_skip_reason

from fastnlp import _C

if cuda_skip_reason():
    pytest.skip(cuda_skip_reason(), allow_module_level=True)

import cupy as cp  # noqa: E402

from fastnlp import ops  # noqa: E402
from conftest import AWKWARD  # noqa: E402

ACTS = list(ops.ACTIVATIONS)
F32 = np.float32
ID_TYPES = [np.int32, np.int64]


def tol(L=1):
    return dict(rtol=1e-5 * np.sqrt(L), atol=1e-6 * np.sqrt(L))


ELEMENTWISE = dict(rtol=1e-5, atol=1e-6)


# ---- running one op on both devices -------------------------------------------------------------

def gpu(a):
    return cp.asarray(a) if isinstance(a, np.ndarray) else a


def host(r):
    """Results to NumPy / Python, keeping tuple structure."""
    if isinstance(r, cp.ndarray):
        return cp.asnumpy(r)
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
    cp.cuda.Device().synchronize()
    x = cp.arange(5, dtype=cp.float32)
    np.testing.assert_allclose(cp.asnumpy(ops.activation(x, "relu")), np.arange(5, dtype=F32))


# ---- activations and the linear epilogue --------------------------------------------------------

@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("n", AWKWARD + [255, 256, 257, 1000, 100_003])
def test_activation_forward_backward(act, n, rng):
    x = (rng.standard_normal(n) * 4).astype(F32)
    y_cpu, y_gpu, _, _ = both(ops.activation, x, act)
    assert_same(y_gpu, y_cpu, "y", **ELEMENTWISE)
    dy = rng.standard_normal(n).astype(F32)
    dx_cpu, dx_gpu, _, _ = both(ops.activation_backward, y_cpu, dy, act)
    assert_same(dx_gpu, dx_cpu, "dx", **ELEMENTWISE)


@pytest.mark.parametrize("act", ACTS)
def test_activation_extremes_kinks_and_nan(act):
    x = np.array([-1e30, -100, -88.8, -20, -1, 0, 1, 20, 88.8, 100, 1e30, np.inf, -np.inf, np.nan],
                 F32)
    y_cpu, y_gpu, _, _ = both(ops.activation, x, act)
    np.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-5, atol=1e-30)
    assert np.isnan(y_gpu[-1])
    # Derivatives from y, with the subgradient 0 at the kinks (y = -1, 1 for hard-tanh; 0 for ReLU).
    y = np.array([-1, -0.5, 0, 0.5, 1, np.nan], F32)
    dy = np.ones_like(y)
    dx_cpu, dx_gpu, _, _ = both(ops.activation_backward, y, dy, act)
    np.testing.assert_array_equal(dx_gpu, dx_cpu)


@pytest.mark.parametrize("act", ACTS)
def test_activation_in_place(act, rng):
    x = cp.asarray(rng.standard_normal(1037).astype(F32))
    expected = ops.activation(x, act)
    ops.activation(x, act, out=x)
    np.testing.assert_array_equal(cp.asnumpy(x), cp.asnumpy(expected))
    dy = cp.asarray(rng.standard_normal(1037).astype(F32))
    expected = ops.activation_backward(x, dy, act)
    ops.activation_backward(x, dy, act, out=dy)
    np.testing.assert_array_equal(cp.asnumpy(dy), cp.asnumpy(expected))


# (1000, 9, 17) and (5000, 3, 33) split B into chunks for the bias gradient; (3, 7, 9000) has
# enough column tiles to keep one chunk.
LINEAR_SHAPES = [(1, 1, 1), (3, 7, 9), (8, 16, 17), (15, 33, 8), (33, 9, 31), (257, 31, 33),
                 (1000, 9, 17), (5000, 3, 33), (3, 7, 9000)]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("B,D,H", LINEAR_SHAPES)
def test_linear_forward_backward(act, B, D, H, rng):
    x = rng.standard_normal((B, D)).astype(F32)
    W = (rng.standard_normal((H, D)) / np.sqrt(D)).astype(F32)
    b = rng.standard_normal(H).astype(F32)
    y_cpu, y_gpu, _, _ = both(ops.linear, x, W, b, act)
    assert_same(y_gpu, y_cpu, "y", **tol(D))
    dy = rng.standard_normal((B, H)).astype(F32)
    g_cpu, g_gpu, _, _ = both(ops.linear_backward, x, W, y_cpu, dy, act)
    assert_same(g_gpu[0], g_cpu[0], "dx", **tol(H))
    assert_same(g_gpu[1], g_cpu[1], "dW", **tol(B))
    assert_same(g_gpu[2], g_cpu[2], "db", **tol(B))


@pytest.mark.parametrize("B,H", [(1, 1), (7, 3), (300, 17), (5000, 5), (2, 9000)])
@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_bias_act_backward_accumulate_and_no_db(B, H, act, rng):
    y = np.tanh(rng.standard_normal((B, H))).astype(F32)
    dy = rng.standard_normal((B, H)).astype(F32)
    db0 = rng.standard_normal(H).astype(F32)

    def run(y, dy, db, accumulate):
        dz = (cp if isinstance(y, cp.ndarray) else np).empty_like(y)
        _C.bias_act_backward(y, dy, dz, db, act, accumulate)
        return dz

    for accumulate in (False, True):
        dz_cpu, dz_gpu, a_cpu, a_gpu = both(run, y, dy, db0, accumulate)
        assert_same(dz_gpu, dz_cpu, "dz", **ELEMENTWISE)
        assert_same(a_gpu[2], a_cpu[2], f"db (accumulate={accumulate})", **tol(B))
    dz_cpu, dz_gpu, _, _ = both(run, y, dy, None, False)
    assert_same(dz_gpu, dz_cpu, "dz without db", **ELEMENTWISE)
    # bias + activation forward without a bias
    z = rng.standard_normal((B, H)).astype(F32)
    _, _, z_cpu, z_gpu = both(_C.bias_act_forward, z, None, act)
    assert_same(z_gpu[0], z_cpu[0], "z", **ELEMENTWISE)


# ---- softmax family -----------------------------------------------------------------------------

# Rows of 1..1024 go one warp per row, longer ones one block per row (256/512/1024 threads).
SOFTMAX_SHAPES = [(1, 1), (3, 7), (8, 31), (17, 33), (9, 1023), (5, 1024), (4, 1025), (3, 4097),
                  (2, 8193), (2, 65537), (2, 100_003), (1, 1_000_000), (2000, 3)]


@pytest.mark.parametrize("B,V", SOFTMAX_SHAPES)
def test_softmax_and_log_softmax(B, V, rng):
    x = (rng.standard_normal((B, V)) * 5).astype(F32)
    dy = rng.standard_normal((B, V)).astype(F32)
    for fwd, bwd in ((ops.softmax, ops.softmax_backward), (ops.log_softmax, ops.log_softmax_backward)):
        y_cpu, y_gpu, _, _ = both(fwd, x)
        assert_same(y_gpu, y_cpu, fwd.__name__, **tol(V))
        dx_cpu, dx_gpu, _, _ = both(bwd, y_cpu, dy)
        assert_same(dx_gpu, dx_cpu, bwd.__name__, **tol(V))


def test_softmax_large_logits_and_masked_entries():
    # Max subtraction: logits near float max must not overflow; -inf entries (masks) give 0.
    x = np.array([[3e38, 3e38, -3e38, 0], [1e4, -np.inf, 1e4 - 1, -np.inf], [0, 0, 0, 0]], F32)
    y_cpu, y_gpu, _, _ = both(ops.softmax, x)
    assert np.isfinite(y_gpu).all()
    np.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-6, atol=1e-7)
    assert y_gpu[1, 1] == 0 and y_gpu[1, 3] == 0
    ly_cpu, ly_gpu, _, _ = both(ops.log_softmax, x)
    np.testing.assert_array_equal(np.isneginf(ly_gpu), np.isneginf(ly_cpu))
    finite = np.isfinite(ly_cpu)
    np.testing.assert_allclose(ly_gpu[finite], ly_cpu[finite], rtol=1e-6, atol=1e-6)


def test_softmax_nan_row_stays_nan():
    x = np.array([[1, 2, np.nan, 4], [1, 2, 3, 4]], F32)
    y = cp.asnumpy(ops.softmax(cp.asarray(x)))
    assert np.isnan(y[0]).all() and np.isfinite(y[1]).all()


def test_softmax_in_place(rng):
    x = cp.asarray(rng.standard_normal((7, 2000)).astype(F32))
    expected = ops.softmax(x)
    ops.softmax(x, out=x)
    np.testing.assert_array_equal(cp.asnumpy(x), cp.asnumpy(expected))


CE_SHAPES = [(1, 1), (3, 7), (17, 33), (9, 1024), (4, 1025), (33, 5000), (2, 100_003), (3000, 9)]


@pytest.mark.parametrize("B,V", CE_SHAPES)
@pytest.mark.parametrize("id_type", ID_TYPES)
def test_softmax_cross_entropy(B, V, id_type, rng):
    logits = (rng.standard_normal((B, V)) * 3).astype(F32)
    targets = rng.integers(0, V, B).astype(id_type)
    r_cpu, r_gpu, _, _ = both(ops.softmax_cross_entropy, logits, targets)
    assert_same(r_gpu, r_cpu, "softmax_cross_entropy", **tol(V))
    # Rows whose target is ignore_index count for nothing (loss and gradient).
    targets[::3] = -100
    r_cpu, r_gpu, _, _ = both(ops.softmax_cross_entropy, logits, targets, ignore_index=-100)
    assert_same(r_gpu, r_cpu, "softmax_cross_entropy with ignored rows", **tol(V))


def test_softmax_cross_entropy_all_ignored_and_ignore_inside_range(rng):
    logits = rng.standard_normal((5, 7)).astype(F32)
    targets = np.full(5, -1, np.int64)
    r_cpu, r_gpu, _, _ = both(ops.softmax_cross_entropy, logits, targets, ignore_index=-1)
    assert_same(r_gpu, r_cpu, "all rows ignored", **tol(7))
    # A padding id inside [0, V) may be the ignored one.
    targets = np.array([0, 3, 0, 6, 2], np.int64)
    r_cpu, r_gpu, _, _ = both(ops.softmax_cross_entropy, logits, targets, ignore_index=0)
    assert_same(r_gpu, r_cpu, "ignore_index=0", **tol(7))


def test_softmax_cross_entropy_gradient_in_place(rng):
    # The kernel may write dlogits over logits (the loss layer's memory-saving mode).
    params = inspect.signature(ops.softmax_cross_entropy).parameters
    if "grad_out" not in params:
        pytest.skip("ops.softmax_cross_entropy takes no grad_out")
    logits = (rng.standard_normal((33, 1500)) * 3).astype(F32)
    targets = rng.integers(0, 1500, 33).astype(np.int64)
    want = host(ops.softmax_cross_entropy(logits, targets))
    lg = cp.asarray(logits)
    got = host(ops.softmax_cross_entropy(lg, cp.asarray(targets), grad_out=lg))
    assert_same(got, want, "in place", **tol(1500))
    np.testing.assert_allclose(cp.asnumpy(lg), want[1], **tol(1500))


def test_softmax_cross_entropy_is_deterministic(rng):
    logits = cp.asarray((rng.standard_normal((3000, 77)) * 3).astype(F32))
    targets = cp.asarray(rng.integers(0, 77, 3000))
    first = host(ops.softmax_cross_entropy(logits, targets))
    for _ in range(3):
        again = host(ops.softmax_cross_entropy(logits, targets))
        assert float(again[0]) == float(first[0])


# (B, H, V, K): K + 1 <= 1024 uses a warp per row, K = 1500 a block per row.
SAMPLED_SHAPES = [(1, 3, 50, 1), (7, 17, 50, 8), (33, 16, 1000, 33), (9, 31, 3000, 1500)]


@pytest.mark.parametrize("B,H,V,K", SAMPLED_SHAPES)
@pytest.mark.parametrize("id_type", ID_TYPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_sampled_softmax(B, H, V, K, id_type, with_bias, rng):
    h = (rng.standard_normal((B, H)) * 0.5).astype(F32)
    W = (rng.standard_normal((V, H)) * 0.5).astype(F32)
    b = rng.standard_normal(V).astype(F32) if with_bias else None
    targets = rng.integers(0, V, B).astype(id_type)
    samples = rng.integers(0, V, K).astype(id_type)
    samples[: min(K, B) // 2] = targets[: min(K, B) // 2]  # accidental hits
    logq_t = np.log(rng.uniform(0.01, 1.0, B)).astype(F32)
    logq_s = np.log(rng.uniform(0.01, 1.0, K)).astype(F32)
    r_cpu, r_gpu, _, _ = both(ops.sampled_softmax, h, W, b, targets, samples, logq_t, logq_s)
    assert_same(r_gpu, r_cpu, "sampled_softmax", **tol(max(H, K)))


# ---- embeddings ---------------------------------------------------------------------------------

EMB_SHAPES = [(1, 1, 1), (3, 7, 1), (17, 5, 9), (50, 3, 33), (1000, 300, 257), (7, 1, 100_003)]


@pytest.mark.parametrize("V,D,N", EMB_SHAPES)
@pytest.mark.parametrize("id_type", ID_TYPES)
def test_embedding_forward_and_dense_backward(V, D, N, id_type, rng):
    W = rng.standard_normal((V, D)).astype(F32)
    ids = rng.integers(0, V, N).astype(id_type)  # repeats whenever N > V
    y_cpu, y_gpu, _, _ = both(ops.embedding, W, ids)
    assert_same(y_gpu, y_cpu, "y", rtol=0, atol=0)
    dy = rng.standard_normal((N, D)).astype(F32)
    dW = rng.standard_normal((V, D)).astype(F32)  # added into, not overwritten
    _, _, a_cpu, a_gpu = both(ops.embedding_backward, ids, dy, dW)
    repeats = max(1, N // V)
    assert_same(a_gpu[2], a_cpu[2], "dW", **tol(repeats))


@pytest.mark.parametrize("id_type", ID_TYPES)
def test_embedding_forward_2d_ids(id_type, rng):
    W = rng.standard_normal((20, 7)).astype(F32)
    ids = rng.integers(0, 20, (3, 5)).astype(id_type)
    y_cpu, y_gpu, _, _ = both(ops.embedding, W, ids)
    assert_same(y_gpu, y_cpu, "y", rtol=0, atol=0)


@pytest.mark.parametrize("V,D,N", EMB_SHAPES + [(5, 17, 100_003)])
@pytest.mark.parametrize("id_type", ID_TYPES)
def test_embedding_backward_sparse(V, D, N, id_type, rng):
    ids = rng.integers(0, V, N).astype(id_type)
    dy = rng.standard_normal((N, D)).astype(F32)
    r_cpu, r_gpu, _, _ = both(ops.embedding_backward_sparse, ids, dy)
    u = np.unique(ids)
    np.testing.assert_array_equal(r_gpu[0], u)
    assert_same(r_gpu, r_cpu, "(unique_ids, rows)", **tol(max(1, N // V)))


def test_embedding_backward_sparse_zipf_is_deterministic(rng):
    # Zipf ids: one id takes a large share of the batch. The sums follow the original order of
    # the rows on every run (no atomics), so repeated calls agree bit for bit.
    ids = np.minimum(rng.zipf(1.2, 20_000) - 1, 49_999).astype(np.int64)
    dy = rng.standard_normal((20_000, 33)).astype(F32)
    r_cpu, r_gpu, _, _ = both(ops.embedding_backward_sparse, ids, dy)
    assert_same(r_gpu, r_cpu, "zipf", **tol(20_000))
    again = host(ops.embedding_backward_sparse(cp.asarray(ids), cp.asarray(dy)))
    np.testing.assert_array_equal(again[0], r_gpu[0])
    np.testing.assert_array_equal(again[1], r_gpu[1])


# ---- optimizers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n", AWKWARD + [1000, 100_003])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_dense_sgd_and_adagrad(n, wd, rng):
    p = rng.standard_normal(n).astype(F32)
    g = rng.standard_normal(n).astype(F32)
    acc = rng.uniform(0, 1, n).astype(F32)
    _, _, a_cpu, a_gpu = both(ops.sgd_update, p, g, 0.1, wd)
    assert_same(a_gpu[0], a_cpu[0], "sgd p", **ELEMENTWISE)
    _, _, a_cpu, a_gpu = both(ops.adagrad_update, p, g, acc, 0.1, 1e-8, wd)
    assert_same(a_gpu[0], a_cpu[0], "adagrad p", **ELEMENTWISE)
    assert_same(a_gpu[2], a_cpu[2], "adagrad acc", **ELEMENTWISE)


@pytest.mark.parametrize("V,D,N", [(1, 1, 1), (3, 7, 9), (17, 5, 33), (50, 33, 1000), (1000, 3, 100_003)])
@pytest.mark.parametrize("id_type", ID_TYPES)
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_sparse_sgd_and_adagrad(V, D, N, id_type, wd, rng):
    P = rng.standard_normal((V, D)).astype(F32)
    acc = rng.uniform(0, 1, (V, D)).astype(F32)
    ids = rng.integers(0, V, N).astype(id_type)  # repeated ids are coalesced first
    rows = rng.standard_normal((N, D)).astype(F32)
    L = max(1, N // V)
    _, _, a_cpu, a_gpu = both(ops.sgd_update_sparse, P, ids, rows, 0.1, wd)
    assert_same(a_gpu[0], a_cpu[0], "sgd P", **tol(L))
    _, _, a_cpu, a_gpu = both(ops.adagrad_update_sparse, P, acc, ids, rows, 0.1, 1e-8, wd)
    assert_same(a_gpu[0], a_cpu[0], "adagrad P", **tol(L))
    assert_same(a_gpu[1], a_cpu[1], "adagrad acc", **(tol(L) if L > 1 else ELEMENTWISE))


# ---- bad input on the GPU -----------------------------------------------------------------------

BAD_IDS = [-1, 10]  # V = 10
OUT_OF_RANGE = r"must be in \[0, 10\)"


@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("id_type", ID_TYPES)
def test_out_of_range_ids_raise_value_error(bad, id_type):
    V, D, N = 10, 4, 37
    ids = cp.arange(N, dtype=id_type) % V
    ids[29] = bad
    W = cp.ones((V, D), cp.float32)
    dy = cp.ones((N, D), cp.float32)
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.embedding(W, ids)
    check_gpu_still_works()
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.embedding_backward(ids, dy, cp.zeros((V, D), cp.float32))
    check_gpu_still_works()
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.sgd_update_sparse(W, ids, dy, 0.1, 0.0)
    check_gpu_still_works()
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.adagrad_update_sparse(W, cp.zeros_like(W), ids, dy, 0.1, 1e-8, 0.0)
    check_gpu_still_works()
    np.testing.assert_array_equal(cp.asnumpy(W), 1)  # nothing was updated

    logits = cp.ones((N, V), cp.float32)
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.softmax_cross_entropy(logits, ids, ignore_index=-100)
    check_gpu_still_works()

    h = cp.ones((N, D), cp.float32)
    good_ids = cp.arange(N, dtype=id_type) % V
    lq_t, lq_s = cp.zeros(N, cp.float32), cp.zeros(N, cp.float32)
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.sampled_softmax(h, W, None, ids, good_ids, lq_t, lq_s)
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.sampled_softmax(h, W, None, good_ids, ids, lq_t, lq_s)
    check_gpu_still_works()


def test_gpu_arrays_must_be_float32_on_one_device():
    x64 = cp.ones(5, cp.float64)
    with pytest.raises(TypeError, match=r"the CUDA kernels take float32, got x as float64"):
        _C.activation_forward(x64, cp.empty_like(x64), "relu")
    with pytest.raises(ValueError, match=r"all arrays must live on one device"):
        _C.activation_forward(cp.ones(5, cp.float32), np.empty(5, F32), "relu")
    with pytest.raises(ValueError, match=r"reference kernels run on the CPU"):
        _C.activation_forward(cp.ones(5, cp.float32), cp.empty(5, cp.float32), "relu", reference=True)


def test_device_queries():
    assert _C.cuda_device_count() >= 1
    assert isinstance(_C.cuda_device_name(), str) and _C.cuda_device_name()
    _C.cuda_synchronize()
