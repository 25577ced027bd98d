"""Times the sequence kernels, forward and forward+backward, against a NumPy implementation (a step
loop over time for the recurrences, one batched matmul per step; windows + one matmul for the
convolution) and against PyTorch CPU (nn.LSTM, nn.GRU, nn.Conv1d + max over time) when torch is
importable (it is not a dependency), at each thread count asked for (all three libraries set to the
same count). Writes benchmarks/results/bench_sequence.{json,md}.

    python benchmarks/bench_sequence.py [--threads 1,2] [--repeat 5] [--rounds 5] [--quick]

The implementations of a case take turns: each round times every implementation `repeat` times
after a pause and a warm-up. Reported: the median over rounds of the per-round medians, with the
lowest and highest round. Every block starts with the other implementations' pools asleep, the same
for all: after the pause (--settle) the script waits until no thread of the process burns CPU
(common.wait_until_idle; the longest wait is in the JSON), since a pool still spinning (NumPy's
OpenBLAS after a call, an OpenMP pool without OMP_WAIT_POLICY=PASSIVE) takes a core from the next
implementation. OMP_WAIT_POLICY is read once at start by every OpenMP runtime in the process, so the
run records it: PASSIVE is what a shared machine should use (a spinning pool starves the other
jobs), and fastnlp's recurrences do not depend on it (their step barrier spins briefly, then sleeps). PyTorch's forward runs under inference_mode (no
autograd graph); its backward goes through torch.autograd.grad on leaf tensors made once.
Outputs are checked against NumPy (and PyTorch) first.

GFLOP/s count the matrix-product work each implementation actually does. A recurrence's forward is
2*B*T*G*H*(D+H) flops and BPTT three times that, for every implementation. The convolution's
forward product is 2*B*T_out*H*K*D; with max pooling over time only the argmax window of each
(sequence, filter) has a gradient, so fastnlp's backward does 2 axpys of K*D per (sequence, filter)
(4*B*H*K*D flops) while NumPy's and PyTorch's dense backward do two full products (twice the
forward).

Efficiency is that rate as a fraction of the machine's sgemm peak, measured in the same run at the
same thread count (NumPy's BLAS on a 2048x2048 product). The target is >= 85% of peak where a case
is GEMM-bound: the recurrences at batch 20-32 (each step a (B, H) x (H, G*H) product plus the input
projections as one big product) and the convolution's forward. At B=1 a recurrence is
latency-bound: each step is a matrix-vector product, limited by reading W_hh and by the step's
synchronization, whatever the flop rate, so those rows are judged by the time per step against
PyTorch, not by a fraction of peak. The convolution's fwd+bwd is neither ('sparse': fastnlp's
backward is not a product): its fraction is shown, not targeted.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import Run, bench_parser, fmt, fmt_x, interleaved, per_second, ratio, scaled, set_threads, table  # noqa: E402

from fastnlp import ops  # noqa: E402

try:
    import torch
except ImportError:  # torch is an optional peer
    torch = None

F32 = np.float32
# Read once by every OpenMP runtime when it loads, so what this run's rows were measured under.
OMP_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY", "unset")


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
    if dout is not None:
        gates, cs, hp = np.empty((B, T, 4 * H), F32), np.empty((B, T + 1, H), F32), np.empty((B, T, H), F32)
        cs[:, 0] = 0
    train = dout is not None  # a forward-only call keeps nothing for a backward
    for t in range(T):
        if train:
            hp[:, t] = h
        z = XW[:, t] + h @ W_hh.T
        i, f, g, o = sigmoid(z[:, :H]), sigmoid(z[:, H:2 * H]), np.tanh(z[:, 2 * H:3 * H]), sigmoid(z[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        out[:, t] = h
        if train:
            cs[:, t + 1] = c
            gates[:, t] = np.concatenate([i, f, g, o], 1)
    if not train:
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
    train = dout is not None  # a forward-only call keeps nothing for a backward
    if train:
        cache = np.empty((B, T, 4 * H), F32)
        hp = np.empty((B, T, H), F32)
    for t in range(T):
        if train:
            hp[:, t] = h
        R = h @ W_hh.T + b_hh
        r = sigmoid(XW[:, t, :H] + R[:, :H])
        z = sigmoid(XW[:, t, H:2 * H] + R[:, H:2 * H])
        n = np.tanh(XW[:, t, 2 * H:] + r * R[:, 2 * H:])
        h = (1 - z) * n + z * h
        out[:, t] = h
        if train:
            cache[:, t] = np.concatenate([r, z, n, R[:, 2 * H:]], 1)
    if not train:
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
    if dpooled is None:  # forward only: the max, no argmax kept for a backward
        return z.max(1)
    arg = z.argmax(1)
    pooled = np.take_along_axis(z, arg[:, None, :], 1)[:, 0]
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

        lx = tx.detach().clone().requires_grad_()
        params = list(m.parameters())

        def t_fwd():
            with torch.inference_mode():
                return m(tx)[0]

        def t_fb():
            return torch.autograd.grad(m(lx)[0], [lx] + params, tdout)

    # The implementations agree before they are timed.
    np.testing.assert_allclose(f_fwd(), n_fwd(), rtol=1e-3, atol=1e-4)
    if torch:
        np.testing.assert_allclose(f_fwd(), t_fwd().numpy(), rtol=1e-3, atol=1e-4)
    g = f_fb()
    np.testing.assert_allclose(g["dW_hh"], n_fb()[3], rtol=1e-3, atol=1e-3)
    name = f"{cell.upper()} B={B} T={T} D={D} H={H}"
    flop = 2 * B * T * G * H * (D + H)  # the matrix products of the forward; BPTT does three times as many
    same = lambda f: {"fastnlp": f, "numpy": f, "torch": f}  # noqa: E731
    return [(name, "fwd", same(flop), f_fwd, n_fwd, t_fwd), (name, "fwd+bwd", same(3 * flop), f_fb, n_fb, t_fb)]


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

        lx = tx.detach().clone().requires_grad_()
        params = list(conv.parameters())

        def t_fwd():
            with torch.inference_mode():
                return torch.relu(conv(tx.transpose(1, 2))).max(2).values

        def t_fb():
            return torch.autograd.grad(torch.relu(conv(lx.transpose(1, 2))).max(2).values, [lx] + params, tdp)

    np.testing.assert_allclose(f_fwd(), n_fwd(), rtol=1e-4, atol=1e-4)
    if torch:
        np.testing.assert_allclose(f_fwd(), t_fwd().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(f_fb()[1], n_fb()[2], rtol=1e-3, atol=1e-3)
    name = f"Conv1d+max B={B} T={T} D={D} k={K} H={H}"
    fwd = 2 * B * (T - K + 1) * H * K * D  # the forward's product
    # Backward: fastnlp scatters only the argmax window of each (sequence, filter): two axpys of K*D
    # (dW and dx) per pair; NumPy and PyTorch run the dense backward, two products of the forward's size.
    sparse_bwd, dense_bwd = 2 * 2 * B * H * K * D, 2 * fwd
    return [(name, "fwd", {"fastnlp": fwd, "numpy": fwd, "torch": fwd}, f_fwd, n_fwd, t_fwd),
            (name, "fwd+bwd", {"fastnlp": fwd + sparse_bwd, "numpy": fwd + dense_bwd, "torch": fwd + dense_bwd},
             f_fb, n_fb, t_fb)]


# The recurrences' shapes: a classifier's batch, one sequence at a time (latency-bound), and
# bench_lm's language model (Zaremba small: batch 20, 20-step BPTT, 200 units, D = H).
RNN_SHAPES = [(32, 50, 100, 256), (1, 100, 100, 256), (20, 20, 200, 200)]
RNN_SHAPES_QUICK = [(8, 10, 32, 64), (1, 10, 32, 64), (5, 6, 20, 20)]


def cases(rng, quick):
    if quick:  # small shapes: a smoke run checks the code paths and the output, not the speed
        yield from conv_case(rng, 16, 20, 64, 3, 32)
    else:
        yield from conv_case(rng, 64, 50, 300, 3, 100)
    for cell in ("lstm", "gru"):
        for B, T, D, H in (RNN_SHAPES_QUICK if quick else RNN_SHAPES):
            yield from rnn_case(rng, cell, B, T, D, H)


def bound(name, pass_):
    """What limits a case: 'latency' for a recurrence at batch 1 (a matrix-vector product per step),
    'sparse' for the convolution's fwd+bwd (fastnlp's backward is not a product), else 'GEMM'."""
    if name.startswith(("LSTM B=1 ", "GRU B=1 ")):
        return "latency"
    return "sparse" if name.startswith("Conv1d") and pass_ != "fwd" else "GEMM"


PEAK_TARGET = 0.85  # the fraction of the sgemm peak a GEMM-bound case is held to


def sgemm_peak_gflops(settle, n=2048, repeat=5, rounds=5):
    """The machine's fp32 matrix-product rate: NumPy's BLAS on one large square product, as stats
    (GFLOP/s) over rounds of `repeat` products."""
    a = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    out = np.empty_like(a)
    t = interleaved({"sgemm": lambda: np.matmul(a, a, out=out)}, rounds=rounds, repeat=repeat, warmup=1,
                    settle=settle, quiesce=True)["sgemm"]
    return dict(per_second(t, 2 * n ** 3 / 1e9), n=n)


def of_peak(r, who):
    """A row's rate as a fraction of the peak measured at its thread count (median over rounds)."""
    g = r[f"{who}_gflops"]
    return None if g is None else g["median"] / r["peak_gflops"]["median"]


