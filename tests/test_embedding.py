"""Embedding lookup, dense scatter-add backward and coalesced sparse backward: fast CPU kernels
against the C++ reference and NumPy (fancy indexing, np.add.at), repeated ids, int32 and int64 ids,
threads, a float64 gradient check, CUDA against the CPU reference (skipped without a GPU), and
bad input.

Tolerances: the forward is a copy (exact). The fast backward adds each id's rows in position
order, as the reference does, so fast == reference exactly; against np.add.at (float32) within
atol 1e-6 * sqrt(R) + rtol 1e-6 for R repeats of an id. Float64 gradients within rtol 1e-5,
atol 1e-7 of central differences (eps 1e-6).
"""

import numpy as np
import pytest

from fastnlp import _C, ops
from gradcheck import assert_grad_close
import gpu_compare as gc

INTS = [np.int32, np.int64]


def tol(repeats=1):
    return dict(rtol=1e-6, atol=1e-6 + 3e-7 * repeats)


def max_repeats(ids):
    return int(np.bincount(ids.reshape(-1)).max())


def scatter(ids, dy, V):
    """np.add.at oracle: the dense gradient (float64 accumulation)."""
    D = dy.shape[-1]
    dW = np.zeros((V, D))
    np.add.at(dW, ids.reshape(-1), dy.reshape(-1, D).astype(np.float64))
    return dW


def ref_forward(W, ids):
    y = np.empty(ids.shape + (W.shape[1],), W.dtype)
    _C.embedding_forward(W, ids, y, reference=True)
    return y


def ref_dense(ids, dy, dW):
    out = dW.copy()
    _C.embedding_backward_dense(ids, dy, out, reference=True)
    return out


def ref_sparse(ids, dy):
    N, D = ids.size, dy.shape[-1]
    u, rows = np.empty(N, ids.dtype), np.empty((N, D), dy.dtype)
    U = _C.embedding_backward_sparse(ids, dy, u, rows, reference=True)
    return u[:U], rows[:U]


# Which cases: rows of D floats are copied / added with SIMD clones (simd.h), so D takes the
# vector remainders; the id type and float type are template parameters, one case each beyond
# float32 / int64; N only needs to repeat ids (N > V) or not. The threaded paths (above the grain)
# are test_large_multithreaded_equals_reference's.
FLOAT_IDS = [(np.float32, np.int32), (np.float32, np.int64), (np.float64, np.int64)]
N_D = [(1, 1), (9, 7), (17, 16), (100, 17), (33, 33)]


def id_cases(rng, N, V, itype):
    """Uniform ids, many repeats of one id, and all ids equal."""
    uniform = rng.integers(0, V, N).astype(itype)
    skewed = uniform.copy()
    skewed[rng.random(N) < 0.7] = V // 2
    same = np.full(N, V - 1, itype)
    return {"uniform": uniform, "skewed": skewed, "same": same}


# ---- forward ----

@pytest.mark.simd
@pytest.mark.parametrize("dtype,itype", FLOAT_IDS)
@pytest.mark.parametrize("N,D", N_D)
def test_forward_matches_numpy_and_reference(dtype, itype, N, D, rng):
    V = 11
    W = rng.standard_normal((V, D)).astype(dtype)
    ids = rng.integers(0, V, N).astype(itype)
    y = ops.embedding(W, ids)
    assert y.shape == (N, D) and y.dtype == dtype
    np.testing.assert_array_equal(y, W[ids])
    np.testing.assert_array_equal(ref_forward(W, ids), W[ids])


@pytest.mark.parametrize("shape", [(), (3, 5), (2, 1, 4)])
def test_forward_any_ids_shape_and_out(shape, rng):
    W = rng.standard_normal((9, 6)).astype(np.float32)
    ids = rng.integers(0, 9, shape).astype(np.int64)
    y = ops.embedding(W, ids)
    assert y.shape == shape + (6,)
    np.testing.assert_array_equal(y, W[ids])
    out = np.full(shape + (6,), np.nan, np.float32)
    assert ops.embedding(W, ids, out=out) is out
    np.testing.assert_array_equal(out, W[ids])


# ---- dense backward ----

