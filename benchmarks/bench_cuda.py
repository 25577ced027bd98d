"""Times fastnlp's CUDA kernels (through fastnlp.ops on CuPy arrays) against the same computation
written in CuPy, on shapes typical of NLP models. Each op is warmed up, then timed with CUDA
events around every call; the table reports medians and the ratio CuPy / fastnlp measured in the
same run on the same GPU. Writes benchmarks/results/bench_cuda.{json,md}. Needs a GPU and CuPy.

    python benchmarks/bench_cuda.py [--repeat 50] [--quick]
"""

import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import Run, bench_parser, fmt, fmt_x, ratio, stats, table  # noqa: E402

import fastnlp  # noqa: E402
from fastnlp import _C, ops  # noqa: E402

F32 = np.float32


def gpu_median_ms(fn, warmup, repeat):
    """Median time of fn() in milliseconds from CUDA events recorded on the default stream around
    each call, after `warmup` untimed calls. Calls that synchronize (a returned loss, a count of
    unique ids) include that wait, as a caller would see it."""
    import cupy as cp

    for _ in range(warmup):
        fn()
    cp.cuda.Device().synchronize()
    start, end = cp.cuda.Event(), cp.cuda.Event()
    times = []
    for _ in range(repeat):
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    return statistics.median(times)


