"""word2vec benchmark: fastnlp against gensim (when importable; not a fastnlp dependency) in the
same run, on the same corpus file, for skip-gram and CBOW.

Reports per (model, library): training seconds, raw words/s (corpus tokens x epochs / seconds),
words per CPU-second (robust on a shared machine), the Google analogies accuracy (3CosAdd,
restrict_vocab=30000) and the WordSim-353 Spearman rho, both libraries' vectors scored by the
same fastnlp evaluator on the same word order (gensim orders equal counts differently, which
would change the 30000-word cut). Writes benchmarks/results/bench_word2vec.{json,md}.

Each library trains at its own defaults for the learning rate (start, end and schedule): the
benchmark measures what a user of each gets. Every other setting (dim, window, negative, sample,
min_count, epochs, threads, seed) is passed to both; --alpha / --min-alpha, when given, are passed
to both too. The effective rates are recorded in the results. The runs take turns: each of
--rounds rounds trains every (model, library) once; figures are the median over rounds with the
lowest and highest round (timing and scores alike: every run's vectors are scored).

    python benchmarks/bench_word2vec.py                      # the whole shared corpus
    python benchmarks/bench_word2vec.py --max-lines 5000     # a check on a slice
    python benchmarks/bench_word2vec.py --quick              # smoke run: 3,000 lines, 1 epoch, 2 rounds
    python benchmarks/bench_word2vec.py --data-dir DIR       # default $FASTNLP_DATA, else ../shared/data
"""

import contextlib
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import DATA, Run, bench_parser, fmt, per_second, ratio, stats, table  # noqa: E402



def evaluate(kv, analogies, similarity):
    a = kv.evaluate_analogies(analogies, restrict_vocab=30000)
    s = kv.evaluate_similarity(similarity)
    return {"analogy_accuracy": a["total"]["accuracy"], "analogy_questions": a["total"]["total"],
            "analogy_sections": {x["section"]: x["accuracy"] for x in a["sections"]},
            "wordsim_rho": s["spearman"], "wordsim_pairs": s["pairs"]}


# ---- shared with word2vec_schedule.py: the corpus, the settings, the scores --------------------------

# The data files under --data-dir, by the argument that overrides each.
DATA_FILES = {"corpus": "corpus/en-corpus.txt", "analogies": "embeddings-eval/questions-words.txt",
              "similarity": "embeddings-eval/wordsim353.tsv"}


def add_word2vec_args(p, **defaults):
    """Adds the data, corpus, evaluation and training arguments to parser p; `defaults` changes a
    default by its name (e.g. max_lines=60000, threads=2). Call resolve_data_files on the parsed
    args before using args.corpus / analogies / similarity."""
    p.add_argument("--data-dir", "--data", dest="data_dir", metavar="DIR", default=None,
                   help="the shared data folder (default $FASTNLP_DATA, else ../shared/data beside the repository)")
    p.add_argument("--corpus", default=None, help=f"the training text (default DIR/{DATA_FILES['corpus']})")
    p.add_argument("--max-lines", type=int, default=None, help="train on the first N lines only")
    p.add_argument("--analogies", default=None, help=f"analogy questions (default DIR/{DATA_FILES['analogies']})")
    p.add_argument("--similarity", default=None, help=f"word pairs (default DIR/{DATA_FILES['similarity']})")
    p.add_argument("--models", default="sg,cbow", help="comma-separated: sg, cbow")
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--window", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--sample", type=float, default=1e-3)
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--min-alpha", type=float, default=None,
                   help="final learning rate (None: each library's own default)")
    p.set_defaults(**defaults)
    return p


def resolve_data_files(p, args, evaluate=True):
    """Fills args.corpus (and, when `evaluate`, args.analogies and args.similarity) left unset from
    the data folder (fastnlp's data_dir rule: --data-dir, else $FASTNLP_DATA, else ../shared/data
    beside the repository) and checks that every file exists; a parser error names the argument."""
    for name, rel in DATA_FILES.items():
        if name != "corpus" and not evaluate:
            continue
        if getattr(args, name) is None:
            # imported only here: with every file given, an older fastnlp without _data (compare_builds
            # --before) runs this benchmark too
            from fastnlp._data import data_dir

            try:
                setattr(args, name, os.path.join(data_dir(args.data_dir or DATA, rel), rel))
            except FileNotFoundError as e:
                p.error(f"--data-dir: {e}")
        elif not os.path.isfile(getattr(args, name)):
            p.error(f"--{name}: no such file: {getattr(args, name)}")


def parse_models(p, args):
    """The models of --models, each checked."""
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in models:
        if m not in ("sg", "cbow"):
            p.error(f"--models: unknown model {m!r}")
    return models


