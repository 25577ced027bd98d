"""SGD and AdaGrad, dense and on sparse rows: fast CPU kernels against the C++ reference and NumPy
transcriptions, sparse updates against the dense update of the coalesced gradient, repeated and
unique ids (sorted and not), threads, CUDA against the CPU reference (skipped without a GPU), and
bad input.

Tolerances: an update is a few flops per element, but the float32 SIMD clones may fuse
multiply-adds the scalar reference rounds twice, so float32 agrees within rtol 1e-6, atol 1e-7
per step (rtol 1e-5, atol 1e-6 after several AdaGrad steps); float64 within rtol 1e-12,
atol 1e-14. Sparse gradients that sum R repeated rows in float32 add atol 3e-7 * R * lr. The
float32 kernels are held against the float64 reference run on the same (upcast) values, within
the same float32 tolerances.
"""

import numpy as np
import pytest

from fastnlp import _C, ops
from conftest import AWKWARD
import gpu_compare as gc

INTS = [np.int32, np.int64]


def tol(dtype, steps=1):
    if dtype == np.float64:
        return dict(rtol=1e-12, atol=1e-14)
    return dict(rtol=1e-6, atol=1e-7) if steps == 1 else dict(rtol=1e-5, atol=1e-6)


def np_sgd(p, g, lr, wd):
    return p - lr * (g + wd * p)


def np_adagrad(p, g, acc, lr, eps, wd):
    """NumPy transcription of one AdaGrad step; returns the new (p, acc)."""
    g = g + wd * p
    acc = acc + g * g
    return p - lr * g / (np.sqrt(acc) + eps), acc


def coalesce(ids, rows, V):
    """The touched rows and the float64 summed gradient (V, D) (np.add.at)."""
    D = rows.shape[-1]
    G = np.zeros((V, D))
    np.add.at(G, ids.reshape(-1), rows.reshape(-1, D).astype(np.float64))
    return np.unique(ids), G


# Which cases: float32 runs the SIMD clones (simd.h) over each row of D (or the n elements), so
# D and n take the vector remainders (1, 7-9, 15-17, 33); float64 runs the reference loops inside
# the fast kernels' threading and coalescing, so it is checked against NumPy, never against the
# reference (the same loop). Sizes above kGrain = 32768 elements (csrc/ops/optim.cpp) take the
# threaded path (the session runs fastnlp on 2 threads, conftest.py).
FLOAT_IDS = [(np.float32, np.int32), (np.float32, np.int64), (np.float64, np.int64)]
N_D = [(1, 1), (7, 17), (33, 8), (100, 9)]


# ---- dense ----

@pytest.mark.simd
@pytest.mark.parametrize("dtype,n", [(np.float32, n) for n in AWKWARD + [100_003]] + [(np.float64, 100_003)])
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_sgd_dense_matches_numpy_and_reference(dtype, n, wd, rng):
    p0 = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    p = p0.copy()
    assert ops.sgd_update(p, g, 0.05, weight_decay=wd) is None
    np.testing.assert_allclose(p, np_sgd(p0, g, dtype(0.05), dtype(wd)), **tol(dtype))
    if dtype == np.float32:  # float32 fast against the float64 reference on the same values
        r = p0.astype(np.float64)
        _C.sgd_update(r, g.astype(np.float64), 0.05, wd, reference=True)
        np.testing.assert_allclose(p, r, **tol(dtype))


