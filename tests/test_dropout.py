"""Dropout: forward and backward against NumPy transcriptions (exactly: y = x * mask / (1 - p) is one
product by 0 or 1 and one correctly rounded division, computed alike), the drawn mask against a NumPy
transcription of the splitmix64 generator (exactly, for any thread count), its keep rate, the
fast kernels against the references, float64 gradient checks, the nn.Dropout layer, CUDA against
the CPU (skipped without a GPU), and bad input.

Tolerances: none needed for the values (bitwise equal on the CPU; the GPU's division is IEEE too,
checked within gpu_compare.ELEMENTWISE); the gradient check uses tests/gradcheck.py's defaults.
The keep rate of n draws is checked within 5 standard deviations, sqrt(n p (1 - p)).
"""

import numpy as np
import pytest

from fastnlp import _C, nn, ops
from conftest import AWKWARD
from gradcheck import assert_grad_close
import gpu_compare as gc

# Above 32768 elements the kernels take the threaded path. The simd-marked tests also run under qemu
# (test_simd_levels.py), so they stop at 100_003; test_million_elements takes 1_000_003.
SIZES = AWKWARD + [100_003]


def splitmix64(seed, n):
    """The first n outputs of splitmix64 started at seed, as uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def np_mask(seed, n, p):
    """The kernels' mask: element i kept when the high 32 bits of output i are >= floor(p * 2^32)."""
    threshold = min(int(p * 2.0**32), 2**32 - 1)
    return ((splitmix64(seed, n) >> np.uint64(32)) >= np.uint64(threshold)).astype(np.uint8)


def np_dropout(x, mask, p):
    return x * mask / x.dtype.type(1 - p)


def test_generator_is_splitmix64():
    # The published splitmix64 stream for seed 1234567 (e.g. the test vectors of Rust's rand_xoshiro).
    want = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431,
            16408922859458223821]
    assert [int(v) for v in splitmix64(1234567, 5)] == want


# ---- forward and backward with a given mask: exact against NumPy ----

@pytest.mark.simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_given_mask_forward_backward_exact(dtype, n, p, rng):
    x = rng.standard_normal(n).astype(dtype)
    mask = (rng.random(n) >= p).astype(np.uint8)
    y, m = ops.dropout(x, p, mask=mask)
    assert m is mask and y.dtype == dtype and y.shape == x.shape
    np.testing.assert_array_equal(y, np_dropout(x, mask, p))
    dy = rng.standard_normal(n).astype(dtype)
    dx = ops.dropout_backward(dy, mask, p)
    np.testing.assert_array_equal(dx, np_dropout(dy, mask, p))
    # the references agree bitwise as well
    yr, dxr = np.empty_like(x), np.empty_like(x)
    _C.dropout_forward(x, mask, yr, p, 0, False, reference=True)
    _C.dropout_backward(dy, mask, dxr, p, reference=True)
    np.testing.assert_array_equal(yr, y)
    np.testing.assert_array_equal(dxr, dx)


@pytest.mark.parametrize("shape", [(1,), (3, 7), (8, 9, 17), (2, 1, 33, 5)])
def test_any_shape_and_in_place(shape, rng):
    x = rng.standard_normal(shape).astype(np.float32)
    x0 = x.copy()
    y, mask = ops.dropout(x, 0.3, seed=7, out=x)  # in place
    assert y is x and mask.shape == shape and mask.dtype == np.uint8
    np.testing.assert_array_equal(x, np_dropout(x0, mask, 0.3))
    np.testing.assert_array_equal(mask, np_mask(7, x.size, 0.3).reshape(shape))
    dy = rng.standard_normal(shape).astype(np.float32)
    dy0 = dy.copy()
    assert ops.dropout_backward(dy, mask, 0.3, out=dy) is dy
    np.testing.assert_array_equal(dy, np_dropout(dy0, mask, 0.3))


def test_dropped_nan_and_inf_propagate_like_numpy():
    # x * 0 is NaN for x = NaN or inf: the kernel multiplies by the mask as the NumPy formula does,
    # so a non-finite input is not hidden by dropping it.
    x = np.array([np.nan, np.inf, -np.inf, 2.0, np.nan], np.float32)
    mask = np.array([0, 0, 0, 0, 1], np.uint8)
    y, _ = ops.dropout(x, 0.5, mask=mask)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(y, np_dropout(x, mask, 0.5))
    assert np.isnan(y[[0, 1, 2, 4]]).all() and y[3] == 0


