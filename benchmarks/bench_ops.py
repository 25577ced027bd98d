"""Times each fastnlp kernel (forward, and forward+backward) against the same computation in NumPy
and in PyTorch CPU (when torch is importable; it is not a dependency), on shapes typical of NLP
models. Writes benchmarks/results/bench_ops.{json,md}.

    python benchmarks/bench_ops.py [--threads 1,2] [--rounds 5] [--repeat 10] [--quick]

Fairness rules the peers are held to:
- every library gets the same thread count (fastnlp's pool and BLAS, torch's intra-op pool, NumPy's
  BLAS through threadpoolctl). NumPy's elementwise ufuncs cannot use more than one thread, so the
  whole table is measured at 1 thread (everyone on one core: the like-for-like comparison) and at
  the machine's core count (what a user gets by default);
- each peer at its best idiom: NumPy with preallocated outputs (out=) and in-place updates,
  scatter-adds by sort + np.add.reduceat (not np.add.at), rows by np.take; torch with out= where
  it has one, forward-only cases under torch.inference_mode() (no autograd graph), backward
  through torch.autograd.grad on leaf tensors made once (nothing copied inside the timed call);
- the implementations take turns (interleaved rounds); each figure is the median over rounds of
  the per-round median, with the lowest and highest round in parentheses. A speedup is
  peer time / fastnlp time computed per round.
Every peer's result is checked against fastnlp's before timing. The cases themselves (fastnlp and
its peers, shape by shape) are in ops_cases.py; this file times, checks and reports them.
"""

import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Run, bench_parser, fmt, fmt_x, interleaved, ratio, scaled, set_threads, table  # noqa: E402
from ops_cases import cases, torch  # noqa: E402  (torch: None when it is not installed)


def _arrays(v):
    if torch is not None and isinstance(v, torch.Tensor):
        if v.is_sparse:
            return [v.indices()[0].numpy(), v.values().numpy()]
        return [v.detach().numpy()]
    if isinstance(v, (tuple, list)):
        return [a for x in v if x is not None for a in _arrays(x)]
    return [np.asarray(v)]


def check(case):
    """The peers compute what fastnlp computes (relative to the output's scale)."""
    if not case["check"]:
        return
    ref = _arrays(case["fastnlp"]())
    for peer in ("numpy", "torch"):
        if case[peer] is None:
            continue
        got = _arrays(case[peer]())
        assert len(got) == len(ref), (case["name"], peer, len(got), len(ref))
        for a, r in zip(got, ref):
            r = np.asarray(r)
            tol = 1e-4 * max(1.0, float(np.abs(r).max()))
            np.testing.assert_allclose(np.asarray(a, r.dtype), r, rtol=1e-3, atol=tol,
                                       err_msg=f"{case['name']}: {peer} disagrees with fastnlp")


def markdown(rows, thread_counts, rounds):
    parts = []
    for th in thread_counts:
        sub = [r for r in rows if r["threads"] == th]
        s = summarize(sub)
        head = (f"**{th} thread{'s' if th > 1 else ''}** for every library: median speedup over the fused ops "
                f"**{s['median_fused_speedup_vs_numpy']:.2f}x NumPy**")
        if s["median_fused_speedup_vs_torch"] is not None:
            head += f", **{s['median_fused_speedup_vs_torch']:.2f}x PyTorch** (ops torch has)"
        if s["gemm_ratio_vs_numpy"] is not None:
            head += f"; the GEMM-bound linear runs at {s['gemm_ratio_vs_numpy']:.2f}x NumPy's own BLAS"
        parts.append(head + ".")
        if s["not_ahead"]:
            parts.append("Under 1.2x NumPy here: " + "; ".join(f"{n} ({v:.2f}x)" for n, v in s["not_ahead"]) + ".")
        parts.append("")
        parts.append(table(sub, [("op", "op"), ("fastnlp ms", "fastnlp_ms"), ("NumPy ms", "numpy_ms"),
                                 ("vs NumPy", lambda r: fmt_x(r["speedup_vs_numpy"])),
                                 ("PyTorch ms", "torch_ms"),
                                 ("vs PyTorch", lambda r: fmt_x(r["speedup_vs_torch"]))]))
        parts.append("")
    parts.append(f"Times in ms: median over {rounds} interleaved rounds (lowest-highest round). "
                 "Speedup = peer time / fastnlp time, per round.")
    return "\n".join(parts)


def summarize(rows):
    fused = [r for r in rows if r["kind"] == "fused"]
    gemm = [r for r in rows if r["kind"] == "gemm"]
    tv = [r["speedup_vs_torch"]["median"] for r in fused if r["speedup_vs_torch"]]
    return {"median_fused_speedup_vs_numpy": statistics.median(r["speedup_vs_numpy"]["median"] for r in fused),
            "median_fused_speedup_vs_torch": statistics.median(tv) if tv else None,
            "gemm_ratio_vs_numpy": min(r["speedup_vs_numpy"]["median"] for r in gemm) if gemm else None,
            "not_ahead": [(r["op"], r["speedup_vs_numpy"]["median"]) for r in fused
                          if r["speedup_vs_numpy"]["median"] < 1.2]}


def main(argv=None):
    ap = bench_parser(__doc__, "smaller shapes, 2 rounds of 3 calls", rounds=5, repeat=10, min_seconds=0.1)
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}",
                    help="comma-separated thread counts, each applied to every library (default 1 and all cores)")
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.repeat, args.min_seconds = 2, 3, 0.0
    try:
        thread_counts = sorted({int(t) for t in args.threads.split(",") if t.strip()})
    except ValueError:
        ap.error(f"--threads: expected comma-separated integers, got {args.threads!r}")
    if not thread_counts or min(thread_counts) < 1:
        ap.error(f"--threads: thread counts must be >= 1, got {args.threads!r}")

    run = Run("bench_ops", args, threads=thread_counts)
    all_cases = list(cases(np.random.default_rng(0), args.quick))
    set_threads(max(thread_counts), torch, strict=not args.quick)
    for c in all_cases:
        check(c)
    rows = []
    for th in thread_counts:
        set_threads(th, torch, strict=not args.quick)
        for c in all_cases:
            fns = {k: c[k] for k in ("fastnlp", "numpy", "torch") if c[k] is not None}
            t = interleaved(fns, rounds=args.rounds, repeat=args.repeat, warmup=2, min_seconds=args.min_seconds)
            row = {"op": c["name"], "kind": c["kind"], "threads": th,
                   "fastnlp_ms": scaled(t["fastnlp"], 1e3), "numpy_ms": scaled(t["numpy"], 1e3),
                   "speedup_vs_numpy": ratio(t["numpy"], t["fastnlp"]),
                   "torch_ms": scaled(t["torch"], 1e3) if "torch" in t else None,
                   "speedup_vs_torch": ratio(t["torch"], t["fastnlp"]) if "torch" in t else None}
            rows.append(row)
            print(f"{th}t {c['name']:58s} fastnlp {fmt(row['fastnlp_ms'])} ms  numpy {fmt_x(row['speedup_vs_numpy'])}"
                  + ("" if row["torch_ms"] is None else f"  torch {fmt_x(row['speedup_vs_torch'])}"), flush=True)
    summary = {str(th): summarize([r for r in rows if r["threads"] == th]) for th in thread_counts}
    text = run.write(rows, markdown(rows, thread_counts, args.rounds), summary=summary)
    print()
    print(text)


if __name__ == "__main__":
    main()
