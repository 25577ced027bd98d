"""The recurrences' two thread splits (csrc/ops/rnn.cpp) and the inference forward, against the C++
reference: with T threads, a batch of B >= T sequences is split by sequences (each thread runs its
round-robin block of the length-sorted sequences through every step, no barrier per step), a
smaller one by hidden units (a barrier per step; 1 < B < T, and B = 1 only with H > 1024: up to
there one sequence runs on one thread). Sizes sit on both sides of that switch, B not a multiple of
the thread count, ragged lengths, both directions, initial states, all three cells; the sizes are
above the kernels' threading grain (B * G*H * H >= 2**15).

Tolerances: float32 as in test_rnn.py (assert_matches_reference); float64 fast against the
reference within rtol 1e-9 (the same math in another summation order); float64 gradients within
rtol 1e-5, atol 1e-7 of central differences (eps 1e-6) on a sample of entries. The inference
forward (no workspace) must give the training forward's outputs bit for bit: the same products
and the same gate math, only fewer stores.
"""

import numpy as np
import pytest

from fastnlp import _C, ops
from gradcheck import assert_grad_close
from test_rnn import CELLS, F32, assert_matches_reference, call, make, random_lengths

def inputs(rng, cell, B, T, D, H, dtype=np.float32):
    p = make(rng, cell, B, T, D, H, dtype)
    lengths = random_lengths(rng, B, T)
    dout = rng.standard_normal((B, T, H)).astype(dtype)
    dh_n = rng.standard_normal((B, H)).astype(dtype)
    dc_n = rng.standard_normal((B, H)).astype(dtype) if cell == "lstm" else None
    return p, lengths, dout, dh_n, dc_n


# (threads, B, H): 2 threads switch to the sequence split at B = 2 (B = 1 runs on one thread), 3
# threads at B = 3 (B = 2 splits the units); H = 128 keeps the small batches above the threading grain.
SPLITS = [(2, 1, 128), (2, 2, 128), (2, 3, 128), (2, 13, 64), (3, 2, 128), (3, 3, 128), (3, 4, 128),
          (3, 20, 64), (1, 13, 64)]


@pytest.fixture
def num_threads(request):
    import fastnlp

    old = fastnlp.get_num_threads()
    fastnlp.set_num_threads(request.param)
    yield request.param
    fastnlp.set_num_threads(old)


@pytest.mark.simd
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("num_threads,B,H", SPLITS, indirect=["num_threads"])
def test_split_matches_reference_float32(cell, reverse, num_threads, B, H, rng):
    """Outputs, final states and every gradient against the reference, repeated (a thread reading a
    row another has not written yet would show up as a difference in some repetition); zero past
    each length."""
    T, D = 9, 7
    p, lengths, dout, dh_n, dc_n = inputs(rng, cell, B, T, D, H)
    ro, rg = call(cell, p, lengths, reverse, True, dout, dh_n, dc_n)
    for _ in range(3):
        fo, fg = call(cell, p, lengths, reverse, False, dout, dh_n, dc_n)
        assert_matches_reference(fo, fg, ro, rg, B * T, H)
        for n, L in enumerate(lengths):
            assert not fo["out"][n, L:].any() and not fg["x"][n, L:].any()


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("num_threads,B,H", [(2, 1, 128), (2, 3, 128), (3, 2, 128), (3, 19, 64)],
                         indirect=["num_threads"])
def test_split_matches_reference_float64(cell, num_threads, B, H, rng):
    T, D = 6, 5
    p, lengths, dout, dh_n, dc_n = inputs(rng, cell, B, T, D, H, np.float64)
    reverse = bool(rng.integers(2))
    fo, fg = call(cell, p, lengths, reverse, False, dout, dh_n, dc_n)
    ro, rg = call(cell, p, lengths, reverse, True, dout, dh_n, dc_n)
    for k in fo:
        if fo[k] is not None:
            np.testing.assert_allclose(fo[k], ro[k], rtol=1e-9, atol=1e-12, err_msg=k)
    for k in fg:
        if fg[k] is not None:
            np.testing.assert_allclose(fg[k], rg[k], rtol=1e-9, atol=1e-11, err_msg=k)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("num_threads", [2], indirect=True)
