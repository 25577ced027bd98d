"""How hard is fastnlp's TREC dev split, against the official TREC-10 test set that is not here?

Kim's (2014) TREC figures are on the 500 TREC-10 test questions; ours are on a seeded 10% of
TREC.train (data.load_task). To tell a split's difficulty from a model's shortfall, this runs the
method whose test-set accuracy is published, a linear SVM on a binary bag of words or of n-grams
(Zhang & Lee 2003, coarse classes, all 5,500 training questions: 85.8 and 87.4 on TREC-10), with
scikit-learn's LinearSVC at its defaults (no tuning) on fastnlp's own TREC tokens, on:
  - the dev split that README reports TREC on (training on the other 90%),
  - the selection split settings are chosen on (that 90% less a seeded 10%, split_dev seed 1),
  - 10-fold cross-validation over the whole of TREC.train (folds by data.folds).
It also runs fastnlp's TextCNN (random embeddings, the defaults) on the same 10 folds (seed 0) and
the dev split (seeds 0-4), ~20 s a run on 2 threads (--no-cnn skips it), so the two methods' gap
can be set beside Kim's test-set gap (CNN-rand 91.2 against the SVM's 87.4); and Kim's CNN-rand
trained by his own procedure in PyTorch on the same splits and seeds (kim_cnn_torch.py; ~6 min a
run on one thread, --jobs at a time; --no-kim skips it), which tells whether a shortfall is
fastnlp's. Writes benchmarks/results/trec_calibration.{json,md}.

    python benchmarks/trec_calibration.py [--no-cnn] [--no-kim] [--jobs 2] [--threads 2] [--data DIR] [--quick]
"""

import multiprocessing
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Run, bench_parser, table  # noqa: E402
from kim_cnn_torch import train_and_score as kim_cnn  # noqa: E402

# Zhang & Lee (2003), SIGIR, Table 1: coarse classes, 5,500 training questions, TREC-10 test set
PUBLISHED = {"words": 85.8, "ngrams": 87.4}
FEATURES = {"words": 1, "1-2 grams": 2, "1-3 grams": 3}
SELECTION_SEED = 1   # classify_accuracy.py --selection's draw


def svm_accuracy(train, test, n):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.svm import LinearSVC

    from fastnlp.classify.bow import ngrams  # the maxent's binary 1..n-gram features

    vec = CountVectorizer(analyzer=lambda s: ngrams(s, n), binary=True, lowercase=False)
    clf = LinearSVC().fit(vec.fit_transform(train.sentences), train.labels)
    return float((clf.predict(vec.transform(test.sentences)) == np.array(test.labels)).mean())


def cnn_accuracy(train, test, seed, quick):
    from fastnlp.classify import Classifier

    options = {"epochs": 1} if quick else {}
    return float(Classifier("cnn", seed=seed, **options).fit(train, progress=None).evaluate(test))


def cnn_row(method, dev, folds, t0):
    """A CNN's row from its scores on the dev split (one per training seed) and on each fold."""
    return {"method": method, "dev": statistics.fmean(dev), "dev_std": statistics.stdev(dev) if len(dev) > 1 else 0.0,
            "dev_seeds": dev, "selection": None, "cv": statistics.fmean(folds), "cv_std": statistics.stdev(folds),
            "folds": folds, "published": 91.2, "seconds": time.perf_counter() - t0}