@pytest.mark.simd
@pytest.mark.parametrize("dtype,shape", [(np.float32, s) for s in [(1,), (3, 7), (33, 17), (8, 9, 16), (100_003,)]]
                         + [(np.float64, (100_003,))])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adagrad_dense_several_steps_match_numpy(dtype, shape, wd, rng):
    lr, eps = 0.1, 1e-8
    p0 = rng.standard_normal(shape).astype(dtype)
    p, acc = p0.copy(), np.zeros(shape, dtype)
    rp, racc = p0.astype(np.float64), np.zeros(shape)  # the float64 reference
    ep, eacc = p0.copy(), np.zeros(shape, dtype)
    for step in range(4):
        g = rng.standard_normal(shape).astype(dtype)
        if step == 1:
            g.reshape(-1)[::3] = 0  # zero gradients: acc unchanged for those, step stays finite
        ops.adagrad_update(p, g, acc, lr, eps=eps, weight_decay=wd)
        _C.adagrad_update(rp, g.astype(np.float64), racc, lr, eps, wd, reference=True)
        ep, eacc = np_adagrad(ep, g, eacc, dtype(lr), dtype(eps), dtype(wd))
        assert ep.dtype == dtype
    np.testing.assert_allclose(p, ep, **tol(dtype, steps=4))
    np.testing.assert_allclose(acc, eacc, **tol(dtype, steps=4))
    np.testing.assert_allclose(p, rp, **tol(dtype, steps=4))
    np.testing.assert_allclose(acc, racc, **tol(dtype, steps=4))


def test_adagrad_first_step_and_eps_outside_sqrt():
    # acc starts at 0: the first step is lr * g / (|g| + eps), i.e. about lr * sign(g); a zero
    # gradient moves nothing (0 / (0 + eps), not 0 / 0).
    p = np.array([1.0, 1.0, 1.0])
    acc = np.zeros(3)
    ops.adagrad_update(p, np.array([4.0, -1e-3, 0.0]), acc, 0.5, eps=1e-3)
    np.testing.assert_allclose(p, [1 - 0.5 * 4 / (4 + 1e-3), 1 + 0.5 * 1e-3 / 2e-3, 1.0], rtol=1e-15)
    np.testing.assert_allclose(acc, [16.0, 1e-6, 0.0], rtol=1e-15)


# ---- sparse: equal to the dense update of the coalesced gradient; untouched rows unchanged ----

def id_cases(rng, N, V, itype):
    uniform = rng.integers(0, V, N).astype(itype)
    skewed = uniform.copy()
    skewed[rng.random(N) < 0.7] = V // 3
    return {
        "uniform": uniform,
        "skewed": skewed,
        "same": np.full(N, V - 1, itype),
        "sorted_unique": np.sort(rng.choice(V, min(N, V), replace=False)).astype(itype),
        "unsorted_unique": rng.choice(V, min(N, V), replace=False).astype(itype),
    }


CASES = ["uniform", "skewed", "same", "sorted_unique", "unsorted_unique"]


def sparse_tol(dtype, ids, lr, steps=1):
    t = tol(dtype, steps)
    if dtype == np.float32:
        t["atol"] += 3e-7 * int(np.bincount(ids.reshape(-1)).max()) * lr
    return t


@pytest.mark.simd
@pytest.mark.parametrize("dtype,itype", FLOAT_IDS)
@pytest.mark.parametrize("N,D", N_D)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_sgd_sparse_equals_dense_on_coalesced(dtype, itype, N, D, case, wd, rng):
    V, lr = 40, 0.05
    ids = id_cases(rng, N, V, itype)[case]
    rows = rng.standard_normal((len(ids), D)).astype(dtype)
    P0 = rng.standard_normal((V, D)).astype(dtype)
    touched, G = coalesce(ids, rows, V)
    expected = P0.copy()
    expected[touched] = np_sgd(P0[touched].astype(np.float64), G[touched], lr, wd)
    untouched = np.setdiff1d(np.arange(V), touched)

    P = P0.copy()
    assert ops.sgd_update_sparse(P, ids, rows, lr, weight_decay=wd) is None
    np.testing.assert_allclose(P, expected, **sparse_tol(dtype, ids, lr))
    np.testing.assert_array_equal(P[untouched], P0[untouched])  # lazy weight decay
    if dtype == np.float32:  # float32 fast against the float64 reference on the same values
        R = P0.astype(np.float64)
        _C.sgd_update_sparse(R, ids, rows.astype(np.float64), lr, wd, reference=True)
        np.testing.assert_allclose(P, R, **sparse_tol(dtype, ids, lr))
        np.testing.assert_array_equal(R[untouched], P0[untouched])
    if wd == 0:  # the dense update with a zero gradient leaves a row as it is
        Pd = P0.copy()
        ops.sgd_update(Pd, G.astype(dtype), lr)
        np.testing.assert_allclose(P, Pd, **sparse_tol(dtype, ids, lr))


