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

BiLSTM-CNN-CRF taggers (`ner-bilstm`, and the others shipped): tokens/s of tag_batch on the same batch
on 1 and 2 threads, against the identical network in PyTorch CPU (fastnlp.tagging.bilstm_torch: the
weights copied, the same encoding and length-sorted sub-batches, Viterbi in torch; its tags checked
equal to fastnlp's before timing) at the same thread count, interleaved in the same run; and one
training slice (--train-batches batches of 10 sentences of the task's training data: forward, CRF
loss, backward, clipping, Adam / SparseAdam step), fastnlp against PyTorch. FLOPs per token are
stated (multiply-adds counted as 2).

Writes benchmarks/results/bench_tagger.{json,md}.

    python benchmarks/bench_tagger.py [--data ../shared/data] [--rounds 3] [--nltk-iterations 5]
        [--only {all,window,bilstm}] [--train-batches 100] [--quick]
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
    from fastnlp.tagging.data import read_conll

    p = bench_parser(__doc__, "the first 1,000 sentences, 2 rounds, NLTK trained 1 iteration on 2,000 sentences",
                     data=True, rounds=3)
    p.add_argument("--nltk-iterations", type=int, default=5)
    p.add_argument("--only", choices=("all", "window", "bilstm"), default="all",
                   help="time only the window taggers or only the BiLSTM-CNN-CRF ones")
    p.add_argument("--train-batches", type=int, default=100,
                   help="batches of 10 sentences in the timed BiLSTM training slice")
    args = p.parse_args(argv)
    if args.quick:
        args.rounds, args.nltk_iterations, args.train_batches = 2, 1, 10
    cores = os.cpu_count() or 1
    run = Run("bench_tagger", args, threads=f"1 (every peer) and {cores} (fastnlp)")
    sentences = read_conll(os.path.join(args.data, "tagging", "conll2000", "train.txt"), tag_column=1)
    batch = [s.tokens for s in sentences][:1000 if args.quick else None]
    rows, md, summary = [], "", {}
    if args.only in ("all", "window"):
        rows, md, summary = bench_window(args, cores, batch)
    if args.only in ("all", "bilstm"):
        b_rows, b_md, b_summary = bench_bilstm(args, batch)
        rows, md, summary = rows + b_rows, md + "\n\n" + b_md, dict(summary, bilstm=b_summary)
    print(run.write(rows, md, summary=summary, fastnlp=fastnlp.__version__))


def bench_window(args, cores, batch):
    """The window taggers against NumPy and NLTK: (rows, markdown, summary)."""
    from fastnlp.tagging import load_tagger
    from fastnlp.tagging.metrics import accuracy, conlleval
    from fastnlp.tagging.train import load_task_data


    before = rss_mb()
    tagger = load_tagger("pos")
    tagger.tag(["warm", "up"])
    load_mb = rss_mb() - before
    pos_data = load_task_data("pos", args.data)  # what the shipped POS model was trained and selected on
    train, dev = pos_data.train, pos_data.heldout
    if args.quick:
        train = train[:2000]
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
    return rows, md, summary


def bilstm_flops_per_token(dims, num_tags, mean_chars):
    """Forward FLOPs per token (a multiply-add counts 2) of the BiLSTM-CNN-CRF: char CNN over the
    token's (wide) outputs, both LSTM directions (input and recurrent products), the output layer,
    and Viterbi's K*K additions and comparisons."""
    d = dims
    cnn = 2 * d["char_filters"] * d["char_width"] * d["char_dim"] * (mean_chars + d["char_width"] - 1)
    D, H = d["word_dim"] + d["char_filters"], d["hidden"]
    lstm = 2 * 2 * 4 * H * (D + H)
    return {"char_cnn": cnn, "lstm": lstm, "output": 2 * 2 * H * num_tags, "viterbi": 2 * num_tags * num_tags,
            "total": cnn + lstm + 2 * 2 * H * num_tags + 2 * num_tags * num_tags}


def bench_bilstm(args, batch):
    """The BiLSTM-CNN-CRF taggers: fastnlp on 1 and 2 threads against the identical PyTorch network
    (inference, and a training slice for the first model): (rows, markdown, summary)."""
    import torch

    from fastnlp import ops
    from fastnlp.optim import Adam
    from fastnlp.tagging import load_tagger
    from fastnlp.tagging.bilstm import length_batches
    from fastnlp.tagging.bilstm_tagger import BATCH_TOKENS, build_network
    from fastnlp.tagging.bilstm_torch import to_torch
    from fastnlp.tagging.metrics import accuracy, conlleval
    from fastnlp.tagging.tagger import PRETRAINED_BILSTM, pretrained_path
    from fastnlp.tagging.train import load_task_data

    names = [n for n in PRETRAINED_BILSTM if os.path.exists(pretrained_path(n))]
    if not names:
        raise SystemExit("bench_tagger: no BiLSTM tagger is installed (python -m fastnlp.tagging.train_bilstm ...)")
    n_tokens = sum(len(s) for s in batch)
    impls, flops, scores, setup = {}, {}, {}, {}
    for name in names:
        tagger = load_tagger(name)
        task = tagger.task
        heldout = load_task_data(task, args.data).heldout
        pred = tagger.tag_batch([s.tokens for s in heldout])
        gold = [s.tags for s in heldout]
        scores[name] = (f"F1 {conlleval(gold, pred).f1:.2f}" if tagger.scheme else f"{accuracy(gold, pred):.2f}%")
        encoded = tagger.vocab.encode(batch)
        flops[name] = bilstm_flops_per_token(tagger.header["dims"], len(tagger.tagset),
                                             float(encoded.char_lengths.mean()))
        mirror = to_torch(tagger.net).eval()

        def torch_tag(sentences, tagger=tagger, mirror=mirror):
            enc = tagger.vocab.encode(sentences)
            out = np.empty(len(enc.words), np.int32)
            with torch.no_grad():
                for rows, sub in length_batches(enc, BATCH_TOKENS):
                    out[rows] = mirror.viterbi(mirror.scores(sub), sub, tagger.decode_transitions,
                                               tagger.decode_start)
            return out

        set_threads(1, torch, strict=not args.quick)
        fast = tagger.predict_ids(batch)[0]
        agree = float(np.mean(torch_tag(batch) == fast))
        assert agree > 0.999, f"{name}: PyTorch's tags differ from fastnlp's on {100 * (1 - agree):.3f}% of tokens"
        for threads in (1, 2):
            impls[f"{name}_fastnlp_{threads}"] = (name, "fastnlp", "inference", threads, n_tokens,
                                                  lambda t=tagger: t.tag_batch(batch))
            impls[f"{name}_torch_{threads}"] = (name, "PyTorch", "inference", threads, n_tokens,
                                                lambda f=torch_tag: f(batch))
        scores[name + "_agreement"] = agree

    # Training slice: the first model's task, the same batches and initial weights for both.
    tagger = load_tagger(names[0])
    data = load_task_data(tagger.task, args.data).train
    tag_id = {t: i for i, t in enumerate(tagger.tagset)}
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))[:10 * args.train_batches]
    slices = []
    for i in range(0, len(order), 10):
        chosen = [data[j] for j in order[i:i + 10]]
        slices.append((tagger.vocab.encode([s.tokens for s in chosen]),
                       np.asarray([tag_id[t] for s in chosen for t in s.tags], np.int32), len(chosen)))
    train_tokens = sum(len(b.words) for b, _, _ in slices)
    net = build_network(tagger.header["dims"], tagger.vocab.num_words, tagger.vocab.num_chars, len(tagger.tagset),
                        dropout=0.5, seed=0)
    for p, q in zip(net.parameters(), tagger.net.parameters()):
        p.value[...] = q.value
    mirror = to_torch(net).train()
    optimizer = Adam(net.parameters(), lr=1e-3)
    dense = [p for p in net.parameters() if p is not net.words.W]

    def fastnlp_train():
        for b, tags, n in slices:
            net.loss(b, tags, train=True, scale=1.0 / n)
            grads = [p.grad for p in dense] + [net.words.W.sparse_grad[1]]
            ops.clip_grad_norm(grads, 5.0)
            optimizer.step()
            net.zero_grad()

    t_dense = [p for p in mirror.parameters() if p is not mirror.words.weight]
    t_opt = torch.optim.Adam(t_dense, lr=1e-3)
    t_sparse = torch.optim.SparseAdam([mirror.words.weight], lr=1e-3)

    def torch_train():
        for b, tags, n in slices:
            loss = mirror.nll(mirror.scores(b), b, tags) / n
            loss.backward()
            torch.nn.utils.clip_grad_norm_(t_dense, 5.0)  # (torch's clipping takes no sparse gradient)
            t_opt.step()
            t_sparse.step()
            t_opt.zero_grad()
            t_sparse.zero_grad()

    for threads in (1, 2):
        impls[f"train_fastnlp_{threads}"] = (names[0], "fastnlp", "training", threads, train_tokens, fastnlp_train)
        impls[f"train_torch_{threads}"] = (names[0], "PyTorch", "training", threads, train_tokens, torch_train)
    for k, v in impls.items():
        setup[k] = lambda n=v[3]: set_threads(n, torch, strict=not args.quick)
    t = interleaved({k: v[5] for k, v in impls.items()}, rounds=args.rounds, repeat=1, warmup=1, settle=0.2,
                    setup=setup)
    set_threads(1, torch, strict=not args.quick)
    rows = []
    for k, (name, impl, what, threads, tokens, _) in impls.items():
        peer = k.replace("fastnlp", "torch")
        rows.append({"id": k, "model": name, "implementation": impl, "work": what, "threads": threads,
                     "seconds": t[k], "tokens_per_s": per_second(t[k], tokens),
                     "heldout_score": scores.get(name) if what == "inference" else None,
                     "fastnlp_speedup_vs_torch": ratio(t[peer], t[k]) if impl == "fastnlp" else None})
    f = flops[names[0]]
    md = ("BiLSTM-CNN-CRF taggers: inference on the same batch "
          f"({n_tokens:,} tokens), training on {len(slices)} batches of 10 sentences of `{tagger.task}` training "
          f"data ({train_tokens:,} tokens); fastnlp against the identical PyTorch {torch.__version__} network "
          "(weights copied, tags checked equal: agreement "
          + ", ".join(f"{n} {100 * scores[n + '_agreement']:.2f}%" for n in names) + ").\n\n"
          + table(rows, [("model", "model"), ("implementation", "implementation"), ("work", "work"),
                         ("threads", "threads"), ("tokens/s", lambda r: _k(r["tokens_per_s"])),
                         ("held-out score", lambda r: r["heldout_score"] or "-"),
                         ("fastnlp vs PyTorch", lambda r: fmt_x(r["fastnlp_speedup_vs_torch"])
                          if r["fastnlp_speedup_vs_torch"] else "-")])
          + f"\n\nMedian over {args.rounds} interleaved rounds (lowest-highest round). Forward FLOPs per token "
            f"of `{names[0]}`: {f['total'] / 1e3:.0f}k (LSTM {f['lstm'] / 1e3:.0f}k, "
            f"char CNN {f['char_cnn'] / 1e3:.0f}k, "
            f"output {f['output'] / 1e3:.1f}k, Viterbi {f['viterbi'] / 1e3:.2f}k; training is about 3x that).")
    by_id = {r["id"]: r for r in rows}
    summary = {"flops_per_token": flops, "tokens": n_tokens, "train_tokens": train_tokens,
               "inference_1thread_tokens_per_s": {n: by_id[f"{n}_fastnlp_1"]["tokens_per_s"]["median"] for n in names},
               "vs_torch_inference_1thread": {n: by_id[f"{n}_fastnlp_1"]["fastnlp_speedup_vs_torch"] for n in names},
               "vs_torch_training_1thread": by_id["train_fastnlp_1"]["fastnlp_speedup_vs_torch"],
               "vs_torch_training_2threads": by_id["train_fastnlp_2"]["fastnlp_speedup_vs_torch"]}
    return rows, md, summary


def _k(s):
    d = 1 if s["median"] < 1e4 else 0   # a decimal for rates under 10k (PyTorch's training slice)
    return f"{s['median'] / 1e3:,.{d}f}k ({s['min'] / 1e3:,.{d}f}-{s['max'] / 1e3:,.{d}f})"


if __name__ == "__main__":
    main()
