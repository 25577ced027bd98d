"""word2vec benchmark: fastnlp against gensim (when importable; not a fastnlp dependency) in the
same run, on the same corpus file with identical settings, for skip-gram and CBOW.

Reports per run: training seconds (median of --repeat runs), raw words/s (corpus tokens x epochs
/ seconds), words per CPU-second (robust on a shared machine), the Google analogies accuracy
(3CosAdd, restrict_vocab=30000) and the WordSim-353 Spearman rho, both libraries' vectors
scored by the same fastnlp evaluator on the same word order (gensim orders equal counts
differently, which would change the 30000-word cut). Writes JSON and a markdown table under
benchmarks/results/.

The learning rate: gensim's corpus_file mode decays it by each worker's own share of the words
against the whole corpus (word2vec_corpusfile.pyx, get_next_alpha), so with W workers every
epoch only covers 1/W of its span and starts over at the next epoch: with 2 workers and 5
epochs it ends at 0.0026, not min_alpha (CBOW scored ~1 analogy point higher for it on a
60k-line slice of the corpus, on its iterable mode's level without it). Its iterable mode and word2vec.c decay over the words of all threads, as fastnlp
does. With --fastnlp-schedule matched (the default) fastnlp trains one train() call per epoch
with the rates gensim's corpus_file mode actually uses, so both libraries see the same
learning rate at every point; `word2vec` keeps fastnlp's own schedule.

    python benchmarks/bench_word2vec.py                      # the whole shared corpus
    python benchmarks/bench_word2vec.py --max-lines 5000     # a quick check on a slice
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import machine_info  # noqa: E402

DATA = os.environ.get("FASTNLP_DATA", os.path.join(HERE, "..", "..", "shared", "data"))


def evaluate(kv, analogies, similarity):
    a = kv.evaluate_analogies(analogies, restrict_vocab=30000)
    s = kv.evaluate_similarity(similarity)
    return {"analogy_accuracy": a["total"]["accuracy"], "analogy_questions": a["total"]["total"],
            "analogy_sections": {x["section"]: x["accuracy"] for x in a["sections"]},
            "wordsim_rho": s["spearman"], "wordsim_pairs": s["pairs"]}


def schedule(args):
    """The learning rate span of each epoch: [(alpha at its start, alpha at its end)], or None
    for fastnlp's own linear decay over the whole run."""
    if fastnlp_schedule(args) != "gensim-corpus-file":
        return None

    def rate(progress):
        return max(args.min_alpha, args.alpha - (args.alpha - args.min_alpha) * progress)

    E, W = args.epochs, args.threads
    return [(rate(e / E), rate((e + 1 / W) / E)) for e in range(E)]


def fastnlp_schedule(args):
    if args.fastnlp_schedule == "matched":
        return "gensim-corpus-file" if args.gensim_input == "corpus_file" else "word2vec"
    return args.fastnlp_schedule


def run_fastnlp(corpus, sg, args, shared=False):
    import fastnlp

    model = fastnlp.Word2Vec(vector_size=args.dim, window=args.window, negative=args.negative, sample=args.sample,
                             min_count=args.min_count, epochs=args.epochs, workers=args.threads, sg=int(sg),
                             alpha=args.alpha, min_alpha=args.min_alpha, seed=args.seed,
                             shared_negatives=bool(shared and sg), progress=False)
    t0 = time.perf_counter()
    model.build_vocab(corpus_file=corpus)
    vocab_s = time.perf_counter() - t0
    spans = schedule(args)
    c0, t0 = time.process_time(), time.perf_counter()
    if spans is None:
        model.train()
    else:
        for a0, a1 in spans:
            model.train(epochs=1, alpha=a0, min_alpha=a1)
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    h = model.training_history
    loss = sum(x["loss_sum"] for x in h) / max(1, sum(x["examples"] for x in h))
    return model.wv, model.corpus_stats["tokens"], vocab_s, train_s, cpu_s, loss


