"""Sampled softmax and its proposal sampler: the fast kernel against the C++ reference and a NumPy
transcription (injected samples, accidental hits, repeated samples) on awkward sizes and V = 50k,
the equivalence with a full softmax when every class is sampled, the GPU composition (gathers,
GEMMs, fused middle) replayed on the CPU, float64 gradient checks, the alias sampler's frequencies
and determinism, bad input, and (with a GPU) CUDA against the CPU.

Tolerances: float32 results within rtol r and atol r * max|ref| per array, r = 1e-5 * sqrt(n) for
the longest reduction n among H, K, B (dot products, GEMMs, column sums); float64 kernels against
the transcription within 1e-12; gradients within rtol 1e-5, atol 1e-7 of central differences
(eps 1e-6). Sampler: chi-square over the classes with p > 0 below df + 6 sqrt(2 df).
"""

import numpy as np
import pytest

import fastnlp
from fastnlp import _C, ops
from gradcheck import assert_grad_close
import gpu_compare as gc

SIZES = [(1, 1, 3, 1), (3, 7, 20, 5), (8, 16, 100, 17), (17, 33, 1000, 64), (9, 64, 500, 8),
         (33, 9, 50_000, 31)]  # (B, H, V, K)


def close(actual, expected, n=1, r=None):
    r = 1e-5 * np.sqrt(n) if r is None else r
    expected = np.asarray(expected, np.float64)
    np.testing.assert_allclose(actual, expected, rtol=r, atol=r * max(np.abs(expected).max(), 1e-30))


def np_sampled_softmax(h, W, b, t, s, lqt, lqs):
    """One sampled-softmax step in float64 NumPy: (loss, losses, dh, grad_rows, grad_bias)."""
    h, W = h.astype(np.float64), W.astype(np.float64)
    bb = np.zeros(W.shape[0]) if b is None else b.astype(np.float64)
    B = len(t)
    z = np.empty((B, 1 + len(s)))
    z[:, 0] = (h * W[t]).sum(axis=1) + bb[t] - lqt
    z[:, 1:] = h @ W[s].T + bb[s] - lqs
    z[:, 1:][t[:, None] == s[None, :]] = -np.inf  # accidental hits leave the softmax
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    lse = m[:, 0] + np.log(e.sum(axis=1))
    losses = lse - z[:, 0]
    g = e / e.sum(axis=1, keepdims=True)
    g[:, 0] -= 1
    g /= B
    dh = g[:, :1] * W[t] + g[:, 1:] @ W[s]
    grad_rows = np.concatenate([g[:, :1] * h, g[:, 1:].T @ h])
    grad_bias = np.concatenate([g[:, 0], g[:, 1:].sum(axis=0)])
    return losses.mean(), losses, dh, grad_rows, grad_bias


def problem(rng, B, H, V, K, dtype=np.float32, itype=np.int64, bias=True, hits=True):
    """Random inputs with injected samples: an accidental hit and a repeated sample when K allows."""
    h = rng.standard_normal((B, H)).astype(dtype)
    W = (rng.standard_normal((V, H)) / np.sqrt(H)).astype(dtype)
    b = (rng.standard_normal(V) * 0.5).astype(dtype) if bias else None
    t = rng.integers(0, V, B).astype(itype)
    s = rng.integers(0, V, K).astype(itype)
    if hits:
        s[0] = t[0]
        if K > 2:
            s[2] = s[1]
    p = rng.dirichlet(np.ones(V))
    lqt = np.log(K * p[t]).astype(dtype)
    lqs = np.log(K * p[s]).astype(dtype)
    return h, W, b, t, s, lqt, lqs


def run(h, W, b, t, s, lqt, lqs, reference=False):
    B, H = h.shape
    K = len(s)
    out = dict(losses=np.empty(B, h.dtype), dh=np.empty((B, H), h.dtype),
               grad_rows=np.empty((B + K, H), h.dtype),
               grad_bias=None if b is None else np.empty(B + K, h.dtype))
    loss = _C.sampled_softmax(h, W, b, t, s, lqt, lqs, out["losses"], out["dh"], out["grad_rows"],
                              out["grad_bias"], reference=reference)
    return loss, out["losses"], out["dh"], out["grad_rows"], out["grad_bias"]