@pytest.mark.simd
@pytest.mark.parametrize("dtype,itype", FLOAT_IDS)
@pytest.mark.parametrize("N,D", N_D)
@pytest.mark.parametrize("case", CASES)
def test_adagrad_sparse_steps_equal_numpy_on_coalesced(dtype, itype, N, D, case, rng):
    V, lr, eps, wd = 40, 0.1, 1e-8, 0.01
    P0 = rng.standard_normal((V, D)).astype(dtype)
    acc0 = rng.random((V, D)).astype(dtype)
    P, acc = P0.copy(), acc0.copy()
    R, racc = P0.astype(np.float64), acc0.astype(np.float64)  # the float64 reference
    EP, Eacc = P0.astype(np.float64), acc0.astype(np.float64)
    touched_all = set()
    for _ in range(3):
        ids = id_cases(rng, N, V, itype)[case]
        rows = rng.standard_normal((len(ids), D)).astype(dtype)
        touched, G = coalesce(ids, rows, V)
        touched_all.update(touched.tolist())
        EP[touched], Eacc[touched] = np_adagrad(EP[touched], G[touched], Eacc[touched], lr, eps, wd)
        ops.adagrad_update_sparse(P, acc, ids, rows, lr, eps=eps, weight_decay=wd)
        _C.adagrad_update_sparse(R, racc, ids, rows.astype(np.float64), lr, eps, wd, reference=True)
    np.testing.assert_allclose(P, EP, **sparse_tol(dtype, ids, lr, steps=3))
    np.testing.assert_allclose(acc, Eacc, **tol(dtype, steps=3))  # relative: acc grows with R^2
    np.testing.assert_allclose(P, R, **sparse_tol(dtype, ids, lr, steps=3))
    np.testing.assert_allclose(acc, racc, **tol(dtype, steps=3))
    untouched = np.setdiff1d(np.arange(V), sorted(touched_all))
    np.testing.assert_array_equal(P[untouched], P0[untouched])
    np.testing.assert_array_equal(acc[untouched], acc0[untouched])


def test_adagrad_sparse_float64_exact_transcription(rng):
    # Unique rows, float64: the fast kernel runs the reference loop, and NumPy does the same
    # operations in the same order, so the result is exact.
    V, D, lr, eps, wd = 12, 5, 0.3, 1e-6, 0.02
    P, acc = rng.standard_normal((V, D)), np.zeros((V, D))
    EP, Eacc = P.copy(), acc.copy()
    for ids in ([3, 0, 7], [7, 11], [0, 3, 5, 6]):
        ids = np.array(ids, np.int64)
        rows = rng.standard_normal((len(ids), D))
        ops.adagrad_update_sparse(P, acc, ids, rows, lr, eps=eps, weight_decay=wd)
        EP[ids], Eacc[ids] = np_adagrad(EP[ids], rows, Eacc[ids], lr, eps, wd)
    np.testing.assert_array_equal(P, EP)
    np.testing.assert_array_equal(acc, Eacc)


def test_sparse_multi_dim_ids(rng):
    V, D = 9, 4
    ids = rng.integers(0, V, (3, 5)).astype(np.int32)
    rows = rng.standard_normal((3, 5, D))
    P0 = rng.standard_normal((V, D))
    P = P0.copy()
    ops.sgd_update_sparse(P, ids, rows, 0.1)
    touched, G = coalesce(ids, rows, V)
    np.testing.assert_allclose(P, np_sgd(P0, G, 0.1, 0.0), **tol(np.float64))