def run_gensim(corpus, sg, args):
    from gensim.models import Word2Vec

    kw = dict(vector_size=args.dim, window=args.window, negative=args.negative, sample=args.sample,
              min_count=args.min_count, epochs=args.epochs, workers=args.threads, sg=int(sg), alpha=args.alpha,
              min_alpha=args.min_alpha, seed=args.seed)
    model = Word2Vec(**kw)
    t0 = time.perf_counter()
    if args.gensim_input == "corpus_file":
        model.build_vocab(corpus_file=corpus)
    else:
        from gensim.models.word2vec import LineSentence

        model.build_vocab(LineSentence(corpus))
    vocab_s = time.perf_counter() - t0
    c0, t0 = time.process_time(), time.perf_counter()
    if args.gensim_input == "corpus_file":
        model.train(corpus_file=corpus, total_words=model.corpus_total_words, epochs=args.epochs)
    else:
        model.train(LineSentence(corpus), total_examples=model.corpus_count, epochs=args.epochs)
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    return same_order(model.wv, corpus, args), model.corpus_total_words, vocab_s, train_s, cpu_s, None


def same_order(gwv, corpus, args):
    """gensim's vectors as fastnlp KeyedVectors in fastnlp's word order. Both vocabularies hold
    the same words with the same counts; only the order of equal counts differs, and at the
    restrict_vocab=30000 cut that would change which questions are asked. So both libraries are
    scored on exactly the same questions."""
    import fastnlp

    counter = fastnlp._C.VocabCounter()
    counter.count_file(corpus)
    words, _ = counter.finalize(args.min_count)
    if set(words) != set(gwv.index_to_key):
        print("  gensim's vocabulary differs from fastnlp's: evaluated in gensim's order", file=sys.stderr)
        return fastnlp.KeyedVectors(list(gwv.index_to_key), gwv.vectors)
    return fastnlp.KeyedVectors(words, gwv.vectors[[gwv.key_to_index[w] for w in words]])


def bench(lib, corpus, sg, args):
    runs = []
    for r in range(args.repeat):
        if lib == "gensim":
            kv, tokens, vocab_s, train_s, cpu_s, loss = run_gensim(corpus, sg, args)
        else:
            kv, tokens, vocab_s, train_s, cpu_s, loss = run_fastnlp(corpus, sg, args, shared=(lib == "fastnlp-shared"))
        runs.append((train_s, cpu_s, vocab_s))
        print(f"  {lib} {'sg' if sg else 'cbow'} run {r + 1}: train {train_s:.1f} s "
              f"({tokens * args.epochs / train_s / 1e3:.0f}k words/s)", file=sys.stderr, flush=True)
    train_s = statistics.median(x[0] for x in runs)
    cpu_s = statistics.median(x[1] for x in runs)
    res = {"library": lib, "model": "sg" if sg else "cbow", "corpus_tokens": tokens, "vocab": len(kv),
           "train_seconds": train_s, "train_seconds_all": [x[0] for x in runs], "cpu_seconds": cpu_s,
           "vocab_seconds": statistics.median(x[2] for x in runs),
           "words_per_sec": tokens * args.epochs / train_s, "words_per_cpu_sec": tokens * args.epochs / cpu_s}
    if loss is not None:
        res["final_loss"] = loss
    if not args.no_eval:
        res.update(evaluate(kv, args.analogies, args.similarity))  # the vectors of the last run
    return res