@pytest.mark.simd
@pytest.mark.parametrize("B,H,V,K", SIZES)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("itype", [np.int32, np.int64])
def test_matches_numpy_and_reference(B, H, V, K, bias, itype, rng):
    args = problem(rng, B, H, V, K, itype=itype, bias=bias)
    expected = np_sampled_softmax(*args)
    res = ops.sampled_softmax(*args)
    n = max(H, K, B)
    assert isinstance(res.loss, float)
    close(res.loss, expected[0], n)
    close(res.losses, expected[1], n)
    close(res.dh, expected[2], n)
    close(res.grad_rows, expected[3], n)
    np.testing.assert_array_equal(res.grad_ids, np.concatenate([args[3], args[4]]))
    assert res.grad_ids.dtype == itype
    if bias:
        close(res.grad_bias, expected[4], n)
    else:
        assert res.grad_bias is None
    # The accidental hit (row 0, sample 0) has probability 0 in that row.
    if B == 1:
        assert not res.grad_rows[1].any() and (res.grad_bias is None or res.grad_bias[1] == 0)
    ref = run(*args, reference=True)
    for got, want in zip((res.loss, res.losses, res.dh, res.grad_rows, res.grad_bias), ref):
        if want is not None:
            close(got, want, n)


@pytest.mark.parametrize("B,H,V,K", SIZES[:4])
@pytest.mark.parametrize("reference", [False, True])
def test_float64_kernels_equal_transcription(B, H, V, K, reference, rng):
    args = problem(rng, B, H, V, K, dtype=np.float64)
    for got, want in zip(run(*args, reference=reference), np_sampled_softmax(*args)):
        close(got, want, r=1e-12)


def test_one_step_equals_numpy_transcription(rng):
    """One SGD step on W and b from the kernel's sparse rows equals a per-row NumPy transcription."""
    B, H, V, K, lr = 6, 5, 11, 7, 0.5
    h, W, b, t, s, lqt, lqs = problem(rng, B, H, V, K)
    s[3] = t[4]  # a second accidental hit, in another row
    res = ops.sampled_softmax(h, W, b, t, s, lqt, lqs)
    W1, b1 = W.astype(np.float64), b.astype(np.float64)
    np.add.at(W1, res.grad_ids, -lr * res.grad_rows)
    np.add.at(b1, res.grad_ids, -lr * res.grad_bias)

    W2, b2 = W.astype(np.float64), b.astype(np.float64)
    dh = np.zeros((B, H))
    for i in range(B):  # row by row, as the algorithm reads
        ids = [t[i]] + [k for k in s if k != t[i]]
        logq = [lqt[i]] + [lqs[j] for j, k in enumerate(s) if k != t[i]]
        z = np.array([h[i] @ W[k] + b[k] - q for k, q in zip(ids, logq)], np.float64)
        p = np.exp(z - z.max())
        p /= p.sum()
        p[0] -= 1
        for k, g in zip(ids, p / B):
            W2[k] -= lr * g * h[i]
            b2[k] -= lr * g
            dh[i] += g * W[k]
    close(W1, W2, K)
    close(b1, b2, K)
    close(res.dh, dh, K)


def test_accidental_hit_is_removed(rng):
    h, W, b, t, s, lqt, lqs = problem(rng, 1, 4, 9, 5, hits=False)
    s[:] = [2, 5, 7, 1, 3]
    t[0] = 7
    res = ops.sampled_softmax(h, W, b, t, s, lqt, lqs)
    assert res.grad_rows[1 + 2].tolist() == [0.0] * 4 and res.grad_bias[1 + 2] == 0.0
    keep = s != 7
    without = ops.sampled_softmax(h, W, b, t, np.ascontiguousarray(s[keep]), lqt, np.ascontiguousarray(lqs[keep]))
    assert res.loss == pytest.approx(without.loss, rel=1e-6)
    close(res.dh, without.dh)