def test_split_gradcheck_float64(cell, num_threads, rng):
    """Central differences of the fast kernel's own loss at 2 threads, sequence split (B = 13: blocks
    of 7 and 6), ragged lengths, reverse, h0 / c0: 10 consecutive entries of every input."""
    B, T, D, H = 13, 4, 3, 64
    p, lengths, R, Rh, Rc = inputs(rng, cell, B, T, D, H, np.float64)

    def loss():
        out, h_n = np.empty((B, T, H)), np.empty((B, H))
        c_n = np.empty((B, H)) if cell == "lstm" else None
        _C.rnn_forward(cell, p["x"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], lengths, p["h0"], p["c0"], out,
                       h_n, c_n, None, True, False)
        return float((out * R).sum() + (h_n * Rh).sum() + (0 if c_n is None else (c_n * Rc).sum()))

    _, g = call(cell, p, lengths, True, False, R, Rh, Rc)
    for k in ("x", "W_ih", "W_hh", "b_ih", "b_hh", "h0", "c0"):
        if p[k] is None:
            continue
        # A random window of 10 entries: a view, so numeric_grad perturbs p[k] itself.
        i = int(rng.integers(p[k].size - 10))
        assert_grad_close(g[k].reshape(-1)[i:i + 10], loss, p[k].reshape(-1)[i:i + 10])


@pytest.mark.simd
@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("B", [1, 2, 13])
def test_inference_forward_equals_training_forward(cell, B, threads, rng):
    """need_workspace=False (no backward follows: the gate pass stores only the states) gives the
    same out, h_n and c_n as the forward that keeps the workspace, at 1, 2 and 3 threads, both
    splits, float32 and float64."""
    T, D, H = 8, 9, 128
    for dtype in (np.float32, np.float64):
        p = make(rng, cell, B, T, D, H, dtype)
        lengths = random_lengths(rng, B, T)
        reverse = bool(rng.integers(2))
        args = (cell, p["x"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], lengths, p["h0"], p["c0"], reverse)
        train = ops.rnn(*args, need_workspace=True)
        infer = ops.rnn(*args, need_workspace=False)
        assert infer[3] is None
        for k, name in enumerate(("out", "h_n", "c_n")):
            if train[k] is None:
                assert infer[k] is None
                continue
            np.testing.assert_array_equal(infer[k], train[k], err_msg=name)
        ref = [np.full((B, T, H), 7, dtype), np.full((B, H), 7, dtype),
               np.full((B, H), 7, dtype) if cell == "lstm" else None]
        _C.rnn_forward(*args[:-1], *ref, None, reverse, True)
        tol = F32 if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
        for k, name in enumerate(("out", "h_n", "c_n")):
            if ref[k] is not None:
                np.testing.assert_allclose(infer[k], ref[k], **tol, err_msg=name + " (reference)")


def test_team_smaller_than_asked(tmp_path):
    """OpenMP may give a team fewer threads than fastnlp asked for (here OMP_THREAD_LIMIT=1 under
    set_num_threads(2)): each thread then runs several blocks of the sequence split, and the unit
    split its share; every block is still computed (forward and backward against the reference)."""
    import os
    import subprocess
    import sys

    script = tmp_path / "team.py"
    script.write_text(
        "import numpy as np, fastnlp\n"
        "from test_rnn import assert_matches_reference, call, make, random_lengths\n"
        "fastnlp.set_num_threads(2)\n"
        "rng = np.random.default_rng(3)\n"
        "for cell in ('lstm', 'gru'):\n"
        "    for B in (1, 3):\n"
        "        p = make(rng, cell, B, 5, 4, 128)\n"
        "        lengths = random_lengths(rng, B, 5)\n"
        "        dout = rng.standard_normal((B, 5, 128)).astype(np.float32)\n"
        "        fo, fg = call(cell, p, lengths, False, False, dout, None, None)\n"
        "        ro, rg = call(cell, p, lengths, False, True, dout, None, None)\n"
        "        assert_matches_reference(fo, fg, ro, rg, B * 5, 128)\n"
        "print('ok')\n")
    env = dict(os.environ, OMP_THREAD_LIMIT="1",
               PYTHONPATH=os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]))
    res = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
