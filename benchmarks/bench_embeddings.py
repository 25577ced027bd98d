"""Word representations benchmark (issue 18): PPMI-SVD, Collobert & Weston and Brown clusters
(when fastnlp.embeddings.brown is built) beside fastnlp's word2vec skip-gram and CBOW, all on the
same corpus file with the same dim; gensim's LsiModel times the SVD step on the very PPMI matrix
fastnlp's randomized SVD takes, in the same run.

Each method runs in its own subprocess, so its wall time and peak memory (ru_maxrss from wait4)
are its own; the parent scores the vectors it wrote: Google analogies by 3CosAdd and 3CosMul
(restrict_vocab 30000) and WordSim-353 Spearman, through fastnlp.KeyedVectors. Writes
benchmarks/results/embeddings.{json,md}; the markdown is README's "Word representations" table.

    OMP_WAIT_POLICY=PASSIVE nice -n 5 python benchmarks/bench_embeddings.py          # 25M tokens, long
    python benchmarks/bench_embeddings.py --quick     # the first ~2M tokens
"""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import DATA, RESULTS, Run, bench_parser, fmt, table  # noqa: E402

METHODS = ("ppmi-svd", "gensim-lsi", "cw", "brown", "word2vec-sg", "word2vec-cbow")
CW_EPOCHS = 1.0  # C&W's passes over the corpus (see README for the epochs / time trade-off)
QUICK_TOKENS = 2_000_000  # --quick: the first lines holding this many tokens (of en-corpus.txt's 25.5M)


def parser():
    p = bench_parser(__doc__, f"the first {QUICK_TOKENS:,} tokens (whole lines)", data=True)
    p.add_argument("--corpus", default=None, help="default: DATA/corpus/en-corpus.txt")
    p.add_argument("--max-lines", type=int, default=None, help="use the first N lines only")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated, of " + ", ".join(METHODS))
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--svd-window", type=int, default=2, help="PPMI-SVD co-occurrence window (Levy et al.: 2)")
    p.add_argument("--svd-iter", type=int, default=4, help="power iterations of the randomized SVD")
    p.add_argument("--memory-mb", type=float, default=None, help="PPMI-SVD counting budget (default: none)")
    p.add_argument("--cw-epochs", type=float, default=CW_EPOCHS)
    p.add_argument("--cw-half-window", type=int, default=2)
    p.add_argument("--cw-corruption", default="unigram", choices=["unigram", "uniform"],
                   help="C&W's replacement centre words: counts^0.75 (default) or uniform (Collobert & Weston's)")
    p.add_argument("--clusters", type=int, default=1000, help="Brown clusters C")
    p.add_argument("--brown-min-count", type=int, default=40,
                   help="Brown's vocabulary threshold (40: the shipped chunk tagger's clusters; cost grows as V C^2)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--merge", nargs="+", default=None, metavar="JSON",
                   help="no run: combine the results files of runs over disjoint --methods (run side by side to "
                        "save time) into one table of the --methods rows, written as this run's results")
    p.add_argument("--worker", default=None, help=argparse_hidden())
    p.add_argument("--vectors-out", default=None, help=argparse_hidden())
    return p


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


# ---- the worker: one method in its own process -------------------------------------------------

def timed(phases, name, fn):
    t0 = time.perf_counter()
    out = fn()
    phases[name] = time.perf_counter() - t0
    return out