# ---- the drawn mask ----

@pytest.mark.simd
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 33, 100_003])
def test_drawn_mask_matches_numpy_generator(dtype, n, threads, rng):
    x = rng.standard_normal(n).astype(dtype)
    seed = 2**64 - 12345  # the top of the range: seeds are full 64-bit
    y, mask = ops.dropout(x, 0.25, seed=seed)
    want = np_mask(seed, n, 0.25)
    np.testing.assert_array_equal(mask, want)
    np.testing.assert_array_equal(y, np_dropout(x, want, 0.25))
    yr, mr = np.empty_like(x), np.empty(n, np.uint8)
    _C.dropout_forward(x, mr, yr, 0.25, seed, True, reference=True)
    np.testing.assert_array_equal(mr, want)
    np.testing.assert_array_equal(yr, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_million_elements(dtype, threads, rng):
    n, p = 1_000_003, 0.3
    x = rng.standard_normal(n).astype(dtype)
    y, mask = ops.dropout(x, p, seed=42)
    want = np_mask(42, n, p)
    np.testing.assert_array_equal(mask, want)
    np.testing.assert_array_equal(y, np_dropout(x, want, p))
    dy = rng.standard_normal(n).astype(dtype)
    np.testing.assert_array_equal(ops.dropout_backward(dy, mask, p), np_dropout(dy, want, p))


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5, 0.9, 0.999])
def test_keep_rate(p, rng):
    n = 1_000_003
    _, mask = ops.dropout(np.ones(n, np.float32), p, seed=int(rng.integers(2**63)))
    kept = int(mask.sum())
    assert abs(kept - n * (1 - p)) <= 5 * np.sqrt(n * p * (1 - p)), (kept, n * (1 - p))
    # neighbours independent: P(both kept) ~ (1 - p)^2
    both = int((mask[1:] & mask[:-1]).sum())
    q = (1 - p) ** 2
    assert abs(both - (n - 1) * q) <= 5 * np.sqrt(n * q * (1 - q)) + 1


def test_seeds_repeat_and_differ():
    x = np.ones(1000, np.float32)
    _, a = ops.dropout(x, 0.5, seed=1)
    _, b = ops.dropout(x, 0.5, seed=1)
    _, c = ops.dropout(x, 0.5, seed=2)
    np.testing.assert_array_equal(a, b)
    assert (a != c).sum() > 300  # about half of the 1000 differ


def test_seed_none_draws_from_numpy_global_generator():
    x = np.ones(500, np.float32)
    np.random.seed(99)
    _, a = ops.dropout(x, 0.5)
    np.random.seed(99)
    _, b = ops.dropout(x, 0.5)
    _, c = ops.dropout(x, 0.5)
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_p_zero_is_identity(dtype, rng):
    x = rng.standard_normal((5, 17)).astype(dtype)
    y, mask = ops.dropout(x, 0.0, seed=3)
    assert y is not x
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(mask, np.ones(x.shape, np.uint8))
    out = np.empty_like(x)
    y, _ = ops.dropout(x, 0.0, out=out)
    assert y is out
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(ops.dropout_backward(x, mask, 0.0), x)


# ---- gradients ----

def test_gradient_check_float64(rng):
    x = rng.standard_normal((4, 9))
    mask = (rng.random((4, 9)) >= 0.4).astype(np.uint8)
    R = rng.standard_normal((4, 9))
    dx = ops.dropout_backward(R, mask, 0.4)
    assert_grad_close(dx, lambda: float((ops.dropout(x, 0.4, mask=mask)[0] * R).sum()), x)


def test_layer_train_eval_and_backward(rng):
    x = rng.standard_normal((6, 11)).astype(np.float32)
    layer = nn.Dropout(0.5, seed=0)
    y = layer.forward(x)
    mask = layer.mask
    np.testing.assert_array_equal(y, np_dropout(x, mask, 0.5))
    dy = rng.standard_normal(x.shape).astype(np.float32)
    np.testing.assert_array_equal(layer.backward(dy), np_dropout(dy, mask, 0.5))
    y2 = layer.forward(x)
    assert (layer.mask != mask).any()  # a fresh mask per training forward
    np.testing.assert_array_equal(y2, np_dropout(x, layer.mask, 0.5))
    assert layer.forward(x, train=False) is x  # evaluation: identity
    assert layer.mask is None and layer.backward(dy) is dy
    assert nn.Dropout(0.5).parameters() == []


