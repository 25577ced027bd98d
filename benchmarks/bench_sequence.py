"""Times the sequence kernels, forward and forward+backward, against a NumPy implementation (a step
loop over time for the recurrences, one batched matmul per step; windows + one matmul for the
convolution) and against PyTorch CPU (nn.LSTM, nn.GRU, nn.Conv1d + max over time) when torch is
importable (it is not a dependency). Writes benchmarks/results/bench_sequence.{json,md}.

    python benchmarks/bench_sequence.py [--threads 2] [--repeat 5] [--rounds 4] [--quick]

The implementations of a case take turns: each round times every implementation `repeat` times
after a pause and a warm-up. Reported: per implementation, the median of its quietest round (the
lowest of its per-round medians), so a burst of load from another job on shared cores spoils a
round, not the result; the median over all samples is kept in the JSON too. The pause lets the previous
implementation's idle threads stop spinning (NumPy's OpenBLAS pool spins for up to ~0.1 s after a
call, PyTorch's OpenMP pool briefly) so they do not compete for the cores with the next one.
Outputs are checked against NumPy (and PyTorch) first.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine_info, set_threads, write_results  # noqa: E402

from fastnlp import ops  # noqa: E402

try:
    import torch
except ImportError:  # torch is an optional peer
    torch = None

F32 = np.float32


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ---- NumPy references: a step loop over time, batched over sequences ----------------------------

def np_lstm(x, W_ih, W_hh, b, dout=None):
    """Forward (and with dout, BPTT): returns out, or (out, dx, dW_ih, dW_hh, db)."""
    B, T, D = x.shape
    H = W_hh.shape[1]
    XW = (x.reshape(B * T, D) @ W_ih.T + b).reshape(B, T, 4 * H)
    h, c = np.zeros((B, H), F32), np.zeros((B, H), F32)
    out = np.empty((B, T, H), F32)
    gates, cs, hp = np.empty((B, T, 4 * H), F32), np.empty((B, T + 1, H), F32), np.empty((B, T, H), F32)
    cs[:, 0] = 0
    for t in range(T):
        hp[:, t] = h
        z = XW[:, t] + h @ W_hh.T
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[:, t], cs[:, t + 1] = h, c
        gates[:, t] = np.concatenate([i, f, g, o], 1)
    if dout is None:
        return out
    dZ = np.empty_like(gates)
    dh, dc = np.zeros((B, H), F32), np.zeros((B, H), F32)
    for t in reversed(range(T)):
        i, f, g, o = (gates[:, t, k * H:(k + 1) * H] for k in range(4))
        dh = dh + dout[:, t]
        tc = np.tanh(cs[:, t + 1])
        dc = dc + dh * o * (1 - tc * tc)
        dZ[:, t] = np.concatenate([dc * g * i * (1 - i), dc * cs[:, t] * f * (1 - f), dc * i * (1 - g * g),
                                   dh * tc * o * (1 - o)], 1)
        dc = dc * f
        dh = dZ[:, t] @ W_hh
    dZ2 = dZ.reshape(B * T, 4 * H)
    return (out, (dZ2 @ W_ih).reshape(B, T, D), dZ2.T @ x.reshape(B * T, D), dZ2.T @ hp.reshape(B * T, H),
            dZ2.sum(0))


def np_gru(x, W_ih, W_hh, b_ih, b_hh, dout=None):
    B, T, D = x.shape
    H = W_hh.shape[1]
    XW = (x.reshape(B * T, D) @ W_ih.T + b_ih).reshape(B, T, 3 * H)
    h = np.zeros((B, H), F32)
    out = np.empty((B, T, H), F32)
    cache = np.empty((B, T, 4 * H), F32)
    hp = np.empty((B, T, H), F32)
    for t in range(T):
        hp[:, t] = h
        R = h @ W_hh.T + b_hh
        r = sigmoid(XW[:, t, :H] + R[:, :H])
        z = sigmoid(XW[:, t, H:2 * H] + R[:, H:2 * H])
        n = np.tanh(XW[:, t, 2 * H:] + r * R[:, 2 * H:])
        h = (1 - z) * n + z * h
        out[:, t] = h
        cache[:, t] = np.concatenate([r, z, n, R[:, 2 * H:]], 1)
    if dout is None:
        return out
    dA, dR = np.empty((B, T, 3 * H), F32), np.empty((B, T, 3 * H), F32)
    dh = np.zeros((B, H), F32)
    for t in reversed(range(T)):
        r, z, n, hl = (cache[:, t, k * H:(k + 1) * H] for k in range(4))
        dh = dh + dout[:, t]
        dn = dh * (1 - z) * (1 - n * n)
        dz = dh * (hp[:, t] - n) * z * (1 - z)
        dr = dn * hl * r * (1 - r)
        dA[:, t] = np.concatenate([dr, dz, dn], 1)
        dR[:, t] = np.concatenate([dr, dz, dn * r], 1)
        dh = dh * z + dR[:, t] @ W_hh
    dA2, dR2 = dA.reshape(B * T, 3 * H), dR.reshape(B * T, 3 * H)
    return (out, (dA2 @ W_ih).reshape(B, T, D), dA2.T @ x.reshape(B * T, D), dR2.T @ hp.reshape(B * T, H),
            dA2.sum(0), dR2.sum(0))


def np_conv_max(x, W, b, K, dpooled=None):
    """relu(conv) max-pooled over time, narrow; with dpooled also (dx, dW, db)."""
    B, T, D = x.shape
    H = W.shape[0]
    T_out = T - K + 1
    cols = np.lib.stride_tricks.sliding_window_view(x, K, axis=1)  # (B, T_out, D, K)
    cols = cols.transpose(0, 1, 3, 2).reshape(B * T_out, K * D)
    z = np.maximum(cols @ W.T + b, 0).reshape(B, T_out, H)
    arg = z.argmax(1)
    pooled = np.take_along_axis(z, arg[:, None, :], 1)[:, 0]
    if dpooled is None:
        return pooled
    g = dpooled * (pooled > 0)
    dz = np.zeros((B, T_out, H), F32)
    np.put_along_axis(dz, arg[:, None, :], g[:, None, :], 1)
    dz = dz.reshape(B * T_out, H)
    dcols = (dz @ W).reshape(B, T_out, K, D)
    dx = np.zeros_like(x)
    for j in range(K):
        dx[:, j:j + T_out] += dcols[:, :, j]
    return pooled, dx, dz.T @ cols, g.sum(0)


# ---- cases ------------------------------------------------------------------------------------------

def rnn_case(rng, cell, B, T, D, H):
    G = 4 if cell == "lstm" else 3
    s = 1 / np.sqrt(H)
    x = rng.standard_normal((B, T, D)).astype(F32)
    W_ih, W_hh = (rng.uniform(-s, s, (G * H, D)).astype(F32), rng.uniform(-s, s, (G * H, H)).astype(F32))
    b_ih, b_hh = rng.uniform(-s, s, G * H).astype(F32), rng.uniform(-s, s, G * H).astype(F32)
    dout = rng.standard_normal((B, T, H)).astype(F32)
    grads = {k: np.empty_like(v) for k, v in (("dW_ih", W_ih), ("dW_hh", W_hh), ("db_ih", b_ih), ("db_hh", b_hh))}

    def f_fwd():
        return ops.rnn(cell, x, W_ih, W_hh, b_ih, b_hh, need_workspace=False)[0]

    def f_fb():
        out, _, _, ws = ops.rnn(cell, x, W_ih, W_hh, b_ih, b_hh)
        return ops.rnn_backward(cell, x, W_ih, W_hh, ws, dout, b_ih=b_ih, b_hh=b_hh, need_dh0=False, grads=grads)

    if cell == "lstm":
        n_fwd = lambda: np_lstm(x, W_ih, W_hh, b_ih + b_hh)  # noqa: E731
        n_fb = lambda: np_lstm(x, W_ih, W_hh, b_ih + b_hh, dout)  # noqa: E731
    else:
        n_fwd = lambda: np_gru(x, W_ih, W_hh, b_ih, b_hh)  # noqa: E731
        n_fb = lambda: np_gru(x, W_ih, W_hh, b_ih, b_hh, dout)  # noqa: E731
    t_fwd = t_fb = None
    if torch:
        m = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(D, H, batch_first=True)
        with torch.no_grad():
            for name, v in (("weight_ih_l0", W_ih), ("weight_hh_l0", W_hh), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
                getattr(m, name).copy_(torch.from_numpy(v))
        tx, tdout = torch.from_numpy(x), torch.from_numpy(dout)

        def t_fwd():
            with torch.no_grad():
                return m(tx)[0]

        def t_fb():
            xx = tx.clone().requires_grad_()
            m.zero_grad(set_to_none=True)
            m(xx)[0].backward(tdout)

    # The implementations agree before they are timed.
    np.testing.assert_allclose(f_fwd(), n_fwd(), rtol=1e-3, atol=1e-4)
    if torch:
        np.testing.assert_allclose(f_fwd(), t_fwd().numpy(), rtol=1e-3, atol=1e-4)
    g = f_fb()
    np.testing.assert_allclose(g["dW_hh"], n_fb()[3], rtol=1e-3, atol=1e-3)
    name = f"{cell.upper()} B={B} T={T} D={D} H={H}"
    flop = 2 * B * T * G * H * (D + H)  # the matrix products of the forward; BPTT does three times as many
    return [(name, "fwd", flop, f_fwd, n_fwd, t_fwd), (name, "fwd+bwd", 3 * flop, f_fb, n_fb, t_fb)]


def conv_case(rng, B, T, D, K, H):
    x = rng.standard_normal((B, T, D)).astype(F32)
    W = (rng.standard_normal((H, K * D)) / np.sqrt(K * D)).astype(F32)
    b = (rng.standard_normal(H) * 0.1).astype(F32)
    dp = rng.standard_normal((B, H)).astype(F32)
    dW, db = np.empty_like(W), np.empty_like(b)

    def f_fwd():
        return ops.conv1d(x, W, b, None, "narrow", "relu", "max")[0]

    def f_fb():
        pooled, argmax = ops.conv1d(x, W, b, None, "narrow", "relu", "max")
        return ops.conv1d_backward(x, W, dp, None, "narrow", "relu", "max", pooled=pooled, argmax=argmax,
                                   dW=dW, db=db)

    n_fwd = lambda: np_conv_max(x, W, b, K)  # noqa: E731
    n_fb = lambda: np_conv_max(x, W, b, K, dp)  # noqa: E731
    t_fwd = t_fb = None
    if torch:
        conv = torch.nn.Conv1d(D, H, K)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(W.reshape(H, K, D).transpose(0, 2, 1).copy()))
            conv.bias.copy_(torch.from_numpy(b))
        tx, tdp = torch.from_numpy(x), torch.from_numpy(dp)

        def t_fwd():
            with torch.no_grad():
                return torch.relu(conv(tx.transpose(1, 2))).max(2).values

        def t_fb():
            xx = tx.clone().requires_grad_()
            conv.zero_grad(set_to_none=True)
            torch.relu(conv(xx.transpose(1, 2))).max(2).values.backward(tdp)

    np.testing.assert_allclose(f_fwd(), n_fwd(), rtol=1e-4, atol=1e-4)
    if torch:
        np.testing.assert_allclose(f_fwd(), t_fwd().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(f_fb()[1], n_fb()[2], rtol=1e-3, atol=1e-3)
    name = f"Conv1d+max B={B} T={T} D={D} k={K} H={H}"
    flop = 2 * B * (T - K + 1) * H * K * D  # the forward's product; a dense backward does twice as many
    return [(name, "fwd", flop, f_fwd, n_fwd, t_fwd), (name, "fwd+bwd", 3 * flop, f_fb, n_fb, t_fb)]


def cases(rng, quick):
    yield from conv_case(rng, 64, 50, 300, 3, 100)
    for cell in ("lstm", "gru"):
        yield from rnn_case(rng, cell, 32, 50, 100, 256)
        yield from rnn_case(rng, cell, 1, 100, 100, 256)


def sgemm_peak_gflops(settle, n=2048, repeat=7):
    """The machine's fp32 matrix-product rate: NumPy's BLAS on one large square product (median)."""
    a = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    time.sleep(settle)
    np.matmul(a, a, out=out)
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        np.matmul(a, a, out=out)
        t.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(t) / 1e9


def interleaved_medians(fns, warmup, repeat, rounds, settle):
    """Per function (seconds): the lowest per-round median, and the median of all samples. Each
    round times every function `repeat` times in turn."""
    rounds_t = [[] for _ in fns]
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            time.sleep(settle)
            for _ in range(warmup):
                fn()
            t = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn()
                t.append(time.perf_counter() - t0)
            rounds_t[k].append(t)
    best = [min(statistics.median(t) for t in r) for r in rounds_t]
    overall = [statistics.median([x for t in r for x in t]) for r in rounds_t]
    return best, overall


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=5, help="timed calls per implementation per round")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of taking turns")
    ap.add_argument("--warmup", type=int, default=2, help="untimed calls before each round's timings")
    ap.add_argument("--settle", type=float, default=0.3, help="seconds of pause before each block of timings")
    ap.add_argument("--quick", action="store_true", help="two rounds of two repeats, for a smoke run")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args(argv)
    if args.quick:
        args.repeat, args.rounds, args.warmup = 2, 2, 1

    set_threads(args.threads, torch)
    peak = sgemm_peak_gflops(args.settle)
    print(f"sgemm peak (NumPy 2048x2048 @ 2048x2048, {args.threads} threads): {peak:.0f} GFLOP/s", flush=True)
    rng = np.random.default_rng(0)
    rows = []
    for name, pass_, flop, f_fast, f_np, f_torch in cases(rng, args.quick):
        fns = [f_fast, f_np] + ([f_torch] if f_torch else [])
        med, overall = interleaved_medians(fns, args.warmup, args.repeat, args.rounds, args.settle)
        t_fast, t_np = med[0], med[1]
        t_torch = med[2] if f_torch else None
        row = {"case": name, "pass": pass_, "fastnlp_ms": t_fast * 1e3, "numpy_ms": t_np * 1e3,
               "speedup_vs_numpy": t_np / t_fast, "torch_ms": None if t_torch is None else t_torch * 1e3,
               "fastnlp_gflops": flop / t_fast / 1e9, "numpy_gflops": flop / t_np / 1e9,
               "gflops_for_3x_numpy": 3 * flop / t_np / 1e9,
               "speedup_vs_torch": None if t_torch is None else t_torch / t_fast,
               "all_samples_median_ms": {"fastnlp": overall[0] * 1e3, "numpy": overall[1] * 1e3,
                                         "torch": overall[2] * 1e3 if f_torch else None}}
        rows.append(row)
        print(f"{name:40s} {pass_:8s} fastnlp {row['fastnlp_ms']:8.2f} ms  numpy {row['numpy_ms']:8.2f} ms  "
              f"x{row['speedup_vs_numpy']:.2f}" + ("" if t_torch is None else
                                                   f"  torch {row['torch_ms']:8.2f} ms  x{row['speedup_vs_torch']:.2f}"),
              flush=True)
    rnn_fb = [r for r in rows if r["pass"] == "fwd+bwd" and r["case"].startswith(("LSTM", "GRU"))]
    summary = {"min_speedup_vs_numpy": min(r["speedup_vs_numpy"] for r in rows),
               "min_rnn_fwd_bwd_speedup_vs_torch": min((r["speedup_vs_torch"] for r in rnn_fb
                                                        if r["speedup_vs_torch"] is not None), default=None)}
    # Where even 3x NumPy's rate exceeds the machine's sgemm peak, no fp32 implementation can be 3x faster.
    summary["sgemm_peak_gflops"] = peak
    summary["cases_where_3x_numpy_exceeds_peak"] = [f"{r['case']} {r['pass']}" for r in rows
                                                    if r["gflops_for_3x_numpy"] > peak]
    note = (f"times: median of the quietest of {args.rounds} rounds; "
            f"min speedup vs NumPy x{summary['min_speedup_vs_numpy']:.2f}; sgemm peak {peak:.0f} GFLOP/s")
    if summary["min_rnn_fwd_bwd_speedup_vs_torch"] is not None:
        note += f"; min LSTM/GRU fwd+bwd speedup vs PyTorch x{summary['min_rnn_fwd_bwd_speedup_vs_torch']:.2f}"
    meta = {"machine": machine_info(), "threads": args.threads, "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None), "quick": args.quick, "repeat": args.repeat,
            "rounds": args.rounds, "settle_s": args.settle, "summary": summary, "note": note}
    text = write_results("bench_sequence" + ("_quick" if args.quick else ""), rows,
                         ["case", "pass", "fastnlp_ms", "numpy_ms", "speedup_vs_numpy", "torch_ms",
                          "speedup_vs_torch", "fastnlp_gflops", "numpy_gflops", "gflops_for_3x_numpy"],
                         meta, args.out)
    print()
    print(text)


if __name__ == "__main__":
    main()