def main(argv=None):
    ap = bench_parser(__doc__, "2 folds, the CNNs for 1 epoch", data=True)
    ap.add_argument("--no-cnn", dest="cnn", action="store_false", help="the SVM rows alone")
    ap.add_argument("--no-kim", dest="kim", action="store_false", help="without Kim's procedure in PyTorch")
    ap.add_argument("--jobs", type=int, default=2, help="Kim's PyTorch runs at a time (one thread each)")
    ap.add_argument("--threads", type=int, default=None, help="fastnlp's threads (default: all cores)")
    args = ap.parse_args(argv)
    import fastnlp
    from fastnlp.classify.data import cv_split, load_task, read_trec, split_dev

    if args.threads:
        fastnlp.set_num_threads(args.threads)
    data_dir = os.path.join(args.data, "classification")
    path = os.path.join(data_dir, "trec", "TREC.train")
    if not os.path.exists(path):
        raise SystemExit(f"TREC.train not found under {data_dir}")
    run = Run("trec_calibration", args, threads=args.threads or fastnlp.get_num_threads())
    train, dev = load_task("trec", data_dir)
    inner, selection = split_dev(train, 0.1, seed=SELECTION_SEED)
    whole = read_trec(path)
    splits = [cv_split(whole, k) for k in range(2 if args.quick else 10)]
    dev_seeds = [0] if args.quick else [0, 1, 2, 3, 4]
    rows = []
    for name, n in FEATURES.items():
        t0 = time.perf_counter()
        folds = [svm_accuracy(a, b, n) for a, b in splits]
        rows.append({"method": f"linear SVM, binary bag of {name}", "dev": svm_accuracy(train, dev, n),
                     "selection": svm_accuracy(inner, selection, n), "cv": statistics.fmean(folds),
                     "cv_std": statistics.stdev(folds), "folds": folds,
                     "published": PUBLISHED["words" if n == 1 else "ngrams"], "seconds": time.perf_counter() - t0})
        print(rows[-1]["method"], f"dev {rows[-1]['dev'] * 100:.2f} CV {rows[-1]['cv'] * 100:.2f}", flush=True)
    if args.kim:
        # Before fastnlp's own runs, so the two never share the cores; spawned, not forked, workers
        # (a fork would inherit this process's OpenMP and BLAS thread pools).
        t0 = time.perf_counter()
        epochs = 1 if args.quick else 25
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = [pool.submit(kim_cnn, train, dev, seed, epochs) for seed in dev_seeds]
            runs += [pool.submit(kim_cnn, a, b, 0, epochs) for a, b in splits]
            scores = [r.result()["accuracy"] for r in runs]
        print("Kim's procedure in PyTorch: dev, then folds: " + " ".join(f"{v * 100:.2f}" for v in scores), flush=True)
        rows.append(cnn_row("Kim's CNN-rand, his training procedure, in PyTorch", scores[:len(dev_seeds)],
                            scores[len(dev_seeds):], t0))
    if args.cnn:
        t0 = time.perf_counter()
        scores = [cnn_accuracy(train, dev, seed, args.quick) for seed in dev_seeds]
        for a, b in splits:
            scores.append(cnn_accuracy(a, b, 0, args.quick))
        print("TextCNN-rand: dev, then folds: " + " ".join(f"{v * 100:.2f}" for v in scores), flush=True)
        rows.append(cnn_row("fastnlp TextCNN, random embeddings (its defaults)", scores[:len(dev_seeds)],
                            scores[len(dev_seeds):], t0))

    def pct(v):
        return "-" if v is None else f"{v * 100:.2f}"

    def dev_cell(r):
        return pct(r["dev"]) + (f" +- {r['dev_std'] * 100:.2f}" if "dev_seeds" in r else "")

    md = table(rows, [("method", "method"), ("dev split %", dev_cell),
                      ("selection split %", lambda r: pct(r["selection"])),
                      ("10-fold CV on TREC.train %", lambda r: f"{pct(r['cv'])} +- {r['cv_std'] * 100:.2f}"),
                      ("published, TREC-10 test %", lambda r: f"{r['published']:.1f}")])
    md += ("\n\nSVM: scikit-learn LinearSVC (C = 1, no tuning) on fastnlp's TREC tokens (case kept); its published"
           " figures are Zhang & Lee (2003), coarse classes, bag of words / of n-grams, trained on all 5,500"
           " questions. The CNNs' published figure is Kim's (2014) CNN-rand; the PyTorch row is his"
           " procedure (kim_cnn_torch.py: vocabulary over all the data, padding to the longest sentence,"
           " dropout not inverted, zero output layer, dense AdaDelta, his batching and validation), the"
           " fastnlp row fastnlp.classify's defaults; each trained with seeds "
           f"{', '.join(map(str, dev_seeds))} on the dev split (mean +- standard deviation) and seed 0 on the folds."
           " Dev split: "
           f"{len(dev)} questions (training on {len(train)}); selection split: {len(selection)} (training on "
           f"{len(inner)}); folds: data.folds over {len(whole)}"
           + (" (QUICK: 2 folds, the CNNs 1 epoch)." if args.quick else "."))
    print(run.write(rows, md))


if __name__ == "__main__":
    main()
