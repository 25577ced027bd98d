"""Times each fastnlp kernel (forward, and forward+backward) against the same computation
written in NumPy, and against PyTorch CPU when torch is importable (not a dependency), on shapes
typical of NLP models. Writes benchmarks/results/bench_ops.{json,md}.

    python benchmarks/bench_ops.py [--threads 2] [--repeat 15] [--quick]
"""

import argparse
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine_info, median_time, set_threads, write_results  # noqa: E402

from fastnlp import ops  # noqa: E402

try:
    import torch
except ImportError:  # torch is an optional peer
    torch = None

F32 = np.float32


def np_act(z, act):
    if act == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if act == "tanh":
        return np.tanh(z)
    if act == "relu":
        return np.maximum(z, 0)
    if act == "hardtanh":
        return np.clip(z, -1, 1)
    return z


def np_dact(y, dy, act):
    if act == "sigmoid":
        return dy * y * (1 - y)
    if act == "tanh":
        return dy * (1 - y * y)
    if act == "relu":
        return dy * (y > 0)
    if act == "hardtanh":
        return dy * ((y > -1) & (y < 1))
    return dy


def t_act(z, act):
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "hardtanh": torch.nn.functional.hardtanh}[act](z)


def cases(rng, quick):
    """Yields (name, kind, fastnlp_fn, numpy_fn, torch_fn or None). kind: 'fused' or 'gemm'."""
    scale = 4 if quick else 1
    # ---- activations on 1M elements
    n = 1_000_000 // scale
    x = rng.standard_normal(n).astype(F32)
    dy = rng.standard_normal(n).astype(F32)
    for act in ("sigmoid", "tanh", "hardtanh", "relu"):
        out = np.empty_like(x)
        dx = np.empty_like(x)
        tx = torch.from_numpy(x) if torch else None
        yield (f"{act} fwd (1M)", "fused", lambda a=act: ops.activation(x, a, out=out),
               lambda a=act: np_act(x, a), (lambda a=act: t_act(tx, a)) if torch else None)

        def f_fb(a=act):
            ops.activation(x, a, out=out)
            ops.activation_backward(out, dy, a, out=dx)

        def n_fb(a=act):
            y = np_act(x, a)
            return np_dact(y, dy, a)

        def t_fb(a=act):
            xx = tx.clone().requires_grad_()
            t_act(xx, a).backward(torch.from_numpy(dy))

        yield (f"{act} fwd+bwd (1M)", "fused", f_fb, n_fb, t_fb if torch else None)

    # ---- linear + activation, x (256, 300) -> 300
    B, D, H = 256, 300, 300
    xl = rng.standard_normal((B, D)).astype(F32)
    W = (rng.standard_normal((H, D)) * 0.05).astype(F32)
    b = (rng.standard_normal(H) * 0.1).astype(F32)
    dyl = rng.standard_normal((B, H)).astype(F32)
    yl = np.empty((B, H), F32)
    if torch:
        txl, tW, tb, tdyl = (torch.from_numpy(v) for v in (xl, W, b, dyl))
    for act in ("tanh", "relu", "hardtanh", "sigmoid"):
        yield (f"linear+{act} fwd (256x300->300)", "fused",
               lambda a=act: ops.linear(xl, W, b, a, out=yl),
               lambda a=act: np_act(xl @ W.T + b, a),
               (lambda a=act: t_act(torch.nn.functional.linear(txl, tW, tb), a)) if torch else None)

        dW = np.empty_like(W)
        db = np.empty_like(b)

        def f_fb(a=act):
            ops.linear(xl, W, b, a, out=yl)
            ops.linear_backward(xl, W, yl, dyl, a, dW=dW, db=db)

        def n_fb(a=act):
            y = np_act(xl @ W.T + b, a)
            dz = np_dact(y, dyl, a)
            return dz @ W, dz.T @ xl, dz.sum(0)

        def t_fb(a=act):
            xx = txl.clone().requires_grad_()
            ww = tW.clone().requires_grad_()
            bb = tb.clone().requires_grad_()
            t_act(torch.nn.functional.linear(xx, ww, bb), a).backward(tdyl)

        yield (f"linear+{act} fwd+bwd (256x300->300)", "fused", f_fb, n_fb, t_fb if torch else None)

    # ---- GEMM-bound: a big identity linear, where the epilogue is negligible
    Bg, Dg, Hg = (1024, 1024, 1024) if not quick else (256, 512, 512)
    xg = rng.standard_normal((Bg, Dg)).astype(F32)
    Wg = rng.standard_normal((Hg, Dg)).astype(F32)
    bg = rng.standard_normal(Hg).astype(F32)
    yg = np.empty((Bg, Hg), F32)
    tg = (torch.from_numpy(xg), torch.from_numpy(Wg), torch.from_numpy(bg)) if torch else None
    yield (f"linear fwd ({Bg}x{Dg}->{Hg})", "gemm", lambda: ops.linear(xg, Wg, bg, out=yg),
           lambda: xg @ Wg.T + bg, (lambda: torch.nn.functional.linear(*tg)) if torch else None)

    # ---- softmax family over 50,000 classes for 128 rows
    Bs, V = 128, 50_000 // scale
    logits = (rng.standard_normal((Bs, V)) * 3).astype(F32)
    targets = rng.integers(0, V, Bs).astype(np.int64)
    ys = np.empty_like(logits)
    tl = torch.from_numpy(logits) if torch else None
    tt = torch.from_numpy(targets) if torch else None

    def np_softmax(z):
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def np_log_softmax(z):
        m = z - z.max(1, keepdims=True)
        return m - np.log(np.exp(m).sum(1, keepdims=True))

    yield (f"softmax fwd ({Bs}x{V})", "fused", lambda: ops.softmax(logits, out=ys),
           lambda: np_softmax(logits), (lambda: torch.softmax(tl, 1)) if torch else None)
    yield (f"log_softmax fwd ({Bs}x{V})", "fused", lambda: ops.log_softmax(logits, out=ys),
           lambda: np_log_softmax(logits), (lambda: torch.log_softmax(tl, 1)) if torch else None)

    def n_ce():
        ls = np_log_softmax(logits)
        loss = -ls[np.arange(Bs), targets].mean()
        g = np.exp(ls)
        g[np.arange(Bs), targets] -= 1
        return loss, g / Bs

    def t_ce():
        z = tl.clone().requires_grad_()
        torch.nn.functional.cross_entropy(z, tt).backward()

    dlog = np.empty_like(logits)
    yield (f"softmax+cross-entropy fwd+bwd ({Bs}x{V})", "fused",
           lambda: ops.softmax_cross_entropy(logits, targets, grad_out=dlog), n_ce, t_ce if torch else None)

    # ---- sampled softmax: B=128, H=300, V=50k, K=512
    Hs, K = 300, 512
    h = rng.standard_normal((Bs, Hs)).astype(F32) * 0.1
    Wo = rng.standard_normal((V, Hs)).astype(F32) * 0.1
    bo = np.zeros(V, F32)
    samples = rng.integers(0, V, K).astype(np.int64)
    lq_t = np.full(Bs, np.log(K / V), F32)
    lq_s = np.full(K, np.log(K / V), F32)

    def n_sampled():
        Ws = Wo[samples]
        s = h @ Ws.T + bo[samples] - lq_s
        st = np.einsum("bh,bh->b", h, Wo[targets]) + bo[targets] - lq_t
        s[samples[None, :] == targets[:, None]] = -np.inf
        z = np.concatenate([st[:, None], s], 1)
        p = np_softmax(z)
        loss = -np.log(p[:, 0]).mean()
        p[:, 0] -= 1
        p /= Bs
        dh = p[:, 1:] @ Ws + p[:, :1] * Wo[targets]
        return loss, dh, p[:, 1:].T @ h, p[:, :1] * h

    yield (f"sampled softmax fwd+bwd (B={Bs}, H={Hs}, V={V}, K={K})", "fused",
           lambda: ops.sampled_softmax(h, Wo, bo, targets, samples, lq_t, lq_s), n_sampled, None)

    # ---- embedding: V=100k, D=300, a batch of 256 x 50 ids (Zipf-like repeats)
    Ve, De, N = 100_000 // scale, 300, 256 * 50 // scale
    E = rng.standard_normal((Ve, De)).astype(F32)
    ids = np.minimum(rng.zipf(1.2, N) - 1, Ve - 1).astype(np.int64)
    dye = rng.standard_normal((N, De)).astype(F32)
    oute = np.empty((N, De), F32)
    dE = np.zeros_like(E)
    te, tids = (torch.from_numpy(E), torch.from_numpy(ids)) if torch else (None, None)
    yield (f"embedding fwd (N={N}, D={De})", "fused", lambda: ops.embedding(E, ids, out=oute),
           lambda: E[ids], (lambda: torch.nn.functional.embedding(tids, te)) if torch else None)

    def n_emb_sparse():
        u, inv = np.unique(ids, return_inverse=True)
        rows = np.zeros((u.size, De), F32)
        np.add.at(rows, inv, dye)
        return u, rows

    yield (f"embedding bwd sparse (N={N}, D={De})", "fused", lambda: ops.embedding_backward_sparse(ids, dye),
           n_emb_sparse, None)
    yield (f"embedding bwd dense scatter-add (N={N}, V={Ve}, D={De})", "fused",
           lambda: ops.embedding_backward(ids, dye, dE), lambda: np.add.at(dE, ids, dye), None)

    # ---- optimizers: dense on 1M parameters, sparse rows of the embedding above
    npar = 1_000_000 // scale
    p = rng.standard_normal(npar).astype(F32)
    g = rng.standard_normal(npar).astype(F32) * 1e-3
    acc = np.full(npar, 0.1, F32)
    lr, eps, wd = 1e-4, 1e-8, 1e-6

    def n_sgd():
        p[...] -= lr * (g + wd * p)

    def n_adagrad():
        gg = g + wd * p
        acc[...] += gg * gg
        p[...] -= lr * gg / (np.sqrt(acc) + eps)

    yield ("sgd update (1M)", "fused", lambda: ops.sgd_update(p, g, lr, wd), n_sgd, None)
    yield ("adagrad update (1M)", "fused", lambda: ops.adagrad_update(p, g, acc, lr, eps, wd), n_adagrad, None)

    accE = np.full_like(E, 0.1)

    def n_adagrad_sparse():
        u, inv = np.unique(ids, return_inverse=True)
        rows = np.zeros((u.size, De), F32)
        np.add.at(rows, inv, dye)
        gg = rows + wd * E[u]
        accE[u] += gg * gg
        E[u] -= lr * gg / (np.sqrt(accE[u]) + eps)

    yield (f"adagrad sparse rows (N={N}, D={De})", "fused",
           lambda: ops.adagrad_update_sparse(E, accE, ids, dye, lr, eps, wd), n_adagrad_sparse, None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="smaller shapes, for a smoke run")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results"))
    args = ap.parse_args(argv)

    set_threads(args.threads, torch)
    rng = np.random.default_rng(0)
    rows = []
    for name, kind, f_fast, f_np, f_torch in cases(rng, args.quick):
        t_fast = median_time(f_fast, repeat=args.repeat, min_seconds=0.3)
        t_np = median_time(f_np, repeat=args.repeat, min_seconds=0.3)
        t_torch = median_time(f_torch, repeat=args.repeat, min_seconds=0.3) if f_torch else None
        row = {"op": name, "kind": kind, "fastnlp_ms": t_fast * 1e3, "numpy_ms": t_np * 1e3,
               "speedup_vs_numpy": t_np / t_fast,
               "torch_ms": None if t_torch is None else t_torch * 1e3,
               "speedup_vs_torch": None if t_torch is None else t_torch / t_fast}
        rows.append(row)
        print(f"{name:60s} fastnlp {row['fastnlp_ms']:8.3f} ms  numpy {row['numpy_ms']:8.3f} ms  "
              f"x{row['speedup_vs_numpy']:.2f}" + ("" if t_torch is None else
                                                   f"  torch {row['torch_ms']:8.3f} ms  x{row['speedup_vs_torch']:.2f}"),
              flush=True)
    fused = [r["speedup_vs_numpy"] for r in rows if r["kind"] == "fused"]
    gemm = [r["speedup_vs_numpy"] for r in rows if r["kind"] == "gemm"]
    summary = {"median_fused_speedup_vs_numpy": statistics.median(fused),
               "min_gemm_ratio_vs_numpy": min(gemm) if gemm else None}
    meta = {"machine": machine_info(), "threads": args.threads, "numpy": np.__version__,
            "torch": getattr(torch, "__version__", None), "quick": args.quick, "summary": summary,
            "note": f"median fused speedup vs NumPy x{summary['median_fused_speedup_vs_numpy']:.2f}"}
    text = write_results("bench_ops" + ("_quick" if args.quick else ""), rows,
                         ["op", "fastnlp_ms", "numpy_ms", "speedup_vs_numpy", "torch_ms", "speedup_vs_torch"],
                         meta, args.out)
    print()
    print(text)


if __name__ == "__main__":
    main()
