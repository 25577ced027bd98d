"""Adam and AdaDelta, dense and on sparse rows: fast CPU kernels against the C++ reference and NumPy
transcriptions (awkward sizes, 1..3 threads), against torch.optim.Adam / Adadelta / SparseAdam step
by step (skipped without torch), sparse updates against the dense update of the coalesced gradient,
CUDA against the CPU (skipped without a GPU), and bad input. In its own file, beside test_optim.py
(SGD, AdaGrad), to keep each under ~500 lines; every optimizer's state_dict round trips are in
test_optim_state_dict.py.

Tolerances: float64 within rtol 1e-12, atol 1e-14 of NumPy and the reference (the same operations
in the same order); float32 within rtol 1e-5, atol 1e-6 after several steps (the SIMD clones may
fuse multiply-adds the scalar loops round twice; a division and a sqrt per step), against the
float64 reference run on the same values. Against torch in float64: rtol 1e-10, atol 1e-13 (torch
forms the first moment as lerp, m + (1 - beta1) (g - m), one rounding apart). SparseAdam adds eps
before the bias correction of sqrt(v), where we (and torch.optim.Adam) add it after: with
summed gradients of magnitude >= 0.5 over 4 steps at lr 1e-3 the two differ by < 2e-9, checked within
atol 1e-8.
"""

import math

import numpy as np
import pytest

from fastnlp import _C, nn, ops, optim
from conftest import AWKWARD
import gpu_compare as gc

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
F64 = dict(rtol=1e-12, atol=1e-14)
F32 = dict(rtol=1e-5, atol=1e-6)
TORCH64 = dict(rtol=1e-10, atol=1e-13)


def tol(dtype):
    return F64 if dtype == np.float64 else F32


def np_adam(p, g, m, v, step, lr, b1, b2, eps, wd):
    """One Adam step in NumPy (in p's dtype); returns the new (p, m, v)."""
    g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    step_size = lr / (1 - b1**step)
    bc2_sqrt = math.sqrt(1 - b2**step)
    return p - step_size * m / (np.sqrt(v) / bc2_sqrt + eps), m, v


def np_adadelta(p, g, ag, adx, lr, rho, eps, wd):
    g = g + wd * p
    ag = rho * ag + (1 - rho) * g * g
    dx = np.sqrt(adx + eps) / np.sqrt(ag + eps) * g
    adx = rho * adx + (1 - rho) * dx * dx
    return p - lr * dx, ag, adx


# ---- dense: fast vs NumPy vs the reference, several steps ----

SIZES = AWKWARD + [100_003]  # simd-marked: these also run under qemu (test_simd_levels.py), so no 1M here


@pytest.mark.simd
@pytest.mark.parametrize("dtype,n", [(np.float32, n) for n in SIZES] + [(np.float64, 100_003)])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adam_dense_steps(dtype, n, wd, rng):
    lr, b1, b2, eps = 1e-2, 0.9, 0.999, 1e-8
    p0 = rng.standard_normal(n).astype(dtype)
    p, m, v = p0.copy(), np.zeros(n, dtype), np.zeros(n, dtype)
    ep, em, ev = p0.copy(), np.zeros(n, dtype), np.zeros(n, dtype)
    rp, rm, rv = p0.astype(np.float64), np.zeros(n), np.zeros(n)
    for step in range(1, 5):
        g = rng.standard_normal(n).astype(dtype)
        if step == 2:
            g[::3] = 0  # zero gradients: the moments decay, the step stays finite
        assert ops.adam_update(p, g, m, v, step, lr, b1, b2, eps, wd) is None
        ep, em, ev = np_adam(ep, g, em, ev, step, lr, b1, b2, eps, wd)
        _C.adam_update(rp, g.astype(np.float64), rm, rv, step, lr, b1, b2, eps, wd, reference=True)
    assert ep.dtype == dtype
    for got, want, ref in [(p, ep, rp), (m, em, rm), (v, ev, rv)]:
        np.testing.assert_allclose(got, want, **tol(dtype))
        np.testing.assert_allclose(got, ref, **tol(dtype))