def test_sparse_from_embedding_backward_sparse(rng):
    # The intended pipeline: coalesced gradient from the embedding, then the sparse update.
    V, D = 20, 6
    W = rng.standard_normal((V, D))
    ids = rng.integers(0, V, (4, 8))
    dy = rng.standard_normal((4, 8, D))
    u, rows = ops.embedding_backward_sparse(ids, dy)
    W1, W2 = W.copy(), W.copy()
    ops.sgd_update_sparse(W1, u, rows, 0.1)
    ops.sgd_update_sparse(W2, ids, dy, 0.1)  # uncoalesced: the kernel coalesces itself
    np.testing.assert_allclose(W1, W2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("itype,ids_case", [(np.int32, "repeats"), (np.int64, "repeats"),
                                            (np.int64, "sorted_unique")])
def test_sparse_large_multithreaded_equals_reference(itype, ids_case, threads, rng):
    # N * D far above kGrain: rows are split between threads on both paths (coalesced repeats,
    # and strictly increasing ids used as they are).
    N, D, V, lr, wd = 100_000, 50, 5_003, 0.01, 1e-3
    if ids_case == "repeats":
        ids = rng.integers(0, V, N).astype(itype)
        ids[::5] = 17
    else:
        N = 4_000
        ids = np.sort(rng.choice(V, N, replace=False)).astype(itype)
    rows = rng.standard_normal((N, D)).astype(np.float32)
    P0 = rng.standard_normal((V, D)).astype(np.float32)
    acc0 = rng.random((V, D)).astype(np.float32)

    P = P0.copy()
    ops.sgd_update_sparse(P, ids, rows, lr, weight_decay=wd)
    R = P0.copy()
    _C.sgd_update_sparse(R, ids, rows, lr, wd, reference=True)
    np.testing.assert_allclose(P, R, **tol(np.float32))

    P, acc = P0.copy(), acc0.copy()
    ops.adagrad_update_sparse(P, acc, ids, rows, lr, weight_decay=wd)
    R, racc = P0.copy(), acc0.copy()
    _C.adagrad_update_sparse(R, racc, ids, rows, lr, 1e-8, wd, reference=True)
    np.testing.assert_allclose(P, R, **tol(np.float32))
    np.testing.assert_allclose(acc, racc, **tol(np.float32))

    touched, G = coalesce(ids, rows, V)
    np.testing.assert_allclose(P[touched], np_adagrad(P0[touched].astype(np.float64), G[touched],
                                                      acc0[touched].astype(np.float64), lr, 1e-8, wd)[0],
                               **sparse_tol(np.float32, ids, lr))


# ---- CUDA: the same updates on CuPy arrays against the CPU reference ----

@pytest.mark.gpu
@pytest.mark.parametrize("itype", INTS)
@pytest.mark.parametrize("N,D", [(1, 1), (33, 17), (100_000, 50)])
def test_cuda_matches_reference(itype, N, D, rng):
    import cupy

    V, lr, eps, wd = 1_001, 0.05, 1e-8, 0.01
    ids = rng.integers(0, V, N).astype(itype)
    ids[::4] = 3
    rows = rng.standard_normal((N, D)).astype(np.float32)
    P0 = rng.standard_normal((V, D)).astype(np.float32)
    acc0 = rng.random((V, D)).astype(np.float32)
    t = sparse_tol(np.float32, ids, lr)

    P = cupy.asarray(P0)
    ops.sgd_update_sparse(P, cupy.asarray(ids), cupy.asarray(rows), lr, weight_decay=wd)
    R = P0.copy()
    _C.sgd_update_sparse(R, ids, rows, lr, wd, reference=True)
    np.testing.assert_allclose(cupy.asnumpy(P), R, **t)

    P, acc = cupy.asarray(P0), cupy.asarray(acc0)
    ops.adagrad_update_sparse(P, acc, cupy.asarray(ids), cupy.asarray(rows), lr, eps=eps, weight_decay=wd)
    R, racc = P0.copy(), acc0.copy()
    _C.adagrad_update_sparse(R, racc, ids, rows, lr, eps, wd, reference=True)
    np.testing.assert_allclose(cupy.asnumpy(P), R, **t)
    # acc holds the square of a sum of R rows, added in another order on the GPU.
    R_max = int(np.bincount(ids).max())
    np.testing.assert_allclose(cupy.asnumpy(acc), racc, rtol=1e-5 + 1e-6 * np.sqrt(R_max), atol=1e-6)

    g = rng.standard_normal((V, D)).astype(np.float32)
    P, acc = cupy.asarray(P0), cupy.asarray(acc0)
    ops.sgd_update(P, cupy.asarray(g), lr, weight_decay=wd)
    np.testing.assert_allclose(cupy.asnumpy(P), np_sgd(P0, g, np.float32(lr), np.float32(wd)), **tol(np.float32))
    P = cupy.asarray(P0)
    ops.adagrad_update(P, cupy.asarray(g), acc, lr, eps=eps, weight_decay=wd)
    ep, eacc = np_adagrad(P0, g, acc0, np.float32(lr), np.float32(eps), np.float32(wd))
    np.testing.assert_allclose(cupy.asnumpy(P), ep, **tol(np.float32))
    np.testing.assert_allclose(cupy.asnumpy(acc), eacc, **tol(np.float32))


@pytest.mark.gpu
def test_cuda_bad_id_message():
    import cupy

    P = cupy.zeros((10, 3), cupy.float32)
    with pytest.raises(ValueError, match=r"sgd_update_sparse: ids must be in \[0, 10\) \(the rows of P\), "
                                         r"got -2 at position 1"):
        ops.sgd_update_sparse(P, cupy.asarray(np.array([0, -2, 10], np.int32)), cupy.ones((3, 3), cupy.float32), 0.1)


# ---- bad input: the error names the op, the argument, what was expected and what was given ----

def _p(shape=(10, 3), dtype=np.float32):
    return np.ones(shape, dtype)


def test_bad_dtypes():
    with pytest.raises(TypeError, match=r"sgd_update: g must have the dtype of p \(float64\), got float32"):
        ops.sgd_update(_p(dtype=np.float64), _p(), 0.1)
    with pytest.raises(TypeError, match=r"sgd_update: p must be float32 or float64, got int64"):
        ops.sgd_update(_p(dtype=np.int64), _p(), 0.1)
    with pytest.raises(TypeError, match=r"adagrad_update: acc must have the dtype of p \(float32\), got float64"):
        ops.adagrad_update(_p(), _p(), _p(dtype=np.float64), 0.1)
    with pytest.raises(TypeError, match=r"adagrad_update_sparse: acc must have the dtype of P \(float32\), "
                                        r"got float64"):
        ops.adagrad_update_sparse(_p(), _p(dtype=np.float64), np.array([1]), _p((1, 3)), 0.1)
    with pytest.raises(TypeError, match=r"sgd_update_sparse: ids must be int32 or int64 ids, got float64"):
        ops.sgd_update_sparse(_p(), np.array([1.0]), _p((1, 3)), 0.1)
    with pytest.raises(TypeError, match=r"sgd_update_sparse: rows must have the dtype of P \(float32\), got float64"):
        ops.sgd_update_sparse(_p(), np.array([1]), _p((1, 3), np.float64), 0.1)


def test_bad_ndim_and_shapes():
    with pytest.raises(ValueError, match=r"sgd_update: g must have the shape of p \(10, 3\), got \(3, 10\)"):
        ops.sgd_update(_p(), _p((3, 10)), 0.1)
    with pytest.raises(ValueError, match=r"sgd_update: g must be 2-D, got shape \(30,\)"):
        ops.sgd_update(_p(), _p((30,)), 0.1)
    with pytest.raises(ValueError, match=r"adagrad_update: acc must have the shape of p \(10, 3\), got \(10, 4\)"):
        ops.adagrad_update(_p(), _p(), _p((10, 4)), 0.1)
    with pytest.raises(ValueError, match=r"sgd_update_sparse: P must be 2-D, got shape \(30,\)"):
        ops.sgd_update_sparse(_p((30,)), np.array([1]), _p((1, 3)), 0.1)
    with pytest.raises(ValueError, match=r"sgd_update_sparse: rows must have shape \(2, 3\) \(ids.shape \+ \(D,\)\) "
                                         r"with D from P, got \(2, 4\)"):
        ops.sgd_update_sparse(_p(), np.array([1, 2]), _p((2, 4)), 0.1)
    with pytest.raises(ValueError, match=r"adagrad_update_sparse: acc must have shape \(10, 3\) \(the shape of P\), "
                                         r"got \(9, 3\)"):
        ops.adagrad_update_sparse(_p(), _p((9, 3)), np.array([1]), _p((1, 3)), 0.1)


def test_ids_out_of_range_name_value_and_position():
    with pytest.raises(ValueError, match=r"sgd_update_sparse: ids must be in \[0, 10\) \(the rows of P\), "
                                         r"got 10 at position 1"):
        ops.sgd_update_sparse(_p(), np.array([9, 10], np.int32), _p((2, 3)), 0.1)
    with pytest.raises(ValueError, match=r"adagrad_update_sparse: ids must be in \[0, 10\) \(the rows of P\), "
                                         r"got -5 at position 2"):
        ops.adagrad_update_sparse(_p(), _p(), np.array([0, 1, -5], np.int64), _p((3, 3)), 0.1)


def test_parameters_must_be_writeable_and_contiguous():
    p = _p()
    p.flags.writeable = False
    with pytest.raises(ValueError, match=r"sgd_update: p is updated in place and must be writeable"):
        ops.sgd_update(p, _p(), 0.1)
    with pytest.raises(ValueError, match=r"sgd_update_sparse: P is updated in place and must be writeable"):
        ops.sgd_update_sparse(p, np.array([1]), _p((1, 3)), 0.1)
    with pytest.raises(ValueError, match=r"adagrad_update_sparse: acc is updated in place and must be writeable"):
        ops.adagrad_update_sparse(_p(), p, np.array([1]), _p((1, 3)), 0.1)
    with pytest.raises(ValueError, match=r"sgd_update: p must be C-contiguous"):
        ops.sgd_update(_p((10, 6))[:, ::2], _p(), 0.1)
    with pytest.raises(ValueError, match=r"adagrad_update: acc must be C-contiguous"):
        ops.adagrad_update(_p(), _p(), _p((20, 3))[::2], 0.1)
    with pytest.raises(ValueError, match=r"adagrad_update_sparse: P must be C-contiguous"):
        ops.adagrad_update_sparse(np.asfortranarray(_p()), _p(), np.array([1]), _p((1, 3)), 0.1)


def test_parameters_are_never_converted():
    # A float64 gradient for a float32 parameter is refused rather than converted (which would
    # update a temporary copy); the parameter is untouched.
    p = _p()
    with pytest.raises(TypeError):
        ops.sgd_update(p, _p(dtype=np.float64), 0.1)
    np.testing.assert_array_equal(p, 1.0)


def test_empty_ids():
    with pytest.raises(ValueError, match=r"sgd_update_sparse: ids must not be empty, got shape \(0,\)"):
        ops.sgd_update_sparse(_p(), np.array([], np.int64), _p((0, 3)), 0.1)
    with pytest.raises(ValueError, match=r"adagrad_update_sparse: ids must not be empty, got shape \(0,\)"):
        ops.adagrad_update_sparse(_p(), _p(), np.array([], np.int32), _p((0, 3)), 0.1)


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_lr(lr):
    with pytest.raises(ValueError, match=r"sgd_update: lr must be a positive finite number, got"):
        ops.sgd_update(_p(), _p(), lr)
    with pytest.raises(ValueError, match=r"adagrad_update_sparse: lr must be a positive finite number, got"):
        ops.adagrad_update_sparse(_p(), _p(), np.array([1]), _p((1, 3)), lr)


@pytest.mark.parametrize("eps", [0.0, -1e-8, float("nan")])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match=r"adagrad_update: eps must be a positive finite number, got"):
        ops.adagrad_update(_p(), _p(), _p(), 0.1, eps=eps)