def pct(v):
    return "-" if v is None else f"{100 * v:.0f}%"


def markdown(rows, peaks, args):
    peak_text = "; ".join(f"{t} thread{'s' if t > 1 else ''}: **{p['median']:.0f} GFLOP/s** ({p['min']:.0f}-{p['max']:.0f})"
                          for t, p in peaks.items())
    n = next(iter(peaks.values()))["n"]
    below = [r for r in rows if r["bound"] == "GEMM" and r["fastnlp_of_peak"] < PEAK_TARGET]
    text = (f"The machine's fp32 sgemm peak, measured in the same run (NumPy's BLAS on a {n}x{n} product): "
            f"{peak_text}.\n\n"
            + table(rows, [("case", "case"), ("threads", "threads"), ("pass", "pass"), ("bound", "bound"),
                           ("fastnlp ms", "fastnlp_ms"), ("NumPy ms", "numpy_ms"),
                           ("vs NumPy", lambda r: fmt_x(r["speedup_vs_numpy"])), ("PyTorch ms", "torch_ms"),
                           ("vs PyTorch", lambda r: fmt_x(r["speedup_vs_torch"])),
                           ("fastnlp GFLOP/s", lambda r: fmt(r["fastnlp_gflops"]["median"])),
                           ("fastnlp of peak", lambda r: pct(r["fastnlp_of_peak"])),
                           ("PyTorch of peak", lambda r: pct(r["torch_of_peak"]))])
            + f"\n\nOMP_WAIT_POLICY={OMP_WAIT_POLICY}. Times in ms: median over {args.rounds} interleaved rounds of "
              f"{args.repeat} calls (lowest-highest round), each block started with every other thread pool "
              f"idle, then at least {args.warmup} untimed calls and {args.warmup_seconds:g} s of them; speedups "
              "per round. GFLOP/s count the products each implementation "
              "computes (the convolution's max-pooled backward: fastnlp only the argmax windows, the peers dense); "
              "'of peak' divides them by the sgemm peak at the row's thread count. Target: "
              f">= {100 * PEAK_TARGET:.0f}% of peak where GEMM-bound; B=1 recurrences are latency-bound "
              "(a matrix-vector product per step) and are held to PyTorch's time instead.")
    if below:
        text += (f"\n\nGEMM-bound cases below {100 * PEAK_TARGET:.0f}% of peak:\n"
                 + "\n".join(f"- {r['case']} {r['pass']}, {r['threads']} thread(s): {pct(r['fastnlp_of_peak'])}"
                              for r in below))
    return text