@pytest.mark.simd
@pytest.mark.parametrize("dtype,itype", FLOAT_IDS)
@pytest.mark.parametrize("N,D", N_D)
@pytest.mark.parametrize("case", ["uniform", "skewed", "same"])
def test_dense_backward_matches_add_at_and_reference(dtype, itype, N, D, case, rng):
    V = 13
    ids = id_cases(rng, N, V, itype)[case]
    dy = rng.standard_normal((N, D)).astype(dtype)
    dW0 = rng.standard_normal((V, D)).astype(dtype)  # not zero: the backward adds into dW
    dW = dW0.copy()
    assert ops.embedding_backward(ids, dy, dW) is dW
    np.testing.assert_array_equal(dW, ref_dense(ids, dy, dW0))
    np.testing.assert_allclose(dW, dW0 + scatter(ids, dy, V), **tol(max_repeats(ids)))


def test_dense_backward_multi_dim_ids(rng):
    ids = rng.integers(0, 5, (4, 6)).astype(np.int32)
    dy = rng.standard_normal((4, 6, 3)).astype(np.float32)
    dW = np.zeros((5, 3), np.float32)
    ops.embedding_backward(ids, dy, dW)
    np.testing.assert_allclose(dW, scatter(ids, dy, 5), **tol(max_repeats(ids)))


# ---- sparse backward ----

@pytest.mark.simd
@pytest.mark.parametrize("dtype,itype", FLOAT_IDS)
@pytest.mark.parametrize("N,D", N_D)
@pytest.mark.parametrize("case", ["uniform", "skewed", "same"])
def test_sparse_backward_coalesces(dtype, itype, N, D, case, rng):
    V = 17
    ids = id_cases(rng, N, V, itype)[case]
    dy = rng.standard_normal((N, D)).astype(dtype)
    u, rows = ops.embedding_backward_sparse(ids, dy)
    assert u.dtype == itype and rows.dtype == dtype
    np.testing.assert_array_equal(u, np.unique(ids))
    assert rows.shape == (len(u), D)
    np.testing.assert_allclose(rows, scatter(ids, dy, V)[u], **tol(max_repeats(ids)))
    ru, rrows = ref_sparse(ids, dy)
    np.testing.assert_array_equal(u, ru)
    np.testing.assert_array_equal(rows, rrows)


@pytest.mark.parametrize("itype", INTS)
def test_sparse_backward_wide_id_range(itype, rng):
    # Ids spread far wider than N take the comparison-sort path instead of the counting sort.
    hi = np.iinfo(itype).max - 1  # the non-negativity check takes ids in [0, 2^63 - 1)
    ids = np.array([hi, 5, hi, 0, 10**6, 5, hi - 1], itype)
    dy = rng.standard_normal((7, 3)).astype(np.float32)
    u, rows = ops.embedding_backward_sparse(ids, dy)
    np.testing.assert_array_equal(u, np.array([0, 5, 10**6, hi - 1, hi], itype))
    expected = np.stack([dy[ids == v].astype(np.float64).sum(0) for v in u])
    np.testing.assert_allclose(rows, expected, **tol(3))
    ru, rrows = ref_sparse(ids, dy)
    np.testing.assert_array_equal(u, ru)
    np.testing.assert_array_equal(rows, rrows)


def test_sparse_backward_multi_dim_ids(rng):
    ids = rng.integers(0, 6, (3, 7)).astype(np.int64)
    dy = rng.standard_normal((3, 7, 4))
    u, rows = ops.embedding_backward_sparse(ids, dy)
    np.testing.assert_array_equal(u, np.unique(ids))
    np.testing.assert_allclose(rows, scatter(ids, dy, 6)[u], rtol=1e-12, atol=1e-12)


# ---- threads: a large case equal to the reference, bit for bit ----

@pytest.mark.parametrize("itype", INTS)
def test_large_multithreaded_equals_reference(itype, threads, rng):
    N, D, V = 100_000, 50, 3_001
    ids = rng.integers(0, V, N).astype(itype)
    ids[::7] = 42  # one heavily repeated id across every thread's share of the positions
    W = rng.standard_normal((V, D)).astype(np.float32)
    dy = rng.standard_normal((N, D)).astype(np.float32)
    np.testing.assert_array_equal(ops.embedding(W, ids), W[ids])
    dW0 = rng.standard_normal((V, D)).astype(np.float32)
    dW = dW0.copy()
    ops.embedding_backward(ids, dy, dW)
    np.testing.assert_array_equal(dW, ref_dense(ids, dy, dW0))
    u, rows = ops.embedding_backward_sparse(ids, dy)
    ru, rrows = ref_sparse(ids, dy)
    np.testing.assert_array_equal(u, ru)
    np.testing.assert_array_equal(rows, rrows)
    np.testing.assert_allclose(rows, scatter(ids, dy, V)[u], **tol(max_repeats(ids)))


# ---- float64 gradient check: loss = sum(embedding(W, ids) * R) ----