@pytest.mark.parametrize("wd", [-0.1, float("nan"), float("inf")])
def test_bad_weight_decay(wd):
    with pytest.raises(ValueError, match=r"sgd_update_sparse: weight_decay must be a finite number >= 0, got"):
        ops.sgd_update_sparse(_p(), np.array([1]), _p((1, 3)), 0.1, weight_decay=wd)


def test_messages_show_the_value():
    with pytest.raises(ValueError, match=r"lr must be a positive finite number, got -0.5$"):
        ops.sgd_update(_p(), _p(), -0.5)


# ---- GPU: the updates against the CPU (marked gpu) ----

@pytest.mark.gpu
@pytest.mark.parametrize("n", AWKWARD + [1000, 100_003])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_gpu_dense_sgd_and_adagrad(n, wd, rng, cp):
    p = rng.standard_normal(n).astype(gc.F32)
    g = rng.standard_normal(n).astype(gc.F32)
    acc = rng.uniform(0, 1, n).astype(gc.F32)
    _, _, a_cpu, a_gpu = gc.both(ops.sgd_update, p, g, 0.1, wd)
    gc.assert_same(a_gpu[0], a_cpu[0], "sgd p", **gc.ELEMENTWISE)
    _, _, a_cpu, a_gpu = gc.both(ops.adagrad_update, p, g, acc, 0.1, 1e-8, wd)
    gc.assert_same(a_gpu[0], a_cpu[0], "adagrad p", **gc.ELEMENTWISE)
    gc.assert_same(a_gpu[2], a_cpu[2], "adagrad acc", **gc.ELEMENTWISE)