def test_layer_seed_repeats_masks(rng):
    x = rng.standard_normal(300).astype(np.float32)
    a, b = nn.Dropout(0.3, seed=5), nn.Dropout(0.3, seed=5)
    for _ in range(3):
        np.testing.assert_array_equal(a.forward(x), b.forward(x))
        np.testing.assert_array_equal(a.mask, b.mask)


def test_layer_gradient_check_float64(rng):
    layer = nn.Dropout(0.3, seed=1)
    x = rng.standard_normal((3, 8))
    R = rng.standard_normal((3, 8))
    layer.forward(x)
    mask = layer.mask
    dx = layer.backward(R)
    assert_grad_close(dx, lambda: float((ops.dropout(x, 0.3, mask=mask)[0] * R).sum()), x)


# ---- bad input ----

@pytest.mark.parametrize("p", [1.0, -0.1, 1.5, float("nan"), float("inf")])
def test_bad_p(p):
    x = np.ones(4, np.float32)
    with pytest.raises(ValueError, match=r"dropout: p must be a probability in \[0, 1\)"):
        ops.dropout(x, p)
    with pytest.raises(ValueError, match=r"dropout_backward: p must be a probability in \[0, 1\)"):
        ops.dropout_backward(x, np.ones(4, np.uint8), p)
    with pytest.raises(ValueError, match=r"Dropout: p must be a probability in \[0, 1\)"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=r"dropout: p must be a probability"):  # the binding checks too
        _C.dropout_forward(x, np.ones(4, np.uint8), np.ones(4, np.float32), p, 0, False)


def test_bad_p_type():
    with pytest.raises(TypeError, match="dropout: p must be a number"):
        ops.dropout(np.ones(3, np.float32), "0.5")
    with pytest.raises(TypeError, match="Dropout: p must be a number"):
        nn.Dropout(None)


@pytest.mark.parametrize("seed,exc,msg", [(-1, ValueError, r"seed must be an int in \[0, 2\*\*64\), got -1"),
                                          (2**64, ValueError, r"seed must be an int in \[0, 2\*\*64\), got 1844"),
                                          (1.5, TypeError, "seed must be an int .* got float"),
                                          (True, TypeError, "seed must be an int .* got bool")])
def test_bad_seed(seed, exc, msg):
    with pytest.raises(exc, match="dropout: " + msg):
        ops.dropout(np.ones(3, np.float32), 0.5, seed=seed)