def word2vec_settings(args, sg):
    """The settings of add_word2vec_args as Word2Vec keywords (the same names in fastnlp and gensim)."""
    return dict(vector_size=args.dim, window=args.window, negative=args.negative, sample=args.sample,
                min_count=args.min_count, epochs=args.epochs, workers=args.threads, sg=int(sg))


@contextlib.contextmanager
def corpus_slice(path, max_lines):
    """The corpus file itself, or with max_lines a temporary file of its first max_lines lines,
    removed on exit."""
    if not max_lines:
        yield path
        return
    tmp = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
    try:
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i == max_lines:
                    break
                tmp.write(line)
        tmp.close()
        yield tmp.name
    finally:
        tmp.close()
        os.remove(tmp.name)


def mean_loss(history):
    """The mean training loss per example over a fastnlp model's training_history."""
    return sum(x["loss_sum"] for x in history) / max(1, sum(x["examples"] for x in history))


# ---- this benchmark -----------------------------------------------------------------------------

def run_fastnlp(corpus, sg, args, shared=False):
    import fastnlp

    model = fastnlp.Word2Vec(**word2vec_settings(args, sg), seed=args.seed, shared_negatives=bool(shared and sg),
                             progress=False, **rates(args))
    t0 = time.perf_counter()
    model.build_vocab(corpus_file=corpus)
    vocab_s = time.perf_counter() - t0
    c0, t0 = time.process_time(), time.perf_counter()
    model.train()
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    loss = mean_loss(model.training_history)
    return model.wv, model.corpus_stats["tokens"], vocab_s, train_s, cpu_s, loss, lr_settings(model)


def rates(args):
    """The learning-rate arguments passed to both libraries: none (each library's default) unless given."""
    out = {}
    if args.alpha is not None:
        out["alpha"] = args.alpha
    if args.min_alpha is not None:
        out["min_alpha"] = args.min_alpha
    return out


def lr_settings(model):
    return {k: getattr(model, k) for k in ("alpha", "min_alpha", "alpha_schedule", "schedule", "lr_schedule") if hasattr(model, k)
            and isinstance(getattr(model, k), (int, float, str))}


def run_gensim(corpus, sg, args):
    from gensim.models import Word2Vec

    kw = dict(word2vec_settings(args, sg), seed=args.seed, **rates(args))
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
    return (same_order(model.wv, corpus, args), model.corpus_total_words, vocab_s, train_s, cpu_s, None,
            lr_settings(model))


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


def run_once(lib, corpus, sg, args):
    if lib == "gensim":
        kv, tokens, vocab_s, train_s, cpu_s, loss, lr = run_gensim(corpus, sg, args)
    else:
        kv, tokens, vocab_s, train_s, cpu_s, loss, lr = run_fastnlp(corpus, sg, args, shared=(lib == "fastnlp-shared"))
    res = {"tokens": tokens, "vocab": len(kv), "train_seconds": train_s, "cpu_seconds": cpu_s,
           "vocab_seconds": vocab_s, "loss": loss, "learning_rate": lr}
    if not args.no_eval:
        res.update(evaluate(kv, args.analogies, args.similarity))
    print(f"  {lib} {'sg' if sg else 'cbow'}: train {train_s:.1f} s ({tokens * args.epochs / train_s / 1e3:.0f}k words/s)"
          + ("" if args.no_eval else f", analogies {100 * res['analogy_accuracy']:.2f}%, rho {res['wordsim_rho']:.3f}"),
          file=sys.stderr, flush=True)
    return res


def summarize(lib, model, runs, args):
    tokens = runs[0]["tokens"]
    t = stats(r["train_seconds"] for r in runs)
    res = {"library": lib, "model": model, "corpus_tokens": tokens, "vocab": runs[0]["vocab"],
           "learning_rate": runs[0]["learning_rate"], "train_seconds": t,
           "cpu_seconds": stats(r["cpu_seconds"] for r in runs),
           "words_per_sec": per_second(t, tokens * args.epochs),
           "words_per_cpu_sec": per_second(stats(r["cpu_seconds"] for r in runs), tokens * args.epochs),
           "runs": runs}
    if not args.no_eval:
        res["analogy_accuracy"] = stats(100 * r["analogy_accuracy"] for r in runs)
        res["wordsim_rho"] = stats(r["wordsim_rho"] for r in runs)
        res["analogy_questions"] = runs[0]["analogy_questions"]
    if runs[0]["loss"] is not None:
        res["final_loss"] = stats(r["loss"] for r in runs)
    return res