def markdown(results, info, args, corpus_desc):
    lines = [f"# word2vec: fastnlp vs gensim\n",
             f"Machine: {info['cpu']}, {info['cores']} cores (load average at start "
             f"{info['load_average'][0]:.2f}). Corpus: {corpus_desc}.",
             f"Settings: dim {args.dim}, window {args.window}, negative {args.negative}, sample {args.sample}, "
             f"min_count {args.min_count}, {args.epochs} epochs, {args.threads} threads, alpha {args.alpha}; "
             f"gensim input: {args.gensim_input}; fastnlp learning rate: {fastnlp_schedule(args)} schedule. "
             f"Median of {args.repeat} run(s). Analogies: Google "
             "questions-words, 3CosAdd, restrict_vocab=30000; WordSim-353: Spearman rho.\n",
             "| model | library | train s | words/s | words/CPU-s | speed vs gensim | analogy acc | WS-353 rho |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    gensim = {r["model"]: r for r in results if r["library"] == "gensim"}
    for r in results:
        g = gensim.get(r["model"])
        ratio = f"{r['words_per_sec'] / g['words_per_sec']:.2f}x" if g else "-"
        acc = f"{100 * r['analogy_accuracy']:.1f}%" if "analogy_accuracy" in r else "-"
        rho = f"{r['wordsim_rho']:.3f}" if "wordsim_rho" in r else "-"
        lines.append(f"| {r['model']} | {r['library']} | {r['train_seconds']:.1f} | {r['words_per_sec'] / 1e3:.0f}k | "
                     f"{r['words_per_cpu_sec'] / 1e3:.0f}k | {ratio} | {acc} | {rho} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", default=os.path.join(DATA, "corpus", "en-corpus.txt"))
    p.add_argument("--max-lines", type=int, default=None, help="train on the first N lines only")
    p.add_argument("--analogies", default=os.path.join(DATA, "embeddings-eval", "questions-words.txt"))
    p.add_argument("--similarity", default=os.path.join(DATA, "embeddings-eval", "wordsim353.tsv"))
    p.add_argument("--models", default="sg,cbow")
    p.add_argument("--libraries", default="fastnlp,gensim",
                   help="any of fastnlp, fastnlp-shared (skip-gram with Ji et al.'s shared negatives), gensim")
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--alpha", type=float, default=0.025, help="gensim's default for both models")
    p.add_argument("--min-alpha", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=1, help="runs per configuration (median reported)")
    p.add_argument("--gensim-input", choices=["corpus_file", "iterable"], default="corpus_file",
                   help="gensim's corpus_file mode (its fastest) or LineSentence through its producer thread")
    p.add_argument("--fastnlp-schedule", choices=["matched", "word2vec", "gensim-corpus-file"], default="matched",
                   help="fastnlp's learning rates: gensim's effective ones for its input mode (matched), "
                        "fastnlp's own linear decay (word2vec: word2vec.c's and gensim's iterable mode's), or "
                        "gensim corpus_file's per-worker decay (see the module docstring)")
    p.add_argument("--no-eval", action="store_true")
    p.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    p.add_argument("--tag", default=None, help="result file suffix (default: the slice size, or none)")
    args = p.parse_args(argv)

    libs = [x.strip() for x in args.libraries.split(",") if x.strip()]
    if "gensim" in libs:
        try:
            import gensim  # noqa: F401
        except ImportError:
            print("gensim is not importable: benchmarking fastnlp alone", file=sys.stderr)
            libs.remove("gensim")
    info = machine_info()
    tmp = None
    corpus = args.corpus
    corpus_desc = os.path.basename(corpus)
    if args.max_lines:
        tmp = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
        with open(corpus, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i == args.max_lines:
                    break
                tmp.write(line)
        tmp.close()
        corpus = tmp.name
        corpus_desc += f" (first {args.max_lines} lines)"
    results = []
    try:
        for model in [m.strip() for m in args.models.split(",")]:
            if model not in ("sg", "cbow"):
                p.error(f"--models: unknown model {model!r}")
            for lib in libs:
                if lib not in ("fastnlp", "fastnlp-shared", "gensim"):
                    p.error(f"--libraries: unknown library {lib!r}")
                if lib == "fastnlp-shared" and model != "sg":
                    continue  # shared negatives are a skip-gram option
                print(f"{lib} {model} ...", file=sys.stderr, flush=True)
                results.append(bench(lib, corpus, model == "sg", args))
    finally:
        if tmp is not None:
            os.remove(tmp.name)
    info["load_average_end"] = os.getloadavg()
    if "gensim" in libs:
        import gensim

        info["gensim"] = gensim.__version__
    tag = args.tag if args.tag is not None else (f"lines{args.max_lines}" if args.max_lines else "")
    name = "word2vec" + (f"-{tag}" if tag else "")
    os.makedirs(args.out_dir, exist_ok=True)
    payload = {"machine": info, "settings": vars(args), "corpus": corpus_desc, "results": results}
    for ext, text in (("json", json.dumps(payload, indent=2)), ("md", markdown(results, info, args, corpus_desc))):
        path = os.path.join(args.out_dir, f"{name}.{ext}")
        with open(path + ".tmp", "w") as f:
            f.write(text)
        os.replace(path + ".tmp", path)
    print(markdown(results, info, args, corpus_desc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