@pytest.mark.parametrize("reference", [False, True])
def test_gradcheck_float64(reference, rng):
    V, D = 6, 4
    W = rng.standard_normal((V, D))
    ids = np.array([[1, 3, 1], [5, 1, 0]], np.int64)  # repeats; row 2 and 4 get no gradient
    R = rng.standard_normal(ids.shape + (D,))

    def loss():
        y = np.empty(ids.shape + (D,))
        _C.embedding_forward(W, ids, y, reference=reference)
        return float((y * R).sum())

    dW = np.zeros_like(W)
    _C.embedding_backward_dense(ids, R, dW, reference=reference)
    assert_grad_close(dW, loss, W)
    u, rows = ops.embedding_backward_sparse(ids, R)
    dense = np.zeros_like(W)
    dense[u] = rows
    assert_grad_close(dense, loss, W)


# ---- CUDA: the same ops on CuPy arrays against the CPU reference ----

@pytest.mark.gpu
@pytest.mark.parametrize("itype", INTS)
@pytest.mark.parametrize("N,D", [(1, 1), (33, 17), (100_000, 50)])
def test_cuda_matches_reference(itype, N, D, rng):
    import cupy

    V = 257
    ids = rng.integers(0, V, N).astype(itype)
    ids[::3] = 7
    W = rng.standard_normal((V, D)).astype(np.float32)
    dy = rng.standard_normal((N, D)).astype(np.float32)
    np.testing.assert_array_equal(cupy.asnumpy(ops.embedding(cupy.asarray(W), cupy.asarray(ids))), W[ids])
    dW = cupy.zeros((V, D), cupy.float32)
    ops.embedding_backward(cupy.asarray(ids), cupy.asarray(dy), dW)
    np.testing.assert_allclose(cupy.asnumpy(dW), ref_dense(ids, dy, np.zeros((V, D), np.float32)),
                               **tol(max_repeats(ids)))
    u, rows = ops.embedding_backward_sparse(cupy.asarray(ids), cupy.asarray(dy))
    ru, rrows = ref_sparse(ids, dy)
    np.testing.assert_array_equal(cupy.asnumpy(u), ru)
    np.testing.assert_allclose(cupy.asnumpy(rows), rrows, **tol(max_repeats(ids)))


@pytest.mark.gpu
def test_cuda_bad_id_message():
    import cupy

    W = cupy.ones((10, 3), cupy.float32)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 10\) \(the rows of W\), got 12 at position 2"):
        ops.embedding(W, cupy.asarray(np.array([1, 2, 12, -1], np.int64)))


# ---- bad input: the error names the op, the argument, what was expected and what was given ----

def _w(V=10, D=3, dtype=np.float32):
    return np.ones((V, D), dtype)


def test_bad_dtypes():
    W = _w()
    with pytest.raises(TypeError, match=r"embedding_forward: ids must be int32 or int64 ids, got float32"):
        ops.embedding(W, np.array([1.0, 2.0], np.float32))
    with pytest.raises(TypeError, match=r"ids must be int32 or int64 ids, got uint8"):
        ops.embedding(W, np.array([1, 2], np.uint8))
    with pytest.raises(TypeError, match=r"embedding_forward: W must be float32 or float64, got int64"):
        ops.embedding(W.astype(np.int64), np.array([1]))
    with pytest.raises(TypeError, match=r"y must have the dtype of W \(float32\), got float64"):
        ops.embedding(W, np.array([1]), out=np.empty((1, 3)))
    with pytest.raises(TypeError, match=r"embedding_backward_dense: dW must have the dtype of dy \(float32\), "
                                        r"got float64"):
        ops.embedding_backward(np.array([1]), np.ones((1, 3), np.float32), _w(dtype=np.float64))
    with pytest.raises(TypeError, match=r"embedding_backward_sparse: ids must be int32 or int64 ids, got float64"):
        ops.embedding_backward_sparse(np.array([1.0]), np.ones((1, 3), np.float32))