def thread_counts(spec):
    """'1,2' -> [1, 2]; each a positive int."""
    try:
        counts = [int(s) for s in str(spec).split(",") if s.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise SystemExit(f"--threads must be a comma-separated list of positive ints, got {spec!r}")
    return counts


def main(argv=None):
    ap = bench_parser(__doc__, "small shapes, two rounds of two repeats, short pauses", repeat=5, rounds=5, warmup=2,
                      settle=0.3)
    ncpu = os.cpu_count() or 1
    ap.add_argument("--threads", default=",".join(str(t) for t in sorted({1, ncpu})),
                    help="thread counts to run every case at, comma-separated (default 1 and all cores)")
    ap.add_argument("--warmup-seconds", type=float, default=0.15,
                    help="untimed calls go on at least this long before each timed block (default 0.15): after "
                         "the settle pause this VM ran a 2-thread team on one vCPU for the first ~50 ms "
                         "(LSTM B=20 H=200 forward: 3.3 ms a call, then 1.7), for every implementation alike")
    args = ap.parse_args(argv)
    counts = thread_counts(args.threads)
    if args.quick:
        args.repeat, args.rounds, args.warmup, args.settle, args.warmup_seconds = 2, 2, 1, 0.05, 0.0

    run = Run("bench_sequence", args, threads=counts, omp_wait_policy=OMP_WAIT_POLICY)
    rows, peaks = [], {}
    for threads in counts:
        set_threads(threads, torch, strict=not args.quick)
        peak = peaks[threads] = sgemm_peak_gflops(args.settle, n=512 if args.quick else 2048, rounds=args.rounds)
        print(f"sgemm peak (NumPy square product, {threads} threads): {fmt(peak)} GFLOP/s", flush=True)
        rng = np.random.default_rng(0)
        for name, pass_, flop, f_fast, f_np, f_torch in cases(rng, args.quick):
            fns = {"fastnlp": f_fast, "numpy": f_np}
            if f_torch:
                fns["torch"] = f_torch
            t = interleaved(fns, rounds=args.rounds, repeat=args.repeat, warmup=args.warmup, settle=args.settle,
                            quiesce=True, warmup_seconds=args.warmup_seconds)
            row = {"case": name, "threads": threads, "pass": pass_, "bound": bound(name, pass_), "flop": flop,
                   "fastnlp_ms": scaled(t["fastnlp"], 1e3), "numpy_ms": scaled(t["numpy"], 1e3),
                   "speedup_vs_numpy": ratio(t["numpy"], t["fastnlp"]),
                   "torch_ms": scaled(t["torch"], 1e3) if f_torch else None,
                   "speedup_vs_torch": ratio(t["torch"], t["fastnlp"]) if f_torch else None,
                   "fastnlp_gflops": per_second(t["fastnlp"], flop["fastnlp"] / 1e9),
                   "numpy_gflops": per_second(t["numpy"], flop["numpy"] / 1e9),
                   "torch_gflops": per_second(t["torch"], flop["torch"] / 1e9) if f_torch else None,
                   "peak_gflops": peak, "quiesce_s": max(v["quiesce_s"] for v in t.values())}
            for k in ("fastnlp", "numpy", "torch"):
                row[f"{k}_of_peak"] = of_peak(row, k)
            rows.append(row)
            print(f"{name:40s} {threads}t {pass_:8s} fastnlp {fmt(row['fastnlp_ms'])} ms  "
                  f"{pct(row['fastnlp_of_peak'])} of peak  numpy {fmt_x(row['speedup_vs_numpy'])}"
                  + ("" if not f_torch else f"  torch {fmt_x(row['speedup_vs_torch'])}"), flush=True)
            for k in ("fastnlp", "numpy", "torch"):
                g = row[f"{k}_gflops"]
                if g is not None and g["median"] > peak["max"] * 1.05:
                    print(f"  WARNING: {k} at {g['median']:.0f} GFLOP/s is above the measured peak "
                          f"{peak['max']:.0f}: check its flop count (or whether the machine was busy while the peak "
                          "was measured)", file=sys.stderr)
    rnn = [r for r in rows if r["case"].startswith(("LSTM", "GRU")) and r["speedup_vs_torch"] is not None]
    gemm_rnn = [r for r in rows if r["case"].startswith(("LSTM", "GRU")) and r["bound"] == "GEMM"]
    summary = {"sgemm_peak_gflops": {str(t): p for t, p in peaks.items()},
               "min_speedup_vs_numpy": min(r["speedup_vs_numpy"]["median"] for r in rows),
               "min_rnn_speedup_vs_torch": min((r["speedup_vs_torch"]["median"] for r in rnn), default=None),
               "rnn_below_torch": [f"{r['case']} {r['pass']} {r['threads']}t" for r in rnn
                                   if r["speedup_vs_torch"]["median"] < 1],
               "min_gemm_bound_rnn_of_peak": min((r["fastnlp_of_peak"] for r in gemm_rnn), default=None),
               "gemm_bound_below_target": [f"{r['case']} {r['pass']} {r['threads']}t" for r in gemm_rnn
                                           if r["fastnlp_of_peak"] < PEAK_TARGET]}
    text = run.write(rows, markdown(rows, peaks, args), summary=summary)
    print()
    print(text)


if __name__ == "__main__":
    main()