def test_bad_x_and_out():
    with pytest.raises(TypeError, match="dropout: x must be float32 or float64, got int64"):
        ops.dropout(np.ones(3, np.int64), 0.5)
    with pytest.raises(TypeError, match="dropout: x must be float32 or float64, got float16"):
        ops.dropout(np.ones(3, np.float16), 0.5)
    with pytest.raises(TypeError, match="dropout: x must be a NumPy array or a GPU array, got list"):
        ops.dropout([1.0, 2.0], 0.5)
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"dropout: x must be C-contiguous"):
        ops.dropout(x.T, 0.5)
    with pytest.raises(ValueError, match=r"dropout: out must have the shape of x \(3, 4\), got \(4, 3\)"):
        ops.dropout(x, 0.5, out=np.empty((4, 3), np.float32))
    with pytest.raises(TypeError, match=r"dropout: out must have the dtype of x \(float32\), got float64"):
        ops.dropout(x, 0.5, out=np.empty((3, 4)))
    ro = np.empty((3, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="dropout: out is written in place and must be writeable"):
        ops.dropout(x, 0.5, out=ro)
    with pytest.raises(ValueError, match=r"dropout: x must not be empty"):
        ops.dropout(np.ones((0, 4), np.float32), 0.5)


def test_bad_mask():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(TypeError, match="dropout: mask must be uint8 .* got bool"):
        ops.dropout(x, 0.5, mask=np.ones((3, 4), bool))
    with pytest.raises(TypeError, match="dropout_backward: mask must be uint8 .* got float32"):
        ops.dropout_backward(x, np.ones((3, 4), np.float32), 0.5)
    with pytest.raises(ValueError, match=r"dropout: mask must have the shape of x \(3, 4\), got \(12,\)"):
        ops.dropout(x, 0.5, mask=np.ones(12, np.uint8))
    with pytest.raises(ValueError, match=r"dropout_backward: mask must have the shape of dy \(3, 4\), got \(4, 3\)"):
        ops.dropout_backward(x, np.ones((4, 3), np.uint8), 0.5)
    with pytest.raises(ValueError, match="dropout: mask must be C-contiguous"):
        ops.dropout(x, 0.5, mask=np.ones((4, 3), np.uint8).T)
    bad = np.ones((3, 4), np.uint8)
    bad[2, 1] = 2
    with pytest.raises(ValueError, match="dropout: mask must hold only 0 .* and 1 .*, got 2 at flat position 9"):
        ops.dropout(x, 0.5, mask=bad)
    with pytest.raises(ValueError, match="dropout_backward: mask must hold only 0 .* and 1 .*, got 2 at flat position 9"):
        ops.dropout_backward(x, bad, 0.5)


@pytest.mark.parametrize("bad_at", [[0], [4095, 4096], [5000, 150_000], [150_000, 199_999], [200_002]])
def test_bad_mask_first_position_reported(bad_at, threads):
    # the check scans blocks of 4096 on up to 3 threads: the first offender wins wherever it falls
    n = 200_003
    mask = np.ones(n, np.uint8)
    mask[bad_at] = 255
    with pytest.raises(ValueError, match=f"got 255 at flat position {bad_at[0]}$"):
        ops.dropout_backward(np.ones(n, np.float32), mask, 0.5)


def test_mask_and_seed_together():
    with pytest.raises(ValueError, match="dropout: give mask .* or seed .*, not both"):
        ops.dropout(np.ones(3, np.float32), 0.5, mask=np.ones(3, np.uint8), seed=1)


def test_layer_backward_before_forward():
    with pytest.raises(RuntimeError, match="Dropout.backward called before forward"):
        nn.Dropout(0.5).backward(np.ones(3, np.float32))


# ---- GPU: against the CPU (marked gpu) ----

@pytest.mark.gpu
@pytest.mark.parametrize("n", [1, 7, 33, 1_000_003])
@pytest.mark.parametrize("p", [0.0, 0.5, 0.9])
def test_gpu_matches_cpu(n, p, rng, cp):
    x = rng.standard_normal(n).astype(np.float32)
    dy = rng.standard_normal(n).astype(np.float32)
    y, mask = ops.dropout(x, p, seed=123456789)
    yg, mg = ops.dropout(cp.asarray(x), p, seed=123456789)
    gc.assert_same(cp.asnumpy(mg), mask, "mask")  # the same generator: bitwise the same mask
    gc.assert_same(cp.asnumpy(yg), y, "y", **gc.ELEMENTWISE)
    dx = ops.dropout_backward(dy, mask, p)
    dxg = ops.dropout_backward(cp.asarray(dy), mg, p)
    gc.assert_same(cp.asnumpy(dxg), dx, "dx", **gc.ELEMENTWISE)
    given = (rng.random(n) >= 0.3).astype(np.uint8)
    y, _ = ops.dropout(x, p, mask=given)
    yg, _ = ops.dropout(cp.asarray(x), p, mask=cp.asarray(given))
    gc.assert_same(cp.asnumpy(yg), y, "y with a given mask", **gc.ELEMENTWISE)


@pytest.mark.gpu
def test_gpu_layer_and_bad_input(rng, cp):
    x = cp.asarray(rng.standard_normal((4, 5)).astype(np.float32))
    layer = nn.Dropout(0.5, seed=3)
    y = layer.forward(x)
    assert isinstance(y, cp.ndarray) and isinstance(layer.mask, cp.ndarray)
    with pytest.raises(ValueError, match="dropout: mask is on the CPU but x is on the GPU"):
        ops.dropout(x, 0.5, mask=np.ones((4, 5), np.uint8))
    with pytest.raises(TypeError, match="dropout: the CUDA kernels take float32, got x as float64"):
        ops.dropout(cp.ones(3), 0.5)


def test_overlapping_buffers_are_refused():
    buf = np.arange(10, dtype=np.float32)
    with pytest.raises(ValueError, match="out overlaps x in memory"):
        ops.dropout(buf[:-1], 0.5, seed=1, out=buf[1:])
    y, mask = ops.dropout(buf, 0.5, seed=1, out=buf)  # the identical array: in place
    assert y is buf or np.shares_memory(y, buf)
    with pytest.raises(ValueError, match="out overlaps dy in memory"):
        ops.dropout_backward(buf[:-1], mask[:-1], 0.5, out=buf[1:])