@pytest.mark.simd
@pytest.mark.parametrize("dtype,n", [(np.float32, n) for n in SIZES] + [(np.float64, 100_003)])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_adadelta_dense_steps(dtype, n, wd, rng):
    lr, rho, eps = 1.0, 0.95, 1e-6
    p0 = rng.standard_normal(n).astype(dtype)
    p, ag, adx = p0.copy(), np.zeros(n, dtype), np.zeros(n, dtype)
    ep, eag, eadx = p0.copy(), np.zeros(n, dtype), np.zeros(n, dtype)
    rp, rag, radx = p0.astype(np.float64), np.zeros(n), np.zeros(n)
    for step in range(4):
        g = rng.standard_normal(n).astype(dtype)
        ops.adadelta_update(p, g, ag, adx, lr, rho, eps, wd)
        ep, eag, eadx = np_adadelta(ep, g, eag, eadx, lr, rho, eps, wd)
        _C.adadelta_update(rp, g.astype(np.float64), rag, radx, lr, rho, eps, wd, reference=True)
    for got, want, ref in [(p, ep, rp), (ag, eag, rag), (adx, eadx, radx)]:
        np.testing.assert_allclose(got, want, **tol(dtype))
        np.testing.assert_allclose(got, ref, **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_million_elements_against_reference(dtype, rng):
    n = 1_000_003
    p0 = rng.standard_normal(n).astype(dtype)
    a = [p0.copy()] + [np.zeros(n, dtype) for _ in range(2)]
    b = [p0.copy()] + [np.zeros(n, dtype) for _ in range(2)]
    r = [p0.astype(np.float64)] + [np.zeros(n) for _ in range(4)]
    for step in (1, 2):
        g = rng.standard_normal(n).astype(dtype)
        ops.adam_update(a[0], g, a[1], a[2], step, 1e-2, weight_decay=0.01)
        _C.adam_update(r[0], g.astype(np.float64), r[1], r[2], step, 1e-2, 0.9, 0.999, 1e-8, 0.01, reference=True)
    np.testing.assert_allclose(a[0], r[0], **tol(dtype))
    np.testing.assert_allclose(a[2], r[2], **tol(dtype))
    r[0] = p0.astype(np.float64)
    for step in (1, 2):
        g = rng.standard_normal(n).astype(dtype)
        ops.adadelta_update(b[0], g, b[1], b[2], weight_decay=0.01)
        _C.adadelta_update(r[0], g.astype(np.float64), r[3], r[4], 1.0, 0.95, 1e-6, 0.01, reference=True)
    np.testing.assert_allclose(b[0], r[0], **tol(dtype))
    np.testing.assert_allclose(b[2], r[4], **tol(dtype))


def test_dense_same_for_any_thread_count(threads, rng):
    n = 1_000_003
    p0, g = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    p, m, v = p0.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32)
    ops.adam_update(p, g, m, v, 1, 1e-3)
    q, ag, adx = p0.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32)
    ops.adadelta_update(q, g, ag, adx)
    # the elementwise kernels compute each element alike whatever the split: bitwise equal to 1 thread
    import fastnlp
    old = fastnlp.get_num_threads()
    fastnlp.set_num_threads(1)
    try:
        p1, m1, v1 = p0.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32)
        ops.adam_update(p1, g, m1, v1, 1, 1e-3)
        q1, ag1, adx1 = p0.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32)
        ops.adadelta_update(q1, g, ag1, adx1)
    finally:
        fastnlp.set_num_threads(old)
    for a, b in [(p, p1), (m, m1), (v, v1), (q, q1), (ag, ag1), (adx, adx1)]:
        np.testing.assert_array_equal(a, b)


def test_adam_first_step_is_lr_times_sign():
    # m_hat = g, v_hat = g^2 at step 1: the step is lr * g / (|g| + eps), about lr * sign(g).
    p = np.array([1.0, 1.0, 1.0])
    m, v = np.zeros(3), np.zeros(3)
    ops.adam_update(p, np.array([4.0, -1e-3, 0.0]), m, v, 1, 0.5, eps=1e-3)
    np.testing.assert_allclose(p, [1 - 0.5 * 4 / (4 + 1e-3), 1 + 0.5 * 1e-3 / 2e-3, 1.0], rtol=1e-14)


# ---- against torch, step by step ----