def test_every_class_sampled_is_full_softmax(rng):
    """Samples = all V classes with log Q = 0: the hit removes the target and what is left is the
    full softmax, so loss and gradients equal softmax cross-entropy's."""
    B, H, V = 5, 6, 13
    h, W, b, t, _, _, _ = problem(rng, B, H, V, 1, dtype=np.float64)
    s = np.arange(V)
    res = ops.sampled_softmax(h, W, b, t, s, np.zeros(B), np.zeros(V))
    logits = h @ W.T + b
    loss, dlogits = ops.softmax_cross_entropy(logits, t)
    close(res.loss, loss, r=1e-12)
    close(res.dh, dlogits @ W, r=1e-12)
    dW = np.zeros_like(W)
    np.add.at(dW, res.grad_ids, res.grad_rows)
    close(dW, dlogits.T @ h, r=1e-12)
    db = np.zeros_like(b)
    np.add.at(db, res.grad_ids, res.grad_bias)
    close(db, dlogits.sum(axis=0), r=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_gpu_composition_on_cpu(dtype, bias, rng):
    """The GPU path of ops.sampled_softmax (gathers, GEMMs, the fused middle, GEMMs), replayed with
    NumPy around _C.sampled_softmax_scores, equals the one-call CPU kernel."""
    B, H, V, K = 9, 17, 300, 33
    h, W, b, t, s, lqt, lqs = problem(rng, B, H, V, K, dtype=dtype, bias=bias)
    Ws, Wt = W[s], W[t]
    s_samp = np.ascontiguousarray(h @ Ws.T)
    s_true = np.ascontiguousarray((h * Wt).sum(axis=1))
    losses = np.empty(B, dtype)
    loss = _C.sampled_softmax_scores(s_true, s_samp, None if b is None else b[t], None if b is None else b[s],
                                     t, s, lqt, lqs, losses, num_classes=V)
    dh = s_samp @ Ws + s_true[:, None] * Wt
    grad_rows = np.concatenate([s_true[:, None] * h, s_samp.T @ h])
    grad_bias = np.concatenate([s_true, s_samp.sum(axis=0)])
    res = ops.sampled_softmax(h, W, b, t, s, lqt, lqs)
    n = max(H, K, B)
    close(loss, res.loss, n)
    close(losses, res.losses, n)
    close(dh, res.dh, n)
    close(grad_rows, res.grad_rows, n)
    if bias:
        close(grad_bias, res.grad_bias, n)


@pytest.mark.parametrize("reference", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_float64(reference, bias, rng):
    B, H, V, K = 4, 5, 12, 6
    h, W, b, t, s, lqt, lqs = problem(rng, B, H, V, K, dtype=np.float64, bias=bias)
    s[4] = t[2]  # hits in two rows, and s[1] == s[2] repeated
    h *= 2

    def loss():
        return _C.sampled_softmax(h, W, b, t, s, lqt, lqs, None, None, None, None, reference=reference)

    _, _, dh, grad_rows, grad_bias = run(h, W, b, t, s, lqt, lqs, reference=reference)
    ids = np.concatenate([t, s])
    assert_grad_close(dh, loss, h)
    dW = np.zeros_like(W)
    np.add.at(dW, ids, grad_rows)
    assert_grad_close(dW, loss, W)
    if bias:
        db = np.zeros_like(b)
        np.add.at(db, ids, grad_bias)
        assert_grad_close(db, loss, b)


# ---- the alias sampler ----

@pytest.mark.parametrize("seed", [0, 1, 2**63 + 5])
def test_alias_sampler_frequencies(seed, rng):
    V, n = 50, 400_000
    probs = rng.random(V) ** 3
    probs[[3, 17]] = 0.0
    sampler = _C.AliasSampler(probs)
    assert sampler.num_classes == V
    p = probs / probs.sum()
    np.testing.assert_allclose(sampler.probability(np.arange(V)), p, rtol=1e-15)
    draws = sampler.sample(n, seed)
    assert draws.dtype == np.int64 and draws.shape == (n,)
    counts = np.bincount(draws, minlength=V)
    assert len(counts) == V and counts[[3, 17]].sum() == 0
    live = p > 0
    chi2 = (((counts - n * p) ** 2)[live] / (n * p[live])).sum()
    df = live.sum() - 1
    assert chi2 < df + 6 * np.sqrt(2 * df), chi2


def test_alias_sampler_determinism():
    sampler = _C.AliasSampler(np.array([0.1, 0.2, 0.3, 0.4, 0.0, 1.0]))
    a = sampler.sample(100_000, 7)
    np.testing.assert_array_equal(a, sampler.sample(100_000, 7))
    assert (a != sampler.sample(100_000, 8)).any()
    # Draw i depends only on (seed, i): a shorter run is a prefix, whatever the thread count.
    np.testing.assert_array_equal(sampler.sample(10, 7), a[:10])
    old = fastnlp.get_num_threads()
    try:
        fastnlp.set_num_threads(1)
        np.testing.assert_array_equal(sampler.sample(100_000, 7), a)
    finally:
        fastnlp.set_num_threads(old)
    assert sampler.sample(0, 1).shape == (0,)


def test_alias_sampler_degenerate():
    assert (_C.AliasSampler(np.array([0.0, 0.0, 3.0, 0.0])).sample(1000, 3) == 2).all()
    assert (_C.AliasSampler(np.array([2.5])).sample(100, 3) == 0).all()


def test_class_sampler(rng):
    V, K = 30, 8
    probs = rng.random(V) + 0.1
    cs = ops.ClassSampler(list(probs), num_samples=K)
    assert cs.num_classes == V
    samples, logq = cs.sample(seed=4)
    assert samples.dtype == np.int64 and logq.dtype == np.float32 and samples.shape == logq.shape == (K,)
    np.testing.assert_array_equal(samples, _C.AliasSampler(probs).sample(K, 4))
    np.testing.assert_allclose(logq, np.log(K * probs[samples] / probs.sum()), rtol=1e-6)
    ids = np.array([0, 29, 5], np.int32)
    np.testing.assert_allclose(cs.logq(ids), np.log(K * probs[ids] / probs.sum()), rtol=1e-6)
    np.testing.assert_allclose(cs.logq(ids, K=3, dtype=np.float64), np.log(3 * probs[ids] / probs.sum()),
                               rtol=1e-14)
    s2, lq2 = cs.sample(100, seed=4, dtype=np.float64)
    assert s2.shape == (100,) and lq2.dtype == np.float64
    with pytest.raises(ValueError, match=r"ClassSampler: give K \(the number of samples\) or num_samples"):
        ops.ClassSampler(probs).sample()
    with pytest.raises(ValueError, match=r"ClassSampler: K must be a positive int, got 0"):
        cs.sample(0)


def test_class_sampler_feeds_sampled_softmax(rng):
    B, H, V, K = 7, 8, 40, 10
    cs = ops.ClassSampler(np.arange(1, V + 1) ** 0.75, num_samples=K)
    h, W, b, t, _, _, _ = problem(rng, B, H, V, K)
    s, lqs = cs.sample(seed=11)
    res = ops.sampled_softmax(h, W, b, t, s, cs.logq(t), lqs)
    close(res.loss, np_sampled_softmax(h, W, b, t, s, cs.logq(t), lqs)[0], K)


# ---- bad input: the error names the op, the argument, what was expected and what was given ----

def _args(B=3, H=4, V=10, K=5):
    return problem(np.random.default_rng(0), B, H, V, K, hits=False)


def test_bad_dtype():
    h, W, b, t, s, lqt, lqs = _args()
    with pytest.raises(TypeError, match=r"sampled_softmax: h must be float32 or float64, got int64"):
        ops.sampled_softmax(h.astype(np.int64), W, b, t, s, lqt, lqs)
    with pytest.raises(TypeError, match=r"W must have the dtype of h \(float32\), got float64"):
        ops.sampled_softmax(h, W.astype(np.float64), b, t, s, lqt, lqs)
    with pytest.raises(TypeError, match=r"samples must have the dtype of targets \(int64\), got int32"):
        ops.sampled_softmax(h, W, b, t, s.astype(np.int32), lqt, lqs)
    with pytest.raises(TypeError, match=r"targets must be int32 or int64 ids, got float32"):
        ops.sampled_softmax(h, W, b, t.astype(np.float32), s, lqt, lqs)
    with pytest.raises(TypeError, match=r"logq_samples must have the dtype of h \(float32\), got float64"):
        ops.sampled_softmax(h, W, b, t, s, lqt, lqs.astype(np.float64))


def test_bad_ndim_and_shape():
    h, W, b, t, s, lqt, lqs = _args()
    with pytest.raises(ValueError, match=r"sampled_softmax: h must be 2-D, got shape \(3, 4, 1\)"):
        ops.sampled_softmax(h[..., None], W, b, t, s, lqt, lqs)
    with pytest.raises(ValueError, match=r"W must have shape \(\*, 4\) \(V, H\) with H from h, got \(10, 5\)"):
        ops.sampled_softmax(h, np.ones((10, 5), np.float32), b, t, s, lqt, lqs)
    with pytest.raises(ValueError, match=r"b must have shape \(10,\) \(V, the rows of W\), got \(9,\)"):
        ops.sampled_softmax(h, W, b[:9], t, s, lqt, lqs)
    with pytest.raises(ValueError, match=r"targets must have shape \(3,\) \(B, the rows of h\), got \(2,\)"):
        ops.sampled_softmax(h, W, b, t[:2], s, lqt, lqs)
    with pytest.raises(ValueError, match=r"logq_samples must have shape \(5,\) \(K, one per sample\), got \(4,\)"):
        ops.sampled_softmax(h, W, b, t, s, lqt, lqs[:4])
    with pytest.raises(ValueError, match=r"logq_targets must have shape \(3,\) \(B, one per target\), got \(5,\)"):
        ops.sampled_softmax(h, W, b, t, s, lqs, lqs)


@pytest.mark.parametrize("reference", [False, True])
def test_ids_out_of_range(reference):
    h, W, b, t, s, lqt, lqs = _args()
    t[1] = 10
    with pytest.raises(ValueError, match=r"sampled_softmax: targets must be in \[0, 10\) \(rows of W\), got 10 at position 1"):
        run(h, W, b, t, s, lqt, lqs, reference=reference)
    t[1], s[3] = 0, -1
    with pytest.raises(ValueError, match=r"sampled_softmax: samples must be in \[0, 10\) \(rows of W\), got -1 at position 3"):
        run(h, W, b, t, s, lqt, lqs, reference=reference)
    t[:], s[3] = [0, 1, 2], 9
    with pytest.raises(ValueError, match=r"sampled_softmax_scores: samples must be in \[0, 9\) \(num_classes\), got 9 at position 3"):
        _C.sampled_softmax_scores(np.zeros(3, np.float32), np.zeros((3, 5), np.float32), None, None, t, s,
                                  lqt, lqs, None, num_classes=9)


def test_read_only_and_empty():
    h, W, b, t, s, lqt, lqs = _args()
    dh = np.empty_like(h)
    dh.flags.writeable = False
    with pytest.raises(ValueError, match=r"sampled_softmax: dh is written in place and must be writeable"):
        _C.sampled_softmax(h, W, b, t, s, lqt, lqs, None, dh, None, None)
    s_true = np.zeros(3, np.float32)
    s_true.flags.writeable = False
    with pytest.raises(ValueError, match=r"sampled_softmax_scores: s_true is written in place and must be writeable"):
        _C.sampled_softmax_scores(s_true, np.zeros((3, 5), np.float32), None, None, t, s, lqt, lqs, None)
    with pytest.raises(ValueError, match=r"sampled_softmax: h must not be empty, got shape \(0, 4\)"):
        ops.sampled_softmax(h[:0], W, b, t[:0], s, lqt[:0], lqs)
    with pytest.raises(ValueError, match=r"sampled_softmax: samples must not be empty, got shape \(0,\)"):
        ops.sampled_softmax(h, W, b, t, s[:0], lqt, lqs[:0])


def test_alias_sampler_bad_probs():
    with pytest.raises(ValueError, match=r"AliasSampler: probs must have a positive finite sum, got 0"):
        _C.AliasSampler(np.zeros(4))
    with pytest.raises(ValueError, match=r"AliasSampler: probs must be finite and non-negative, got -1 at position 2"):
        _C.AliasSampler(np.array([1.0, 2.0, -1.0]))
    with pytest.raises(ValueError, match=r"probs must be finite and non-negative, got nan at position 0"):
        ops.ClassSampler([np.nan, 1.0])
    with pytest.raises(TypeError, match=r"AliasSampler: probs must be float64, got float32"):
        _C.AliasSampler(np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"AliasSampler: probs must be 1-D, got shape \(2, 2\)"):
        _C.AliasSampler(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"AliasSampler: probs must not be empty"):
        ops.ClassSampler([])
    sampler = _C.AliasSampler(np.ones(4))
    with pytest.raises(ValueError, match=r"AliasSampler.probability: ids must be in \[0, 4\) \(num_classes\), got 4 at position 1"):
        sampler.probability(np.array([0, 4]))
    with pytest.raises(ValueError, match=r"AliasSampler.sample: n must be >= 0, got -1"):
        sampler.sample(-1, 0)


# ---- CUDA: the GPU composition against the CPU kernels (skipped without a GPU) ----

@pytest.mark.gpu
@pytest.mark.parametrize("B,H,V,K", SIZES)
@pytest.mark.parametrize("bias", [True, False])
def test_cuda_matches_cpu(B, H, V, K, bias, rng):
    import cupy

    args = problem(rng, B, H, V, K, bias=bias)
    cpu = ops.sampled_softmax(*args)
    gpu = ops.sampled_softmax(*[None if a is None else cupy.asarray(a) for a in args])
    n = max(H, K, B)
    close(gpu.loss, cpu.loss, n)
    for name in ("losses", "dh", "grad_rows", "grad_bias", "grad_ids"):
        g, c = getattr(gpu, name), getattr(cpu, name)
        if c is None:
            assert g is None
        else:
            close(cupy.asnumpy(g), c, n)


@pytest.mark.gpu
def test_cuda_ids_out_of_range():
    import cupy

    h, W, b, t, s, lqt, lqs = (cupy.asarray(a) for a in _args())
    s[2] = 10
    with pytest.raises(ValueError, match=r"sampled_softmax_scores: samples must be in \[0, 10\) .*position 2"):
        ops.sampled_softmax(h, W, b, t, s, lqt, lqs)


# ---- GPU: sampled softmax against the CPU (marked gpu) ----

# (B, H, V, K): K + 1 <= 1024 uses a warp per row, K = 1500 a block per row.
SAMPLED_SHAPES = [(1, 3, 50, 1), (7, 17, 50, 8), (33, 16, 1000, 33), (9, 31, 3000, 1500)]


@pytest.mark.gpu
@pytest.mark.parametrize("B,H,V,K", SAMPLED_SHAPES)
@pytest.mark.parametrize("id_type", gc.ID_TYPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_gpu_sampled_softmax(B, H, V, K, id_type, with_bias, rng, cp):
    h = (rng.standard_normal((B, H)) * 0.5).astype(gc.F32)
    W = (rng.standard_normal((V, H)) * 0.5).astype(gc.F32)
    b = rng.standard_normal(V).astype(gc.F32) if with_bias else None
    targets = rng.integers(0, V, B).astype(id_type)
    samples = rng.integers(0, V, K).astype(id_type)
    samples[: min(K, B) // 2] = targets[: min(K, B) // 2]  # accidental hits
    logq_t = np.log(rng.uniform(0.01, 1.0, B)).astype(gc.F32)
    logq_s = np.log(rng.uniform(0.01, 1.0, K)).astype(gc.F32)
    r_cpu, r_gpu, _, _ = gc.both(ops.sampled_softmax, h, W, b, targets, samples, logq_t, logq_s)
    gc.assert_same(r_gpu, r_cpu, "sampled_softmax", **gc.tol(max(H, K)))
