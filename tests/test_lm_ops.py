"""fastnlp.ops.linear_cross_entropy, the output layer + softmax cross-entropy fused for the language
model's evaluation: the blocked kernel and the C++ reference against a float64 NumPy transcription
(logsumexp of x W^T + b minus the target's logit) on sizes around the kernel's row tile (512), its
rows per product (48) and vocabulary block (512), with and without bias, int32 / int64 targets; the same numbers as
linear + softmax_cross_entropy; a running max that changes from block to block and huge logits;
thread-count independence; bad input. Forward only (no backward, so no gradient check).

Tolerances: float64 within 1e-12 relative of the transcription; float32 within
atol + rtol * |ref| with rtol = atol = 1e-5 * sqrt(H) (the dot products are the longest float
reductions; the logsumexp is summed in double)."""

import numpy as np
import pytest

import fastnlp
from fastnlp import _C, ops

SIZES = [(1, 1, 1), (3, 7, 2), (7, 8, 17), (17, 33, 255), (64, 16, 256), (65, 9, 257), (130, 31, 2100),
         (512, 3, 513), (513, 5, 300), (9, 200, 3000), (49, 7, 1025), (97, 13, 511)]  # (B, H, V)


def transcription(x, W, b, t):
    z = x.astype(np.float64) @ W.astype(np.float64).T + (0 if b is None else b.astype(np.float64))
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return lse - z[np.arange(len(t)), t]


def data(B, H, V, dtype, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((B, H)) * scale).astype(dtype)
    W = (rng.standard_normal((V, H)) / np.sqrt(H)).astype(dtype)
    b = rng.standard_normal(V).astype(dtype)
    t = rng.integers(0, V, B)
    return x, W, b, t


def close(actual, expected, dtype, H):
    r = 1e-12 if dtype == np.float64 else 1e-5 * np.sqrt(H)
    np.testing.assert_allclose(actual, expected, rtol=r, atol=0 if dtype == np.float64 else r)


@pytest.mark.parametrize("B,H,V", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_fast_and_reference_match_the_transcription(B, H, V, dtype, bias):
    x, W, b, t = data(B, H, V, dtype, seed=B + V)
    b = b if bias else None
    ref = transcription(x, W, b, t)
    for ids in (t.astype(np.int64), t.astype(np.int32)):
        for reference in (False, True):
            losses = np.empty(B, dtype)
            mean = _C.linear_cross_entropy(x, W, b, ids, losses, reference)
            close(losses, ref, dtype, H)
            assert mean == pytest.approx(float(losses.astype(np.float64).mean()), rel=1e-6)
    mean, losses = ops.linear_cross_entropy(x, W, b, t, return_losses=True)
    close(losses, ref, dtype, H)
    assert ops.linear_cross_entropy(x, W, b, t) == mean


@pytest.mark.parametrize("B,H,V", [(17, 33, 255), (600, 31, 2100)])
def test_same_as_linear_then_softmax_cross_entropy(B, H, V):
    x, W, b, t = data(B, H, V, np.float32, seed=5)
    loss, _, losses = ops.softmax_cross_entropy(ops.linear(x, W, b), t, return_grad=False, return_losses=True)
    fused, fused_losses = ops.linear_cross_entropy(x, W, b, t, return_losses=True)
    np.testing.assert_allclose(fused_losses, losses, rtol=1e-5, atol=1e-5)
    assert fused == pytest.approx(loss, rel=1e-5)


def test_running_max_across_blocks_and_huge_logits():
    """Logits rising block after block (the running max changes, the sum is rescaled each time)
    and logits near 200 (where exp without the max shift overflows) give the transcription's
    losses; the target sits in the first, a middle and the last block."""
    B, H, V = 6, 4, 3000
    x = np.zeros((B, H), np.float32)
    x[:, 0] = 1.0
    W = np.zeros((V, H), np.float32)
    W[:, 0] = np.linspace(0.0, 30.0, V, dtype=np.float32)   # logit of class j grows with j
    b = np.full(V, 200.0, np.float32)   # exp(200) overflows float32 without the max shift
    t = np.array([0, 1500, 2999, 511, 512, 2047])
    for bias in (b, None):
        ref = transcription(x, W, bias, t)
        _, losses = ops.linear_cross_entropy(x, W, bias, t, return_losses=True)
        np.testing.assert_allclose(losses, ref, rtol=1e-5, atol=1e-4)
        assert np.isfinite(losses).all()


def test_thread_count_does_not_change_results():
    x, W, b, t = data(600, 40, 700, np.float32, seed=9)
    old = fastnlp.get_num_threads()
    try:
        results = []
        for n in (1, 2, 3):
            fastnlp.set_num_threads(n)
            results.append(ops.linear_cross_entropy(x, W, b, t, return_losses=True))
    finally:
        fastnlp.set_num_threads(old)
    for loss, losses in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(losses, results[0][1])


def test_bad_input():
    x, W, b, t = data(4, 3, 10, np.float32)
    with pytest.raises(ValueError, match=r"linear_cross_entropy: targets\[2\] = 10 is out of range|"
                                         r"linear_cross_entropy: .*targets.*10"):
        ops.linear_cross_entropy(x, W, b, np.array([0, 1, 10, 2]))
    with pytest.raises(ValueError, match="linear_cross_entropy: W"):
        ops.linear_cross_entropy(x, W[:, :2].copy(), b, t)
    with pytest.raises(ValueError, match="linear_cross_entropy: b"):
        ops.linear_cross_entropy(x, W, b[:5].copy(), t)
    with pytest.raises(ValueError, match="linear_cross_entropy: targets"):
        ops.linear_cross_entropy(x, W, b, t[:3].copy())
    with pytest.raises(TypeError, match="linear_cross_entropy: W"):
        ops.linear_cross_entropy(x, W.astype(np.float64), b, t)
    with pytest.raises(TypeError, match="linear_cross_entropy: targets"):
        ops.linear_cross_entropy(x, W, b, t.astype(np.float32))
    with pytest.raises(ValueError, match="linear_cross_entropy: x must be 2-D"):
        ops.linear_cross_entropy(x[0], W, b, t)
    losses = np.empty(4, np.float32)
    losses.flags.writeable = False
    with pytest.raises(ValueError, match="linear_cross_entropy: losses"):
        _C.linear_cross_entropy(x, W, b, t, losses)