def worker(args):
    import numpy as np

    import fastnlp

    fastnlp.set_num_threads(args.threads)
    phases, extra, kv = {}, {}, None
    t0 = time.perf_counter()
    if args.worker in ("ppmi-svd", "gensim-lsi"):
        from fastnlp.embeddings import cooccurrence_matrix, ppmi, randomized_svd
        from fastnlp.keyedvectors import KeyedVectors

        cooc = timed(phases, "count", lambda: cooccurrence_matrix(
            args.corpus, window=args.svd_window, min_count=args.min_count, threads=args.threads,
            memory_mb=args.memory_mb, progress=False))
        P = timed(phases, "ppmi", lambda: ppmi(cooc))
        extra.update(vocab=len(cooc.words), cooc_nnz=cooc.matrix.nnz, ppmi_nnz=P.nnz, cooc_stats=cooc.stats)
        if args.worker == "ppmi-svd":
            U, s, _ = timed(phases, "svd", lambda: randomized_svd(P, args.dim, n_iter=args.svd_iter, seed=0))
        else:
            import gensim
            from gensim.matutils import Sparse2Corpus
            from gensim.models import LsiModel

            def lsi():
                # Columns of P (contexts) are LSI's documents, rows (words) its terms: u is P's U.
                m = LsiModel(Sparse2Corpus(P.to_scipy().tocsc(), documents_columns=True), num_topics=args.dim,
                             id2word={i: w for i, w in enumerate(cooc.words)}, dtype=np.float64)
                return m.projection.u, m.projection.s

            U, s = timed(phases, "svd", lsi)
            extra["gensim"] = gensim.__version__
        kv = KeyedVectors(cooc.words, (U[:, :args.dim] * s[:args.dim] ** 0.5).astype(np.float32), cooc.counts)
    elif args.worker == "cw":
        from fastnlp import _C
        from fastnlp.embeddings import CWEmbeddings
        from fastnlp.embeddings.cooccurrence import build_vocab

        words, counts, _ = timed(phases, "vocab", lambda: build_vocab(args.corpus, args.min_count))
        ids, offsets, _ = timed(phases, "read", lambda: _C.corpus_ids(args.corpus, _C.Vocab(words, counts), -1))
        model = CWEmbeddings(words, dim=args.dim, half_window=args.cw_half_window, seed=0, counts=counts,
                             corruption=args.cw_corruption)
        summary = timed(phases, "train", lambda: model.train(ids, offsets, epochs=args.cw_epochs, progress=False))
        extra.update(vocab=len(words), epochs=args.cw_epochs, final_loss=summary["loss"], steps=summary["steps"])
        kv = model.keyed_vectors()
    elif args.worker == "brown":
        try:
            from fastnlp.embeddings.brown import brown_clusters
        except ImportError as err:
            print(json.dumps({"absent": f"not built here ({err})"}))
            return 0
        clusters = timed(phases, "cluster", lambda: brown_clusters(args.corpus, num_clusters=args.clusters,
                                                                   min_count=args.brown_min_count,
                                                                   threads=args.threads, progress=False))
        clusters.save(args.vectors_out)
        extra.update(clusters=args.clusters, vocab=len(clusters), min_count=args.brown_min_count)
    else:
        from fastnlp.word2vec import Word2Vec

        model = Word2Vec(vector_size=args.dim, sg=int(args.worker == "word2vec-sg"), min_count=args.min_count,
                         workers=args.threads, progress=False)
        timed(phases, "vocab", lambda: model.build_vocab(corpus_file=args.corpus))
        timed(phases, "train", model.train)
        extra.update(vocab=len(model.wv), epochs=model.epochs)
        kv = model.wv
    seconds = time.perf_counter() - t0
    if kv is not None:
        kv.save_word2vec_format(args.vectors_out, binary=True)
    print(json.dumps({"seconds": seconds, "phases": phases, "vm_hwm_mb": vm_hwm_mb(), **extra}, default=str))
    return 0


