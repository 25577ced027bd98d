"""`fastnlp embed {ppmi-svd,brown,cw} CORPUS -o OUT`: word vectors (word2vec text / binary format,
scored by `fastnlp word2vec eval`) or Brown clusters (bitstring<TAB>word<TAB>count). Registered in
fastnlp/cli.py, which runs it through its _run error conventions."""

import json
import sys
import time

METHODS = ("ppmi-svd", "brown", "cw")


def add_parser(sub):
    e = sub.add_parser("embed", help="word representations from a corpus: PPMI-SVD, Brown clusters, C&W")
    e.add_argument("method", choices=METHODS)
    e.add_argument("corpus", metavar="CORPUS", help="text file, one whitespace-tokenized sentence per line")
    e.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="vectors (word2vec format) or, for brown, the bitstring<TAB>word<TAB>count paths file")
    e.add_argument("--dim", type=int, default=100, help="vector size (default 100)")
    e.add_argument("--window", type=int, help="ppmi-svd: co-occurrence window (default 2); cw: words on each "
                   "side of the centre (default 2)")
    e.add_argument("--min-count", type=int, default=5, help="drop rarer words (default 5)")
    e.add_argument("--clusters", type=int, default=1000, help="brown: number of clusters C (default 1000)")
    e.add_argument("--threads", type=int, help="threads (default: all)")
    e.add_argument("--format", choices=["text", "binary"], default="binary",
                   help="word2vec text or binary vectors (default binary; ignored for brown)")
    e.add_argument("--memory-mb", type=float, help="ppmi-svd: memory budget for counting (spills to disk past it)")
    e.add_argument("--epochs", type=float, default=1.0, help="cw: passes over the corpus (default 1)")
    e.add_argument("--corruption", choices=["unigram", "uniform"], default="unigram",
                   help="cw: replacement centre words drawn by count^0.75 (default) or uniformly (C&W's)")
    e.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")


def _positive(name, value):
    if value is not None and value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return value


def run(args):
    for name in ("dim", "window", "min_count", "clusters", "threads"):
        _positive("--" + name.replace("_", "-"), getattr(args, name))
    progress = not args.no_progress
    t0 = time.perf_counter()
    out = {"method": args.method, "corpus": args.corpus, "output": args.output}
    if args.method == "brown":
        try:
            from .brown import brown_clusters  # embeddings/brown.py (Brown clustering, built separately)
        except ModuleNotFoundError as err:
            if err.name != __package__ + ".brown":
                raise
            print("fastnlp embed: error: brown: Brown clustering is not part of this fastnlp build "
                  "(fastnlp/embeddings/brown.py is missing)", file=sys.stderr)
            return 2

        clusters = brown_clusters(args.corpus, num_clusters=args.clusters, min_count=args.min_count,
                                  threads=args.threads, progress=progress)
        clusters.save(args.output)
        out.update(format="paths", clusters=args.clusters)
    else:
        if args.method == "ppmi-svd":
            from .ppmi_svd import ppmi_svd

            kv = ppmi_svd(args.corpus, dim=args.dim, window=args.window or 2, min_count=args.min_count,
                          seed=args.seed, threads=args.threads, memory_mb=args.memory_mb, progress=progress)
        else:
            from .cw import cw_embeddings

            kv = cw_embeddings(args.corpus, dim=args.dim, half_window=args.window or 2, min_count=args.min_count,
                               epochs=args.epochs, seed=args.seed, threads=args.threads, progress=progress,
                               corruption=args.corruption)
        kv.save_word2vec_format(args.output, binary=args.format == "binary")
        out.update(format=args.format, vocab_size=len(kv), dim=kv.vector_size)
    out["seconds"] = round(time.perf_counter() - t0, 3)
    print(json.dumps(out, indent=2))
    return 0


def main(argv=None):  # for `python -m fastnlp.embeddings.cli`
    from ..cli import main as fastnlp_main

    return fastnlp_main(["embed", *(argv if argv is not None else sys.argv[1:])])
