"""Tagging speed of the shipped POS tagger against peers measured in the same run (and the speed
of the chunk and NER taggers, which decode with Viterbi), on every sentence of CoNLL-2000 train
(211,727 tokens; tokens in, tag ids or strings out, features included):
- fastnlp's tagger (C++ featurizer + window network with its first layer cached per frequent
  feature id + decode), 1 thread and all threads;
- NumPy, same algorithm: Python features, then the same first-layer cache as fastnlp's (the same
  ids cached, each id's precomputed contribution per window position added as a row; uncached ids
  embedded and projected), HardTanh, the output product, argmax; in blocks of tokens that stay in
  cache. The ratio to this row is what fastnlp's implementation buys;
- NumPy, plain network: Python features, window gather, the full first-layer product, argmax. The
  ratio to this row is algorithm + implementation;
- NLTK's averaged perceptron trained on the same data as the shipped model (fastnlp.tagging.tasks:
  the WSJ gold sample's training documents, EWT's PTB tags, CoNLL-2000's POS column; when nltk is
  installed, it is not a dependency).
Scores are on each task's held-out split (fastnlp.tagging.tasks), which no model selection saw. Also the memory one loaded tagger adds
to the process (resident set, before/after load_tagger). Every peer runs on 1 thread (NumPy's
BLAS limited too), like fastnlp's 1-thread row; implementations take turns over --rounds rounds.
Writes benchmarks/results/bench_tagger.{json,md}.

    python benchmarks/bench_tagger.py [--data ../shared/data] [--rounds 3] [--nltk-iterations 5] [--quick]
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Run, bench_parser, fmt_x, interleaved, per_second, ratio, set_threads, table  # noqa: E402

BLOCK = 512  # tokens per block in the cached NumPy path (its (block, window, H) gather stays in cache)
PEERS = ("numpy_cached", "numpy_plain", "nltk")  # the rows that get a speed ratio to fastnlp on 1 thread


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class NumpyPlain:
    """The tagger's network in NumPy as a plain forward pass: Python features, window gather, the
    full first-layer matmul, hardtanh, the output matmul, argmax."""

    def __init__(self, tagger):
        from fastnlp.tagging import features as feat

        self.t = tagger
        self.lookups = [None if f == "caps" else {k: i + feat.FIRST_ENTRY for i, k in enumerate(lex)}
                        for f, lex in zip(tagger.families, tagger.lexicons)]

    def __call__(self, sentences):
        from fastnlp.tagging import features as feat
        from fastnlp.tagging.network import window_ids

        t = self.t
        ids, offsets = feat.featurize_ref(sentences, t.families, self.lookups)
        win = window_ids(ids, offsets, t.window)  # (F, N, window), the training path's NumPy gather
        parts = [table[win[f, :, j]] for j in range(t.window) for f, table in enumerate(t.tables)]
        x = np.concatenate(parts, axis=1)
        h = np.clip(x @ t.W1.T + t.b1, -1, 1)
        scores = h @ t.W2.T + t.b2
        return scores.argmax(axis=1), offsets


class NumpyCached(NumpyPlain):
    """fastnlp's algorithm in NumPy: the first layer is linear in the embeddings, so each (window
    position j, family f, id) contributes the fixed vector W1[:, block(j, f)] @ tables[f][id]. Those
    are precomputed (outside the timed call, as fastnlp does when loading) for the same ids fastnlp's
    scorer caches (ids 0 .. cache_rows[f] - 1); other ids are embedded and projected."""

    def __init__(self, tagger):
        super().__init__(tagger)
        rows = tagger._scorer.cache_rows
        dims = [tb.shape[1] for tb in tagger.tables]
        width = sum(dims)
        self.cache_rows = list(rows)
        self.proj, self.cache = {}, {}
        for j in range(tagger.window):
            off = j * width
            for f, tb in enumerate(tagger.tables):
                Wb = np.ascontiguousarray(tagger.W1[:, off:off + dims[f]].T)  # (D_f, H)
                off += dims[f]
                self.proj[f, j] = Wb
                # cache_rows[f] rows of contributions, plus a zero row that uncached ids point at
                c = np.zeros((rows[f] + 1, Wb.shape[1]), np.float32)
                c[:rows[f]] = tb[:rows[f]] @ Wb
                self.cache[f, j] = c
        self.cache_bytes = sum(c[:-1].nbytes for c in self.cache.values())
        # Per family, the window positions' caches stacked: row j * (cache_rows[f] + 1) + id, so one
        # gather fetches a block's whole window and a sum over it adds the contributions.
        self.stacked = [np.concatenate([self.cache[f, j] for j in range(tagger.window)])
                        for f in range(len(tagger.tables))]
        self.stride = [np.arange(tagger.window) * (r + 1) for r in rows]
        del self.cache  # the stacked copies are the cache now
        self.W2T = np.ascontiguousarray(tagger.W2.T)

    def __call__(self, sentences):
        from fastnlp.tagging import features as feat
        from fastnlp.tagging.network import window_ids

        t = self.t
        ids, offsets = feat.featurize_ref(sentences, t.families, self.lookups)
        win = window_ids(ids, offsets, t.window)
        N = ids.shape[0]
        pred = np.empty(N, np.int64)
        H = t.W1.shape[0]
        for s in range(0, N, BLOCK):
            e = min(N, s + BLOCK)
            hb = np.broadcast_to(t.b1, (e - s, H)).copy()
            for f, stacked in enumerate(self.stacked):
                col = win[f, s:e, :]  # (n, window)
                cold = col >= self.cache_rows[f]
                idx = np.where(cold, self.cache_rows[f], col) + self.stride[f]  # cold ids: the zero row
                hb += np.take(stacked, idx, axis=0).sum(axis=1)
                if cold.any():  # ids outside the cache: embedded and projected, as fastnlp does
                    for j in np.flatnonzero(cold.any(axis=0)):
                        k = np.flatnonzero(cold[:, j])
                        hb[k] += np.take(t.tables[f], col[k, j], axis=0) @ self.proj[f, j]
            np.clip(hb, -1, 1, out=hb)
            pred[s:e] = (hb @ self.W2T + t.b2).argmax(axis=1)
        return pred, offsets


def main(argv=None):
    import fastnlp
    from fastnlp.tagging import load_tagger
    from fastnlp.tagging.data import read_conll
    from fastnlp.tagging.metrics import accuracy, conlleval
    from fastnlp.tagging.train import load_task_data

    p = bench_parser(__doc__, "the first 1,000 sentences, 2 rounds, NLTK trained 1 iteration on 2,000 sentences",
                     data=True, rounds=3)
    p.add_argument("--nltk-iterations", type=int, default=5)
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.nltk_iterations = 2, 1
    cores = os.cpu_count() or 1
    run = Run("bench_tagger", args, threads=f"1 (every peer) and {cores} (fastnlp)")

    before = rss_mb()
    tagger = load_tagger("pos")
    tagger.tag(["warm", "up"])
    load_mb = rss_mb() - before
    sentences = read_conll(os.path.join(args.data, "tagging", "conll2000", "train.txt"), tag_column=1)
    pos_data = load_task_data("pos", args.data)  # what the shipped POS model was trained and selected on
    train, dev = pos_data.train, pos_data.heldout
    batch = [s.tokens for s in sentences]
    if args.quick:
        batch, train = batch[:1000], train[:2000]
    n_tokens = sum(len(s) for s in batch)
    dev_tokens = [s.tokens for s in dev]
    gold = [s.tags for s in dev]
    names = np.asarray(tagger.tagset, dtype=object)

    def numpy_accuracy(impl):
        pred, offsets = impl(dev_tokens)
        tags = names[pred].tolist()
        return accuracy(gold, [tags[offsets[i]:offsets[i + 1]] for i in range(len(dev))])

    plain, cached = NumpyPlain(tagger), NumpyCached(tagger)
    # The same algorithm gives the same tags (up to float32 summation order on near-ties).
    fast_pred = tagger.predict_ids(dev_tokens)[0]
    agree = float(np.mean(cached(dev_tokens)[0] == fast_pred))
    assert agree > 0.999, f"the cached NumPy path disagrees with fastnlp on {100 * (1 - agree):.2f}% of tokens"
    fast_acc = accuracy(gold, tagger.tag_batch(dev_tokens))
    impls = {  # name -> (label, algorithm, threads, fn, dev score)
        "fastnlp_1": ("fastnlp `pos`", "cached first layer", 1, lambda: tagger.tag_batch(batch), fast_acc),
        f"fastnlp_{cores}": ("fastnlp `pos`", "cached first layer", cores, lambda: tagger.tag_batch(batch), fast_acc),
        "numpy_cached": ("NumPy, same algorithm", "cached first layer", 1, lambda: cached(batch),
                         numpy_accuracy(cached)),
        "numpy_plain": ("NumPy, plain network", "full first-layer product", 1, lambda: plain(batch),
                        numpy_accuracy(plain)),
    }
    nltk_note = None
    try:
        from nltk.tag.perceptron import PerceptronTagger
    except ImportError:
        PerceptronTagger = None
    if PerceptronTagger is not None:
        nltk_tagger = PerceptronTagger(load=False)
        t0 = time.perf_counter()
        nltk_tagger.train([list(zip(s.tokens, s.tags)) for s in train], nr_iter=args.nltk_iterations)
        nltk_note = f"trained on the same data, {args.nltk_iterations} iterations, {time.perf_counter() - t0:.0f} s"
        nltk_acc = accuracy(gold, [[t for _, t in nltk_tagger.tag(s)] for s in dev_tokens])
        impls["nltk"] = ("NLTK averaged perceptron", "perceptron", 1,
                         lambda: [nltk_tagger.tag(s) for s in batch], nltk_acc)
    # The sentence-level models decode with Viterbi: their speed on the same batch, their held-out score.
    for task in ("chunk", "ner"):
        other = load_tagger(task)
        task_dev = load_task_data(task, args.data).heldout
        f1 = conlleval([s.tags for s in task_dev], other.tag_batch([s.tokens for s in task_dev])).f1
        impls[task] = (f"fastnlp `{task}` (Viterbi)", "cached first layer", 1,
                       lambda o=other: o.tag_batch(batch), f"F1 {f1:.2f}")

    setup = {k: (lambda n=v[2]: set_threads(n, strict=not args.quick)) for k, v in impls.items()}
    t = interleaved({k: v[3] for k, v in impls.items()}, rounds=args.rounds, repeat=1, warmup=1, settle=0.2,
                    setup=setup)
    set_threads(1, strict=not args.quick)
    rows = []
    for k, (label, algo, threads, _, score) in impls.items():
        rows.append({"id": k, "tagger": label, "algorithm": algo, "threads": threads,
                     "seconds": t[k], "tokens_per_s": per_second(t[k], n_tokens),
                     "dev_score": score if isinstance(score, str) or score is None else f"{score:.2f}%",
                     "fastnlp_1thread_speedup": None if k == "fastnlp_1" else ratio(t[k], t["fastnlp_1"]),
                     "note": nltk_note if k == "nltk" else None})
    by_id = {r["id"]: r for r in rows}
    summary = {"tokens": n_tokens, "sentences": len(batch), "tagger_load_rss_mb": round(load_mb, 1),
               "numpy_cache_mb": round(cached.cache_bytes / 2**20, 1), "cache_rows": cached.cache_rows,
               "cached_numpy_agreement": agree,
               "vs_numpy_same_algorithm": by_id["numpy_cached"]["fastnlp_1thread_speedup"],
               "vs_numpy_plain": by_id["numpy_plain"]["fastnlp_1thread_speedup"]}
    md = (f"{n_tokens:,} tokens ({len(batch):,} sentences of CoNLL-2000 train) per call; scores on each task's "
          f"held-out split (POS: {pos_data.heldout_name}), which no model selection saw.\n\n"
          + table(rows, [("tagger", "tagger"), ("first layer", "algorithm"), ("threads", "threads"),
                         ("tokens/s", lambda r: _k(r["tokens_per_s"])), ("held-out score", "dev_score"),
                         ("fastnlp `pos` (1 thread) is", lambda r: fmt_x(r["fastnlp_1thread_speedup"]) + " faster"
                          if r["id"] in PEERS else "-")])
          + f"\n\nMedian over {args.rounds} interleaved rounds (lowest-highest round). fastnlp on 1 thread is "
            f"{fmt_x(summary['vs_numpy_same_algorithm'])} the same algorithm in NumPy (implementation only) and "
            f"{fmt_x(summary['vs_numpy_plain'])} the plain NumPy network (algorithm + implementation). "
            f"Loading one tagger adds {load_mb:.0f} MB to the process; the first-layer cache is "
            f"{cached.cache_bytes / 2**20:.0f} MB of it (ids cached per family: {cached.cache_rows}).")
    if nltk_note:
        md += f" NLTK: {nltk_note}."
    print(run.write(rows, md, summary=summary, fastnlp=fastnlp.__version__))


def _k(s):
    return f"{s['median'] / 1e3:,.0f}k ({s['min'] / 1e3:,.0f}-{s['max'] / 1e3:,.0f})"


if __name__ == "__main__":
    main()