def cases(cp, rng, quick):
    """Yields (name, fastnlp_fn, cupy_fn)."""
    import cupyx

    scale = 8 if quick else 1

    def randn(*shape, s=1.0):
        return cp.asarray((rng.standard_normal(shape) * s).astype(F32))

    # ---- activations on 16M elements, and the linear epilogue on (4096, 4096)
    n = 16_000_000 // scale
    x, dy = randn(n), randn(n)
    y, dx = cp.empty_like(x), cp.empty_like(x)
    cp_act = {"sigmoid": lambda v: 1 / (1 + cp.exp(-v)), "tanh": cp.tanh,
              "relu": lambda v: cp.maximum(v, 0)}
    cp_dact = {"sigmoid": lambda yy, g: g * yy * (1 - yy), "tanh": lambda yy, g: g * (1 - yy * yy),
               "relu": lambda yy, g: g * (yy > 0)}
    for act in ("sigmoid", "tanh", "relu"):
        yield (f"{act} fwd ({n // 1_000_000}M)", lambda a=act: ops.activation(x, a, out=y),
               lambda a=act: cp_act[a](x))
        ops.activation(x, act, out=y)
        yield (f"{act} bwd ({n // 1_000_000}M)", lambda a=act: ops.activation_backward(y, dy, a, out=dx),
               lambda a=act: cp_dact[a](y, dy))

    B, H = 4096 // scale, 4096
    z, b = randn(B, H), randn(H)
    yb, dyb, dz, db = cp.tanh(z), randn(B, H), cp.empty((B, H), cp.float32), cp.empty(H, cp.float32)
    yield (f"bias+tanh fwd ({B}x{H})", lambda: _C.bias_act_forward(z, b, "tanh"),
           lambda: cp.tanh(z + b))

    def cp_bias_bwd():
        g = dyb * (1 - yb * yb)
        return g, g.sum(0)

    yield (f"bias+tanh bwd with db ({B}x{H})", lambda: _C.bias_act_backward(yb, dyb, dz, db, "tanh", False),
           cp_bias_bwd)
    Bt = 65536 // scale
    yt, dyt, dzt, dbt = randn(Bt, 33), randn(Bt, 33), cp.empty((Bt, 33), cp.float32), cp.empty(33, cp.float32)
    yield (f"bias+relu bwd with db ({Bt}x33)", lambda: _C.bias_act_backward(yt, dyt, dzt, dbt, "relu", False),
           lambda: (dyt * (yt > 0)).sum(0))

    # ---- softmax family: a vocabulary softmax, many short rows, and one huge row set
    def cp_softmax(v):
        e = cp.exp(v - v.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def cp_log_softmax(v):
        m = v - v.max(1, keepdims=True)
        return m - cp.log(cp.exp(m).sum(1, keepdims=True))

    for Bs, V in ((256 // min(scale, 4), 50_000), (16384 // scale, 100), (8, 1_000_000 // scale)):
        logits = randn(Bs, V, s=3.0)
        out = cp.empty_like(logits)
        dys = randn(Bs, V)
        targets = cp.asarray(rng.integers(0, V, Bs))
        shape = f"{Bs}x{V}"
        yield (f"softmax fwd ({shape})", lambda lg=logits, o=out: ops.softmax(lg, out=o),
               lambda lg=logits: cp_softmax(lg))
        yield (f"log_softmax fwd ({shape})", lambda lg=logits, o=out: ops.log_softmax(lg, out=o),
               lambda lg=logits: cp_log_softmax(lg))
        ys = cp_softmax(logits)
        yield (f"softmax bwd ({shape})", lambda yy=ys, g=dys, o=out: ops.softmax_backward(yy, g, out=o),
               lambda yy=ys, g=dys: yy * (g - (g * yy).sum(1, keepdims=True)))

        def cp_ce(lg=logits, t=targets, n_rows=Bs):
            ls = cp_log_softmax(lg)
            loss = -ls[cp.arange(n_rows), t].mean()
            g = cp.exp(ls)
            g[cp.arange(n_rows), t] -= 1
            return float(loss), g / n_rows

        yield (f"softmax+cross-entropy fwd+bwd ({shape})",
               lambda lg=logits, t=targets: ops.softmax_cross_entropy(lg, t), cp_ce)

    # ---- sampled softmax (B=512, H=300, V=100k, K=1024), GEMMs included on both sides
    Bq, Hq, Vq, K = 512 // min(scale, 4), 300, 100_000, 1024
    h, Wo, bo = randn(Bq, Hq, s=0.1), randn(Vq, Hq, s=0.1), cp.zeros(Vq, cp.float32)
    tq = cp.asarray(rng.integers(0, Vq, Bq))
    sq = cp.asarray(rng.integers(0, Vq, K))
    lq_t, lq_s = cp.full(Bq, np.log(K / Vq), cp.float32), cp.full(K, np.log(K / Vq), cp.float32)

    def cp_sampled():
        Ws = Wo[sq]
        s = h @ Ws.T + bo[sq] - lq_s
        st = (h * Wo[tq]).sum(1) + bo[tq] - lq_t
        s[sq[None, :] == tq[:, None]] = -cp.inf
        zz = cp.concatenate([st[:, None], s], 1)
        p = cp_softmax(zz)
        loss = float(-cp.log(p[:, 0]).mean())
        p[:, 0] -= 1
        p /= Bq
        dh = p[:, 1:] @ Ws + p[:, :1] * Wo[tq]
        return loss, dh, p[:, 1:].T @ h, p[:, :1] * h

    yield (f"sampled softmax fwd+bwd (B={Bq}, H={Hq}, V={Vq}, K={K})",
           lambda: ops.sampled_softmax(h, Wo, bo, tq, sq, lq_t, lq_s), cp_sampled)

    # ---- embeddings: V=100k, D=300, a batch of 256 x 50 Zipf-distributed ids
    Ve, De, N = 100_000, 300, 256 * 50 // scale
    E = randn(Ve, De)
    ids = cp.asarray(np.minimum(rng.zipf(1.2, N) - 1, Ve - 1).astype(np.int64))
    dye, oute, dE = randn(N, De), cp.empty((N, De), cp.float32), cp.zeros((Ve, De), cp.float32)
    yield (f"embedding fwd (N={N}, D={De})", lambda: ops.embedding(E, ids, out=oute), lambda: E[ids])
    yield (f"embedding bwd dense (N={N}, V={Ve}, D={De})", lambda: ops.embedding_backward(ids, dye, dE),
           lambda: cupyx.scatter_add(dE, ids, dye))

    def cp_unique_rows():
        u, inv = cp.unique(ids, return_inverse=True)
        rows = cp.zeros((u.size, De), cp.float32)
        cupyx.scatter_add(rows, inv.ravel(), dye)
        return u, rows

    yield (f"embedding bwd sparse (N={N}, D={De})", lambda: ops.embedding_backward_sparse(ids, dye),
           cp_unique_rows)

    # ---- optimizers: dense on 16M parameters; sparse rows of the embedding above
    p, g, acc = randn(n), randn(n, s=1e-3), cp.full(n, 0.1, cp.float32)
    lr, eps, wd = 1e-4, 1e-8, 1e-6

    def cp_sgd():
        p[...] -= lr * (g + wd * p)

    def cp_adagrad():
        gg = g + wd * p
        acc[...] += gg * gg
        p[...] -= lr * gg / (cp.sqrt(acc) + eps)

    yield (f"sgd update ({n // 1_000_000}M)", lambda: ops.sgd_update(p, g, lr, wd), cp_sgd)
    yield (f"adagrad update ({n // 1_000_000}M)", lambda: ops.adagrad_update(p, g, acc, lr, eps, wd), cp_adagrad)

    accE = cp.full_like(E, 0.1)

    def cp_adagrad_sparse():
        u, rows = cp_unique_rows()
        gg = rows + wd * E[u]
        accE[u] += gg * gg
        E[u] -= lr * gg / (cp.sqrt(accE[u]) + eps)

    yield (f"adagrad sparse rows (N={N}, D={De})",
           lambda: ops.adagrad_update_sparse(E, accE, ids, dye, lr, eps, wd), cp_adagrad_sparse)


def main(argv=None):
    args = bench_parser(__doc__, "smaller shapes, 2 rounds", repeat=20, rounds=5, warmup=5).parse_args(argv)

    run_gpu_benchmark("bench_cuda", cases, args)


def run_gpu_benchmark(bench, cases_fn, args, note=""):
    """Times each (name, fastnlp_fn, cupy_fn) of cases_fn(cupy, rng, quick) with CUDA events, the
    two taking turns over args.rounds rounds (each round's figure: the median of args.repeat calls),
    and writes benchmarks/results/<bench>.{json,md}; shared by the GPU benchmarks."""
    if args.quick:
        args.rounds = min(args.rounds, 2)
    if not fastnlp.cuda_available():
        sys.exit(f"{bench}: needs fastnlp built with CUDA, a GPU and CuPy (fastnlp.cuda_available() is False)")
    import cupy as cp

    gpu_name = _C.cuda_device_name()
    run = Run(bench, args, threads="n/a (GPU)", gpu=gpu_name,
              cuda_runtime=cp.cuda.runtime.runtimeGetVersion())
    rng = np.random.default_rng(0)
    rows = []
    for name, f_fast, f_cupy in cases_fn(cp, rng, args.quick):
        per = {"fastnlp": [], "cupy": []}
        for _ in range(args.rounds):
            per["fastnlp"].append(gpu_median_ms(f_fast, args.warmup, args.repeat))
            per["cupy"].append(gpu_median_ms(f_cupy, args.warmup, args.repeat))
        t_fast, t_cupy = stats(per["fastnlp"]), stats(per["cupy"])
        row = {"op": name, "fastnlp_ms": t_fast, "cupy_ms": t_cupy, "speedup_vs_cupy": ratio(t_cupy, t_fast)}
        rows.append(row)
        print(f"{name:60s} fastnlp {fmt(t_fast)} ms  cupy {fmt(t_cupy)} ms  {fmt_x(row['speedup_vs_cupy'])}",
              flush=True)
    speedups = [r["speedup_vs_cupy"]["median"] for r in rows]
    summary = {"median_speedup_vs_cupy": statistics.median(speedups), "min_speedup_vs_cupy": min(speedups)}
    md = (f"GPU: {gpu_name}. Median speedup over CuPy: **{summary['median_speedup_vs_cupy']:.2f}x** "
          f"(lowest {summary['min_speedup_vs_cupy']:.2f}x).\n\n"
          + table(rows, [("op", "op"), ("fastnlp ms", "fastnlp_ms"), ("CuPy ms", "cupy_ms"),
                         ("vs CuPy", lambda r: fmt_x(r["speedup_vs_cupy"]))])
          + f"\n\nCUDA-event times in ms: median over {args.rounds} interleaved rounds (lowest-highest round) of "
            f"the median of {args.repeat} calls after {args.warmup} warm-up calls; {note}")
    text = run.write(rows, md, summary=summary)
    print()
    print(text)


if __name__ == "__main__":
    main()