@needs_torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("wd", [0.0, 0.05])
def test_adam_and_adadelta_match_torch(dtype, wd, rng):
    shape = (7, 33)
    p0 = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(5)]
    t_tol = TORCH64 if dtype == np.float64 else F32
    for kind in ["adam", "adadelta"]:
        tp = torch.tensor(p0.copy(), requires_grad=True)
        if kind == "adam":
            topt = torch.optim.Adam([tp], lr=1e-2, betas=(0.8, 0.99), eps=1e-8, weight_decay=wd)
            param = nn.Parameter(p0.copy())
            opt = optim.Adam([param], lr=1e-2, betas=(0.8, 0.99), eps=1e-8, weight_decay=wd)
        else:
            topt = torch.optim.Adadelta([tp], lr=0.5, rho=0.9, eps=1e-6, weight_decay=wd)
            param = nn.Parameter(p0.copy())
            opt = optim.AdaDelta([param], lr=0.5, rho=0.9, eps=1e-6, weight_decay=wd)
        for g in grads:
            tp.grad = torch.tensor(g)
            topt.step()
            param.grad = g.copy()
            opt.step()
            np.testing.assert_allclose(param.value, tp.detach().numpy(), **t_tol, err_msg=kind)
        st = topt.state[tp]
        if kind == "adam":
            np.testing.assert_allclose(opt.exp_avg[0], st["exp_avg"].numpy(), **t_tol)
            np.testing.assert_allclose(opt.exp_avg_sq[0], st["exp_avg_sq"].numpy(), **t_tol)
            assert opt.state_dict()["0.step"] == int(st["step"]) == 5
        else:
            np.testing.assert_allclose(opt.square_avg[0], st["square_avg"].numpy(), **t_tol)
            np.testing.assert_allclose(opt.acc_delta[0], st["acc_delta"].numpy(), **t_tol)