def vm_hwm_mb():
    """This process's peak resident memory (VmHWM, MB). Unlike getrusage's ru_maxrss it starts
    afresh at exec, so the parent's size at fork does not leak into it."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---- the parent: one subprocess per method, then the scores -------------------------------------

def run_method(method, corpus, args, out_path):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", method, "--corpus", corpus,
           "--vectors-out", out_path, "--dim", str(args.dim), "--min-count", str(args.min_count),
           "--svd-window", str(args.svd_window), "--svd-iter", str(args.svd_iter), "--cw-epochs", str(args.cw_epochs),
           "--cw-half-window", str(args.cw_half_window), "--cw-corruption", args.cw_corruption,
           "--clusters", str(args.clusters), "--brown-min-count", str(args.brown_min_count),
           "--threads", str(args.threads)]
    if args.memory_mb:
        cmd += ["--memory-mb", str(args.memory_mb)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        return {"method": method, "error": f"exit status {os.waitstatus_to_exitcode(status)}"}
    res = json.loads(out.strip().splitlines()[-1])
    # Peak memory: the worker's VmHWM; wait4's ru_maxrss (also kept) counts the parent's resident
    # size at fork as well, since Linux carries maxrss across exec.
    res.update(method=method, process_seconds=wall, peak_rss_mb=res.get("vm_hwm_mb"),
               ru_maxrss_mb=usage.ru_maxrss / 1024, cpu_seconds=usage.ru_utime + usage.ru_stime)
    return res


def score(res, path, args):
    from fastnlp.keyedvectors import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(path, binary=True)
    for method in ("3cosadd", "3cosmul"):
        a = kv.evaluate_analogies(args.analogies, restrict_vocab=30000, method=method)
        res[f"analogy_{method}"] = 100 * a["total"]["accuracy"]
        res["analogy_questions"] = a["total"]["total"]
    s = kv.evaluate_similarity(args.similarity)
    res.update(wordsim_rho=s["spearman"], wordsim_pairs=s["pairs"])


def markdown(rows, corpus_desc, args):
    out = []
    for r in rows:
        if "absent" in r or "error" in r:
            out.append({"method": r["method"], "time": r.get("absent") or r.get("error"), "cpu": "-", "memory": "-",
                        "analogy": "-", "sim": "-", "gain": ""})
            continue
        detail = ", ".join(f"{k} {v:.1f}" for k, v in r["phases"].items())
        out.append({"method": r["method"], "time": f"{r['seconds']:.1f} s ({detail})",
                    "cpu": f"{r['cpu_seconds']:.1f} s",
                    "memory": f"{r['peak_rss_mb']:.0f} MB",
                    "analogy": (f"{r['analogy_3cosadd']:.2f} / {r['analogy_3cosmul']:.2f}"
                                if "analogy_3cosadd" in r else "-"),
                    "sim": fmt(r["wordsim_rho"], 3) if "wordsim_rho" in r else "-",
                    "gain": brown_gain() if r["method"] == "brown" else ""})
    cols = [("method", "method"), ("wall time (phases, s)", "time"), ("CPU time", "cpu"), ("peak memory", "memory"),
            ("analogy % 3CosAdd / 3CosMul", "analogy"), ("WordSim-353 rho", "sim"), ("downstream gain", "gain")]
    return (f"On {corpus_desc}, dim {args.dim}, min_count {args.min_count}, {args.threads} threads. PPMI-SVD: "
            f"window {args.svd_window}, alpha 0.75, no shift, randomized SVD ({args.svd_iter} power iterations), "
            f"W = U S^0.5; gensim-lsi: gensim's LsiModel on the same PPMI matrix (its defaults: one pass, "
            f"2 power iterations), vectors U S^0.5, its time column's `svd` is the LSI alone. C&W: "
            f"{args.cw_epochs:g} epoch(s), window {2 * args.cw_half_window + 1}, hidden 100, AdaGrad, "
            f"{args.cw_corruption} corruptions. Brown: C = {args.clusters}, min_count {args.brown_min_count}. "
            f"word2vec: fastnlp defaults (negative 5, window 5, 5 epochs). Analogies restricted to the 30,000 most "
            f"frequent words. The downstream column is the Brown cluster-prefix tagger features' held-out F1 gain "
            f"from benchmarks/results/cluster_features.json (its own run, not this one's).\n\n" + table(out, cols))


def brown_gain():
    """The cluster features' held-out F1 gains as benchmarks/cluster_features.py recorded them."""
    path = os.path.join(RESULTS, "cluster_features.json")
    if not os.path.exists(path):
        return "(run cluster_features.py)"
    with open(path) as f:
        rows = json.load(f)["rows"]
    return ", ".join(f"{r['task']} {r['heldout_gain']:+.2f} F1" for r in rows if r["features"] == "clusters")


SAME_SETTINGS = ("corpus", "max_lines", "quick", "dim", "min_count", "svd_window", "svd_iter", "memory_mb", "cw_epochs",
                 "cw_half_window", "cw_corruption", "clusters", "brown_min_count", "threads")