def test_bad_ndim_and_shapes():
    W = _w()
    with pytest.raises(ValueError, match=r"embedding: W must be 2-D, got shape \(10,\)"):
        ops.embedding(np.ones(10, np.float32), np.array([1]))
    with pytest.raises(ValueError, match=r"embedding_forward: y must have shape \(2, 3\) \(ids.shape \+ \(D,\)\) "
                                         r"with D from W, got \(2, 4\)"):
        ops.embedding(W, np.array([1, 2]), out=np.empty((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"embedding_backward_dense: dy must have shape \(2, 3\) \(ids.shape \+ "
                                         r"\(D,\)\) with D from dW, got \(3, 3\)"):
        ops.embedding_backward(np.array([1, 2]), np.ones((3, 3), np.float32), _w())
    with pytest.raises(ValueError, match=r"embedding_backward_dense: dW must be 2-D, got shape \(10, 3, 1\)"):
        ops.embedding_backward(np.array([1, 2]), np.ones((2, 3), np.float32), np.ones((10, 3, 1), np.float32))
    with pytest.raises(ValueError, match=r"embedding_backward_sparse: dy must have shape ids.shape \+ \(D,\) with "
                                         r"ids of shape \(2,\), got \(2,\)"):
        ops.embedding_backward_sparse(np.array([1, 2]), np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"embedding_backward_sparse: dy must have shape \(2, 3\)"):
        ops.embedding_backward_sparse(np.array([1, 2]), np.ones((4, 3), np.float32))


def test_ids_out_of_range_name_value_and_position():
    W = _w()
    with pytest.raises(ValueError, match=r"embedding_forward: ids must be in \[0, 10\) \(the rows of W\), "
                                         r"got 10 at position 2"):
        ops.embedding(W, np.array([0, 9, 10, 11], np.int32))
    with pytest.raises(ValueError, match=r"ids must be in \[0, 10\) \(the rows of W\), got -1 at position 4"):
        ops.embedding(W, np.array([[0, 1], [2, 3], [-1, 5]], np.int64))
    with pytest.raises(ValueError, match=r"embedding_backward_dense: ids must be in \[0, 10\) \(the rows of dW\), "
                                         r"got 99 at position 0"):
        ops.embedding_backward(np.array([99]), np.ones((1, 3), np.float32), _w())
    with pytest.raises(ValueError, match=r"embedding_backward_sparse: ids must be in \[0, \d+\) \(row indices are "
                                         r"non-negative\), got -3 at position 1"):
        ops.embedding_backward_sparse(np.array([1, -3]), np.ones((2, 3), np.float32))


def test_dw_must_be_writeable_contiguous():
    ids, dy = np.array([1, 2]), np.ones((2, 3), np.float32)
    dW = _w()
    dW.flags.writeable = False
    with pytest.raises(ValueError, match=r"embedding_backward_dense: dW is added to in place and must be writeable"):
        ops.embedding_backward(ids, dy, dW)
    with pytest.raises(ValueError, match=r"embedding_backward_dense: dW must be C-contiguous"):
        ops.embedding_backward(ids, dy, np.ones((10, 6), np.float32)[:, ::2])
    y = np.empty((2, 3), np.float32)
    y.flags.writeable = False
    with pytest.raises(ValueError, match=r"embedding_forward: y is written in place and must be writeable"):
        ops.embedding(_w(), ids, out=y)


def test_non_contiguous_ids():
    with pytest.raises(ValueError, match=r"embedding_forward: ids must be C-contiguous"):
        ops.embedding(_w(), np.arange(8)[::2])


def test_empty_ids():
    with pytest.raises(ValueError, match=r"embedding_forward: ids must not be empty, got shape \(0,\)"):
        ops.embedding(_w(), np.array([], np.int64))
    with pytest.raises(ValueError, match=r"embedding_backward_dense: ids must not be empty, got shape \(0,\)"):
        ops.embedding_backward(np.array([], np.int64), np.ones((0, 3), np.float32), _w())
    with pytest.raises(ValueError, match=r"embedding_backward_sparse: ids must not be empty, got shape \(0, 2\)"):
        ops.embedding_backward_sparse(np.ones((0, 2), np.int32), np.ones((0, 2, 3), np.float32))


def test_not_an_array():
    with pytest.raises(TypeError, match=r"embedding: ids must be a NumPy array or a GPU array, got list"):
        ops.embedding(_w(), [1, 2])


# ---- GPU: embeddings against the CPU (marked gpu) ----

EMB_SHAPES = [(1, 1, 1), (3, 7, 1), (17, 5, 9), (50, 3, 33), (1000, 300, 257), (7, 1, 100_003)]


@pytest.mark.gpu
@pytest.mark.parametrize("V,D,N", EMB_SHAPES)
@pytest.mark.parametrize("id_type", gc.ID_TYPES)
def test_gpu_embedding_forward_and_dense_backward(V, D, N, id_type, rng, cp):
    W = rng.standard_normal((V, D)).astype(gc.F32)
    ids = rng.integers(0, V, N).astype(id_type)  # repeats whenever N > V
    y_cpu, y_gpu, _, _ = gc.both(ops.embedding, W, ids)
    gc.assert_same(y_gpu, y_cpu, "y", rtol=0, atol=0)
    dy = rng.standard_normal((N, D)).astype(gc.F32)
    dW = rng.standard_normal((V, D)).astype(gc.F32)  # added into, not overwritten
    _, _, a_cpu, a_gpu = gc.both(ops.embedding_backward, ids, dy, dW)
    repeats = max(1, N // V)
    gc.assert_same(a_gpu[2], a_cpu[2], "dW", **gc.tol(repeats))


@pytest.mark.gpu
@pytest.mark.parametrize("id_type", gc.ID_TYPES)
def test_gpu_embedding_forward_2d_ids(id_type, rng, cp):
    W = rng.standard_normal((20, 7)).astype(gc.F32)
    ids = rng.integers(0, 20, (3, 5)).astype(id_type)
    y_cpu, y_gpu, _, _ = gc.both(ops.embedding, W, ids)
    gc.assert_same(y_gpu, y_cpu, "y", rtol=0, atol=0)


@pytest.mark.gpu
@pytest.mark.parametrize("V,D,N", EMB_SHAPES + [(5, 17, 100_003)])
@pytest.mark.parametrize("id_type", gc.ID_TYPES)
def test_gpu_embedding_backward_sparse(V, D, N, id_type, rng, cp):
    ids = rng.integers(0, V, N).astype(id_type)
    dy = rng.standard_normal((N, D)).astype(gc.F32)
    r_cpu, r_gpu, _, _ = gc.both(ops.embedding_backward_sparse, ids, dy)
    u = np.unique(ids)
    np.testing.assert_array_equal(r_gpu[0], u)
    gc.assert_same(r_gpu, r_cpu, "(unique_ids, rows)", **gc.tol(max(1, N // V)))


@pytest.mark.gpu
def test_gpu_embedding_backward_sparse_zipf_is_deterministic(rng, cp):
    # Zipf ids: one id takes a large share of the batch. The sums follow the original order of
    # the rows on every run (no atomics), so repeated calls agree bit for bit.
    ids = np.minimum(rng.zipf(1.2, 20_000) - 1, 49_999).astype(np.int64)
    dy = rng.standard_normal((20_000, 33)).astype(gc.F32)
    r_cpu, r_gpu, _, _ = gc.both(ops.embedding_backward_sparse, ids, dy)
    gc.assert_same(r_gpu, r_cpu, "zipf", **gc.tol(20_000))
    again = gc.host(ops.embedding_backward_sparse(cp.asarray(ids), cp.asarray(dy)))
    np.testing.assert_array_equal(again[0], r_gpu[0])
    np.testing.assert_array_equal(again[1], r_gpu[1])


BAD_IDS = [-1, 10]  # V = 10
OUT_OF_RANGE = r"must be in \[0, 10\)"


@pytest.mark.gpu
@pytest.mark.parametrize("bad", BAD_IDS)
@pytest.mark.parametrize("id_type", gc.ID_TYPES)
def test_gpu_out_of_range_ids_raise_value_error(bad, id_type, cp):
    V, D, N = 10, 4, 37
    ids = cp.arange(N, dtype=id_type) % V
    ids[29] = bad
    W = cp.ones((V, D), cp.float32)
    dy = cp.ones((N, D), cp.float32)
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.embedding(W, ids)
    gc.check_gpu_still_works()
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.embedding_backward(ids, dy, cp.zeros((V, D), cp.float32))
    gc.check_gpu_still_works()
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.sgd_update_sparse(W, ids, dy, 0.1, 0.0)
    gc.check_gpu_still_works()
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.adagrad_update_sparse(W, cp.zeros_like(W), ids, dy, 0.1, 1e-8, 0.0)
    gc.check_gpu_still_works()
    np.testing.assert_array_equal(cp.asnumpy(W), 1)  # nothing was updated

    logits = cp.ones((N, V), cp.float32)
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.softmax_cross_entropy(logits, ids, ignore_index=-100)
    gc.check_gpu_still_works()

    h = cp.ones((N, D), cp.float32)
    good_ids = cp.arange(N, dtype=id_type) % V
    lq_t, lq_s = cp.zeros(N, cp.float32), cp.zeros(N, cp.float32)
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.sampled_softmax(h, W, None, ids, good_ids, lq_t, lq_s)
    with pytest.raises(ValueError, match=OUT_OF_RANGE):
        ops.sampled_softmax(h, W, None, good_ids, ids, lq_t, lq_s)
    gc.check_gpu_still_works()