@needs_torch
@pytest.mark.filterwarnings("ignore:Sparse invariant checks")
def test_sparse_adam_matches_torch_sparse_adam(rng):
    V, D, N, lr = 50, 9, 40, 1e-3
    P0 = rng.standard_normal((V, D))
    tP = torch.tensor(P0.copy(), requires_grad=True)
    topt = torch.optim.SparseAdam([tP], lr=lr, betas=(0.9, 0.999), eps=1e-8)
    P, m, v = P0.copy(), np.zeros((V, D)), np.zeros((V, D))
    for step in range(1, 5):
        ids = rng.integers(0, V // 2, N)  # repeats, and rows that are never touched
        # one sign per column and step: summed repeats never cancel, so every |g| >= 0.5 (see the top)
        rows = rng.choice([-1.0, 1.0], D) * rng.uniform(0.5, 2.0, (N, D))
        tP.grad = torch.sparse_coo_tensor(torch.tensor(ids)[None], torch.tensor(rows), (V, D))
        topt.step()
        ops.adam_update_sparse(P, m, v, ids, rows, step, lr)
        np.testing.assert_allclose(P, tP.detach().numpy(), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(P[V // 2:], P0[V // 2:])


# ---- sparse: the dense update of the coalesced gradient on touched rows; the rest untouched ----

def coalesce(ids, rows, V):
    D = rows.shape[-1]
    G = np.zeros((V, D))
    np.add.at(G, ids.reshape(-1), rows.reshape(-1, D).astype(np.float64))
    return np.unique(ids), G


@pytest.mark.simd
@pytest.mark.parametrize("dtype,itype", [(np.float32, np.int32), (np.float32, np.int64), (np.float64, np.int64)])
@pytest.mark.parametrize("N,D", [(1, 1), (7, 17), (33, 8), (3000, 33)])
@pytest.mark.parametrize("case", ["uniform", "same", "sorted_unique", "unsorted_unique"])
def test_sparse_equals_dense_on_coalesced(dtype, itype, N, D, case, rng):
    V = max(40, N // 2)
    ids = {"uniform": rng.integers(0, V, N), "same": np.full(N, V - 1),
           "sorted_unique": np.sort(rng.choice(V, min(N, V), replace=False)),
           "unsorted_unique": rng.choice(V, min(N, V), replace=False)}[case].astype(itype)
    rows = rng.standard_normal(ids.shape + (D,)).astype(dtype)
    touched, G = coalesce(ids, rows, V)
    P0 = rng.standard_normal((V, D)).astype(dtype)
    wd = 0.01
    state0 = [np.abs(rng.standard_normal((V, D))).astype(dtype) for _ in range(2)]  # mid-training state
    for kind in ["adam", "adadelta"]:
        P, s1, s2 = P0.copy(), state0[0].copy(), state0[1].copy()
        rP, r1, r2 = P0.astype(np.float64), state0[0].astype(np.float64), state0[1].astype(np.float64)
        if kind == "adam":
            ops.adam_update_sparse(P, s1, s2, ids, rows, 3, 0.01, weight_decay=wd)
            sub = [rP[touched], r1[touched], r2[touched]]  # fancy-indexed copies, written back below
            _C.adam_update(sub[0], G[touched], sub[1], sub[2], 3, 0.01, 0.9, 0.999, 1e-8, wd, reference=True)
        else:
            ops.adadelta_update_sparse(P, s1, s2, ids, rows, weight_decay=wd)
            sub = [rP[touched], r1[touched], r2[touched]]
            _C.adadelta_update(sub[0], G[touched], sub[1], sub[2], 1.0, 0.95, 1e-6, wd, reference=True)
        rP[touched], r1[touched], r2[touched] = sub
        t = dict(F64) if dtype == np.float64 else dict(F32)
        if dtype == np.float32 and case in ("uniform", "same"):
            t["atol"] += 3e-7 * N  # float32 sums of up to N repeated rows
        for got, want, name in [(P, rP, "P"), (s1, r1, "state 1"), (s2, r2, "state 2")]:
            np.testing.assert_allclose(got, want, **t, err_msg=f"{kind} {name}")
        untouched = np.setdiff1d(np.arange(V), touched)
        np.testing.assert_array_equal(P[untouched], P0[untouched])
        np.testing.assert_array_equal(s1[untouched], state0[0][untouched])
        np.testing.assert_array_equal(s2[untouched], state0[1][untouched])


@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_sparse_fast_equals_reference(itype, rng):
    V, D, N = 1000, 17, 5000
    ids = rng.integers(0, V, (50, N // 50)).astype(itype)  # 2-D ids
    rows = rng.standard_normal(ids.shape + (D,)).astype(np.float32)
    P0 = rng.standard_normal((V, D)).astype(np.float32)
    a = [P0.copy(), np.zeros((V, D), np.float32), np.zeros((V, D), np.float32)]
    b = [x.copy() for x in a]
    ops.adam_update_sparse(*a, ids, rows, 1, 1e-3)
    _C.adam_update_sparse(*b, ids, rows, 1, 1e-3, 0.9, 0.999, 1e-8, 0.0, reference=True)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6 + 3e-7 * 20)
    a = [P0.copy(), np.zeros((V, D), np.float32), np.zeros((V, D), np.float32)]
    b = [x.copy() for x in a]
    ops.adadelta_update_sparse(*a, ids, rows)
    _C.adadelta_update_sparse(*b, ids, rows, 1.0, 0.95, 1e-6, 0.0, reference=True)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6 + 3e-7 * 20)


def test_optimizers_take_sparse_grads(rng):
    emb = nn.Embedding(30, 6, seed=0)
    ids = rng.integers(0, 30, (4, 5))
    for cls in [optim.Adam, optim.AdaDelta]:
        W0 = emb.W.value.copy()
        opt = cls(emb.parameters())
        emb.forward(ids)
        emb.backward(rng.standard_normal((4, 5, 6)).astype(np.float32))
        opt.step()
        touched = np.unique(ids)
        untouched = np.setdiff1d(np.arange(30), touched)
        assert (emb.W.value[touched] != W0[touched]).all()
        np.testing.assert_array_equal(emb.W.value[untouched], W0[untouched])
        opt.zero_grad()


# ---- bad input ----

def _dense_args(dtype=np.float32, n=5):
    return [np.zeros(n, dtype) for _ in range(4)]


def test_bad_dtype_shape_writeable():
    p, g, m, v = _dense_args()
    with pytest.raises(TypeError, match=r"adam_update: m must have the dtype of p \(float32\), got float64"):
        ops.adam_update(p, g, np.zeros(5), v, 1, 1e-3)
    with pytest.raises(TypeError, match="adadelta_update: p must be float32 or float64, got int64"):
        ops.adadelta_update(np.zeros(5, np.int64), g, m, v)
    with pytest.raises(ValueError, match=r"adam_update: v must have the shape of p \(5,\), got \(6,\)"):
        ops.adam_update(p, g, m, np.zeros(6, np.float32), 1, 1e-3)
    with pytest.raises(ValueError, match=r"adadelta_update: g must have the shape of p \(5,\), got \(4,\)"):
        ops.adadelta_update(p, np.zeros(4, np.float32), m, v)
    ro = np.zeros(5, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="adadelta_update: acc_dx is updated in place and must be writeable"):
        ops.adadelta_update(p, g, m, ro)
    with pytest.raises(ValueError, match="adam_update: p is updated in place and must be writeable"):
        ops.adam_update(ro, g, m, v, 1, 1e-3)
    with pytest.raises(ValueError, match="adam_update: m must be C-contiguous"):
        ops.adam_update(np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32),
                        np.zeros((4, 3), np.float32).T, np.zeros((3, 4), np.float32), 1, 1e-3)


def test_bad_sparse_args():
    P, m, v = (np.zeros((10, 4), np.float32) for _ in range(3))
    ids, rows = np.array([1, 2]), np.zeros((2, 4), np.float32)
    with pytest.raises(ValueError, match=r"adam_update_sparse: v must have shape \(10, 4\) \(the shape of P\)"):
        ops.adam_update_sparse(P, m, np.zeros((10, 5), np.float32), ids, rows, 1, 1e-3)
    with pytest.raises(ValueError, match=r"adadelta_update_sparse: ids must be in \[0, 10\) .* got 10 at position 1"):
        ops.adadelta_update_sparse(P, m, v, np.array([0, 10]), rows)
    with pytest.raises(ValueError, match=r"adam_update_sparse: rows must have shape \(2, 4\)"):
        ops.adam_update_sparse(P, m, v, ids, np.zeros((2, 3), np.float32), 1, 1e-3)
    with pytest.raises(TypeError, match="adadelta_update_sparse: ids must be int32 or int64 ids, got float64"):
        ops.adadelta_update_sparse(P, m, v, np.array([1.0]), rows[:1])


@pytest.mark.parametrize("step", [0, -3])
def test_bad_step(step):
    with pytest.raises(ValueError, match=rf"adam_update: step must be >= 1 .*got {step}"):
        ops.adam_update(*_dense_args(), step, 1e-3)
    P, m, v = (np.zeros((10, 4), np.float32) for _ in range(3))
    with pytest.raises(ValueError, match=rf"adam_update_sparse: step must be >= 1 .*got {step}"):
        ops.adam_update_sparse(P, m, v, np.array([1]), np.zeros((1, 4), np.float32), step, 1e-3)


def test_bad_step_type():
    with pytest.raises(TypeError, match="adam_update: step must be an int >= 1, got float"):
        ops.adam_update(*_dense_args(), 1.0, 1e-3)
    P, m, v = (np.zeros((10, 4), np.float32) for _ in range(3))
    with pytest.raises(TypeError, match="adam_update_sparse: step must be an int >= 1, got bool"):
        ops.adam_update_sparse(P, m, v, np.array([1]), np.zeros((1, 4), np.float32), True, 1e-3)


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("kw,msg", [
    (dict(lr=NAN), "lr must be a positive finite number, got nan"),
    (dict(lr=-1e-3), "lr must be a positive finite number"),
    (dict(eps=NAN), "eps must be a positive finite number, got nan"),
    (dict(weight_decay=INF), "weight_decay must be a finite number >= 0, got inf"),
    (dict(beta1=NAN), r"beta1 must be in \[0, 1\), got nan"),
    (dict(beta1=1.0), r"beta1 must be in \[0, 1\), got 1"),
    (dict(beta2=-0.1), r"beta2 must be in \[0, 1\), got -0.1"),
])
def test_bad_adam_hyper(kw, msg):
    with pytest.raises(ValueError, match="adam_update: " + msg):
        ops.adam_update(*_dense_args(), 1, **{"lr": 1e-3, **kw})


@pytest.mark.parametrize("kw,msg", [
    (dict(lr=NAN), "lr must be a positive finite number, got nan"),
    (dict(rho=NAN), r"rho must be in \[0, 1\), got nan"),
    (dict(rho=1.5), r"rho must be in \[0, 1\), got 1.5"),
    (dict(eps=0.0), "eps must be a positive finite number, got 0"),
    (dict(weight_decay=NAN), "weight_decay must be a finite number >= 0, got nan"),
])
def test_bad_adadelta_hyper(kw, msg):
    with pytest.raises(ValueError, match="adadelta_update: " + msg):
        ops.adadelta_update(*_dense_args(), **kw)
    P, a, b = (np.zeros((10, 4), np.float32) for _ in range(3))
    with pytest.raises(ValueError, match="adadelta_update_sparse: " + msg):
        ops.adadelta_update_sparse(P, a, b, np.array([1]), np.zeros((1, 4), np.float32), **kw)


def test_bad_optimizer_hyper():
    params = nn.Linear(2, 2, seed=0).parameters()
    with pytest.raises(ValueError, match=r"Adam: betas\[1\] must be in \[0, 1\), got nan"):
        optim.Adam(params, betas=(0.9, NAN))
    with pytest.raises(TypeError, match="Adam: betas must be a pair of floats"):
        optim.Adam(params, betas=0.9)
    with pytest.raises(ValueError, match=r"AdaDelta: rho must be in \[0, 1\), got 1.0"):
        optim.AdaDelta(params, rho=1.0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got nan"):
        optim.AdaDelta(params, lr=NAN)
    with pytest.raises(ValueError, match="eps must be a finite number > 0, got -1"):
        optim.Adam(params, eps=-1)


# ---- GPU: against the CPU (marked gpu) ----

@pytest.mark.gpu
@pytest.mark.parametrize("n", [1, 7, 1_000_003])
def test_gpu_dense_adam_adadelta(n, rng, cp):
    p, g = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    m, v = np.abs(rng.standard_normal((2, n))).astype(np.float32)
    _, _, a_cpu, a_gpu = gc.both(ops.adam_update, p, g, m, v, 3, 1e-2, 0.9, 0.999, 1e-8, 0.01)
    for i, name in [(0, "p"), (2, "m"), (3, "v")]:
        gc.assert_same(a_gpu[i], a_cpu[i], f"adam {name}", **gc.ELEMENTWISE)
    _, _, a_cpu, a_gpu = gc.both(ops.adadelta_update, p, g, m, v, 1.0, 0.95, 1e-6, 0.01)
    for i, name in [(0, "p"), (2, "acc_g"), (3, "acc_dx")]:
        gc.assert_same(a_gpu[i], a_cpu[i], f"adadelta {name}", **gc.ELEMENTWISE)


@pytest.mark.gpu
@pytest.mark.parametrize("id_type", gc.ID_TYPES)
@pytest.mark.parametrize("V,D,N", [(5, 1, 1), (50, 33, 200), (1000, 64, 5000)])
def test_gpu_sparse_adam_adadelta(V, D, N, id_type, rng, cp):
    P = rng.standard_normal((V, D)).astype(np.float32)
    s1, s2 = np.abs(rng.standard_normal((2, V, D))).astype(np.float32)
    ids = rng.integers(0, V, N).astype(id_type)
    rows = rng.standard_normal((N, D)).astype(np.float32)
    L = max(1, int(np.bincount(ids).max()))  # the longest sum of repeated rows
    _, _, a_cpu, a_gpu = gc.both(ops.adam_update_sparse, P, s1, s2, ids, rows, 2, 1e-2, 0.9, 0.999, 1e-8, 0.01)
    for i, name in [(0, "P"), (1, "m"), (2, "v")]:
        gc.assert_same(a_gpu[i], a_cpu[i], f"adam {name}", **gc.tol(L))
    _, _, a_cpu, a_gpu = gc.both(ops.adadelta_update_sparse, P, s1, s2, ids, rows, 1.0, 0.95, 1e-6, 0.01)
    for i, name in [(0, "P"), (1, "acc_g"), (2, "acc_dx")]:
        gc.assert_same(a_gpu[i], a_cpu[i], f"adadelta {name}", **gc.tol(L))


@pytest.mark.gpu
def test_gpu_optimizer_state_dict(rng, cp):
    param = nn.Parameter(cp.asarray(rng.standard_normal((3, 4)).astype(np.float32)))
    opt = optim.Adam([param])
    param.grad = cp.ones((3, 4), cp.float32)
    opt.step()
    d = opt.state_dict()
    assert isinstance(d["0.exp_avg"], np.ndarray) and int(d["0.step"]) == 1
    opt2 = optim.Adam([nn.Parameter(cp.zeros((3, 4), cp.float32))])
    opt2.load_state_dict(d)
    assert isinstance(opt2.exp_avg[0], cp.ndarray)
    np.testing.assert_array_equal(cp.asnumpy(opt2.exp_avg[0]), d["0.exp_avg"])


def test_overlapping_state_is_refused():
    buf = np.zeros(20, np.float32)
    p, g = np.ones(10, np.float32), np.ones(10, np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        ops.adam_update(p, g, buf[:10], buf[5:15], 1, 0.1)
    with pytest.raises(ValueError, match="overlaps"):
        ops.adadelta_update(p, g, p, buf[:10])
    P = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match="overlaps"):
        ops.adam_update_sparse(P, P, np.zeros_like(P), np.array([1]), np.ones((1, 3), np.float32), 1, 0.1)