def merge(args):
    """One results table from the results files of runs over disjoint methods with the same settings."""
    parts = []
    for path in args.merge:
        with open(path) as f:
            parts.append(json.load(f))
    first = parts[0]["meta"]["settings"]
    for part, path in zip(parts, args.merge):
        differ = [k for k in SAME_SETTINGS if part["meta"]["settings"].get(k) != first.get(k)]
        if differ:
            raise SystemExit(f"--merge: {path} was run with other settings ({', '.join(differ)})")
    rows = {r["method"]: r for part in parts for r in part["rows"]}
    keep = [m.strip() for m in args.methods.split(",")]
    rows = [rows[m] for m in METHODS if m in rows and m in keep]
    for k in SAME_SETTINGS:
        setattr(args, k, first.get(k))
    run = Run("embeddings", args, threads=args.threads, quick=bool(first.get("quick")))
    run.meta["load_average_before"] = max(p["meta"]["load_average_before"] for p in parts)
    run.meta["commit"], run.meta["dirty"] = parts[0]["meta"]["commit"], any(p["meta"]["dirty"] for p in parts)
    run.meta["parts"] = [{"path": path, **{k: p["meta"].get(k) for k in ("command", "date", "load_average_before",
                                                                         "load_average_after", "commit", "dirty")}}
                         for path, p in zip(args.merge, parts)]
    note = (f"\n\nMerged from {len(parts)} runs over disjoint methods, on the same machine, side by side or one after another ("
            + "; ".join(f"{', '.join(r['method'] for r in p['rows'])}: started {p['meta']['date'][11:16]} UTC, "
                        f"load {p['meta']['load_average_before'][0]:.1f} before, "
                        f"{p['meta']['load_average_after'][0]:.1f} after" for p in parts) + ").")
    tokens = parts[0]["corpus_tokens"]
    desc = parts[0].get("corpus_desc") or (f"`{os.path.basename(first['corpus'])}`"  # files written before corpus_desc
                                           + (f" (first {first['max_lines']} lines)" if first.get("max_lines") else "")
                                           + f", {tokens:,} tokens")
    print(run.write(rows, markdown(rows, desc, args) + note, corpus_tokens=tokens, corpus_desc=desc))
    return 0


def main():
    args = parser().parse_args()
    args.corpus = args.corpus or os.path.join(args.data, "corpus", "en-corpus.txt")
    if args.worker:
        return worker(args)
    if args.merge:
        return merge(args)
    args.analogies = os.path.join(args.data, "embeddings-eval", "questions-words.txt")
    args.similarity = os.path.join(args.data, "embeddings-eval", "wordsim353.tsv")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"--methods: unknown method {m!r} (one of {', '.join(METHODS)})")
    max_tokens = QUICK_TOKENS if args.quick and not args.max_lines else None
    run = Run("embeddings", args, threads=args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus, lines, tokens = args.corpus, 0, 0
        if args.max_lines or max_tokens:
            corpus = os.path.join(tmp, "corpus.txt")
            with open(args.corpus, encoding="utf-8") as f, open(corpus, "w", encoding="utf-8") as g:
                for line in f:
                    if lines == args.max_lines or (max_tokens and tokens >= max_tokens):
                        break
                    g.write(line)
                    lines += 1
                    tokens += len(line.split())
        else:
            with open(corpus, "rb") as f:
                tokens = sum(len(line.split()) for line in f)
        for m in methods:  # every method first, then the scores: the parent stays small while it forks
            print(f"{m} ...", file=sys.stderr, flush=True)
            res = run_method(m, corpus, args, os.path.join(tmp, m + ".out"))
            print("  " + json.dumps({k: v for k, v in res.items() if k != "cooc_stats"}, default=str),
                  file=sys.stderr, flush=True)
            rows.append(res)
        for res in rows:
            if "seconds" in res and res["method"] != "brown":
                score(res, os.path.join(tmp, res["method"] + ".out"), args)
                print(f"  {res['method']}: analogies {res['analogy_3cosadd']:.2f} / {res['analogy_3cosmul']:.2f} %, "
                      f"rho {res['wordsim_rho']:.3f}", file=sys.stderr, flush=True)
    desc = f"`{os.path.basename(args.corpus)}`" + (f" (first {lines} lines)" if lines else "") + f", {tokens:,} tokens"
    print(run.write(rows, markdown(rows, desc, args), corpus_tokens=tokens, corpus_desc=desc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