@pytest.mark.gpu
@pytest.mark.parametrize("V,D,N", [(1, 1, 1), (3, 7, 9), (17, 5, 33), (50, 33, 1000), (1000, 3, 100_003)])
@pytest.mark.parametrize("id_type", gc.ID_TYPES)
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_gpu_sparse_sgd_and_adagrad(V, D, N, id_type, wd, rng, cp):
    P = rng.standard_normal((V, D)).astype(gc.F32)
    acc = rng.uniform(0, 1, (V, D)).astype(gc.F32)
    ids = rng.integers(0, V, N).astype(id_type)  # repeated ids are coalesced first
    rows = rng.standard_normal((N, D)).astype(gc.F32)
    L = max(1, N // V)
    _, _, a_cpu, a_gpu = gc.both(ops.sgd_update_sparse, P, ids, rows, 0.1, wd)
    gc.assert_same(a_gpu[0], a_cpu[0], "sgd P", **gc.tol(L))
    _, _, a_cpu, a_gpu = gc.both(ops.adagrad_update_sparse, P, acc, ids, rows, 0.1, 1e-8, wd)
    gc.assert_same(a_gpu[0], a_cpu[0], "adagrad P", **gc.tol(L))
    gc.assert_same(a_gpu[1], a_cpu[1], "adagrad acc", **(gc.tol(L) if L > 1 else gc.ELEMENTWISE))