def markdown(results, args, corpus_desc):
    gensim = {r["model"]: r for r in results if r["library"] == "gensim"}
    for r in results:
        g = gensim.get(r["model"])
        r["speed_vs_gensim"] = ratio(g["train_seconds"], r["train_seconds"]) if g else None
    lr = "; ".join(f"{r['model']} {r['library']}: " + ", ".join(f"{k} {v}" for k, v in r["learning_rate"].items())
                   for r in results)
    return ("Corpus: " + corpus_desc + f". Settings passed to both: dim {args.dim}, window {args.window}, negative "
            f"{args.negative}, sample {args.sample}, min_count {args.min_count}, {args.epochs} epochs, "
            f"{args.threads} threads; gensim input: {args.gensim_input}. Learning rate: "
            + ("each library's default" if args.alpha is None and args.min_alpha is None
               else f"alpha {args.alpha}, min_alpha {args.min_alpha} for both")
            + f" ({lr}).\n\n"
            + table(results, [("model", "model"), ("library", "library"),
                              ("train s", lambda r: fmt(r["train_seconds"])),
                              ("words/s", lambda r: _k(r["words_per_sec"])),
                              ("words/CPU-s", lambda r: _k(r["words_per_cpu_sec"])),
                              ("speed vs gensim", lambda r: "-" if r["speed_vs_gensim"] is None else
                               "1.00x" if r["library"] == "gensim" else
                               f"**{r['speed_vs_gensim']['median']:.2f}x** ({r['speed_vs_gensim']['min']:.2f}-"
                               f"{r['speed_vs_gensim']['max']:.2f})"),
                              ("analogy acc %", lambda r: _pt(r.get("analogy_accuracy"), 2)),
                              ("WS-353 rho", lambda r: _pt(r.get("wordsim_rho"), 3))])
            + f"\n\nMedian over {args.rounds} interleaved round(s) (lowest-highest). Analogies: Google "
              "questions-words, 3CosAdd, restrict_vocab=30000; WordSim-353: Spearman rho; both libraries' vectors "
              "scored by the same evaluator on the same questions.")


def _k(s):
    return f"{s['median'] / 1e3:,.0f}k ({s['min'] / 1e3:,.0f}-{s['max'] / 1e3:,.0f})"


def _pt(s, digits):
    if s is None:
        return "-"
    return f"{s['median']:.{digits}f} ({s['min']:.{digits}f}-{s['max']:.{digits}f})"


def main(argv=None):
    p = add_word2vec_args(bench_parser(__doc__, "the first 3,000 lines, 1 epoch, 2 rounds", rounds=3))
    p.add_argument("--libraries", default="fastnlp,gensim",
                   help="any of fastnlp, fastnlp-shared (skip-gram with Ji et al.'s shared negatives), gensim")
    p.add_argument("--alpha", type=float, default=None,
                   help="start learning rate for both libraries (default: each library's own default)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--gensim-input", choices=["corpus_file", "iterable"], default="corpus_file",
                   help="gensim's corpus_file mode (its fastest) or LineSentence through its producer thread")
    p.add_argument("--no-eval", action="store_true")
    p.add_argument("--tag", default=None, help="result file suffix (default: the slice size, or none)")
    args = p.parse_args(argv)
    if args.quick:
        args.max_lines, args.epochs, args.rounds = args.max_lines or 3000, 1, 2
    if args.rounds < 1:
        p.error(f"--rounds must be >= 1, got {args.rounds}")
    resolve_data_files(p, args, evaluate=not args.no_eval)
    models = parse_models(p, args)
    libs = [x.strip() for x in args.libraries.split(",") if x.strip()]
    for lib in libs:
        if lib not in ("fastnlp", "fastnlp-shared", "gensim"):
            p.error(f"--libraries: unknown library {lib!r}")
    if "gensim" in libs:
        try:
            import gensim  # noqa: F401
        except ImportError:
            print("gensim is not importable: benchmarking fastnlp alone", file=sys.stderr)
            libs.remove("gensim")
    tag = args.tag if args.tag is not None else (f"lines{args.max_lines}" if args.max_lines and not args.quick else "")
    run = Run("bench_word2vec" + (f"-{tag}" if tag else ""), args, threads=args.threads)
    corpus_desc = f"`{os.path.basename(args.corpus)}`" + (f" (first {args.max_lines} lines)" if args.max_lines else "")
    configs = [(m, lib) for m in models for lib in libs if not (lib == "fastnlp-shared" and m != "sg")]
    runs = {c: [] for c in configs}
    with corpus_slice(args.corpus, args.max_lines) as corpus:
        for r in range(args.rounds):
            for m, lib in configs:
                print(f"round {r + 1}/{args.rounds}: {lib} {m} ...", file=sys.stderr, flush=True)
                runs[m, lib].append(run_once(lib, corpus, m == "sg", args))
    results = [summarize(lib, m, runs[m, lib], args) for m, lib in configs]
    text = run.write(results, markdown(results, args, corpus_desc))
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
