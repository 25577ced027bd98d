"""Accuracy of fastnlp.classify's models with their documented defaults (fixed before any run; see
README's classification section) beside Kim's (2014) figures: TextCNN with random embeddings, with
GloVe 6B 50-d and with fastnlp's own word2vec vectors; the LSTM acceptor; the maxent and MLP
baselines. MR, SUBJ, CR, MPQA: k-fold cross-validation mean over the fixed folds (each fold trains
on the other nine; the best epoch is chosen on 10% of those, never on the scored fold); TREC: the
fixed ~10% dev split carved from TREC.train; SST-2 / SST-5: dev.txt sentences (training on every
phrase of train.txt). Writes benchmarks/results/classify_accuracy.{json,md}.

    nice -n 5 python benchmarks/classify_accuracy.py [--runs cnn-rand,lstm-rand,...] [--tasks mr,trec,sst2]
        [--folds 10] [--w2v VECTORS] [--quick] [--selection] [--seeds 0,1,2] [--threads 1 --jobs 3]

--w2v: fastnlp's own vectors, trained once outside the repository, e.g.
    fastnlp word2vec train ../shared/data/corpus/en-corpus.txt -o w2v-cbow300.bin --model cbow --dim 300
--selection: choose settings without looking at the reported splits. SST: score a fixed 10% of
train.txt's trees held out of training instead of dev.txt (data.sst_selection_split); MR, SUBJ, CR,
MPQA: train on fold 0's training part less a seeded 10% (split_dev, seed 1) and score that 10%; the
fit carves its own validation 10% from the rest as usual. Never the folds that are reported.

--seeds: train each (task, run) once per training seed (initialization, dropout, batch order and the
fit's own held-out 10%); the row's accuracy is the mean over the seeds, with their standard deviation
and each seed's accuracy kept in the json (one run's accuracy on SST-2's 694 selection sentences has a
standard error of ~1.5 points, so settings are judged by seed means).

Results are written after every finished run, so an interrupted run keeps what it measured.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, RESULTS, Run, table  # noqa: E402

# Kim (2014), Table 2: CNN-rand, CNN-static (word2vec 300-d, 100B words of Google News), CNN-non-static
KIM = {"cnn-rand": {"mr": 76.1, "sst5": 45.0, "sst2": 82.7, "subj": 89.6, "trec": 91.2, "cr": 79.8, "mpqa": 83.4},
       "cnn-static": {"mr": 81.0, "sst5": 45.5, "sst2": 86.8, "subj": 93.0, "trec": 92.8, "cr": 84.7, "mpqa": 89.6},
       "cnn-non-static": {"mr": 81.5, "sst5": 48.0, "sst2": 87.2, "subj": 93.4, "trec": 93.6, "cr": 84.3,
                          "mpqa": 89.5}}
# run name -> (model, vectors: None | "glove" | "w2v", Kim's row it is compared with, description)
RUNS = {
    "cnn-rand": ("cnn", None, "cnn-rand", "TextCNN, random embeddings (300-d)"),
    "cnn-glove": ("cnn", "glove", "cnn-non-static", "TextCNN, GloVe 6B 50-d + 250 random dims, fine-tuned"),
    "cnn-w2v": ("cnn", "w2v", "cnn-non-static", "TextCNN, fastnlp word2vec, fine-tuned"),
    "lstm-rand": ("lstm", None, None, "LSTM acceptor, random embeddings (300-d)"),
    "lstm-glove": ("lstm", "glove", None, "LSTM acceptor, GloVe 6B 50-d, fine-tuned"),
    "gru-rand": ("gru", None, None, "GRU acceptor, random embeddings (300-d)"),
    "maxent": ("maxent", None, None, "maxent, uni+bigram bag"),
    "mlp": ("mlp", None, None, "MLP (64 tanh), uni+bigram bag"),
}
CV = ("mr", "subj", "cr", "mpqa")
CV_SELECTION_SEED = 1   # --selection on a CV task: the draw of fold 0's training part held out
ORDER = ("mr", "subj", "cr", "mpqa", "trec", "sst2", "sst5")


def _spread(data, n):
    """At most n items of `data`, evenly spaced (SST's dev.txt, for one, lists most positives first)."""
    if len(data) <= n:
        return data
    return data.subset([i * len(data) // n for i in range(n)])


def fit_fold(task, model, vectors, fold, data_dir, quick, log, overrides, selection=False, threads=None, seed=None):
    """(fold, seed, accuracy, seconds, epochs, epoch kept) of one model trained on one task's split
    (fold None: no CV), with training seed `seed` (None: the defaults' or --set's); the epoch kept is
    the one best on the fit's own held-out part (None for L-BFGS)."""
    import fastnlp
    from fastnlp.classify import Classifier, load_task
    from fastnlp.classify.data import split_dev, sst_selection_split
    from fastnlp.classify.networks import task_defaults

    if threads:
        fastnlp.set_num_threads(threads)
    if selection and task in CV:
        train, dev = split_dev(load_task(task, data_dir, fold=0)[0], 0.1, seed=CV_SELECTION_SEED)
    elif selection:
        train, dev = sst_selection_split(data_dir, fine=task == "sst5")
    else:
        train, dev = load_task(task, data_dir, fold=fold or 0)
    options = dict(task_defaults(model, task), **overrides)
    if seed is not None:
        options["seed"] = seed
    if quick:   # a smoke run: an evenly spaced slice of the data (files can be sorted by label), one epoch
        train, dev = _spread(train, 1500), _spread(dev, 300)
        options["epochs"] = 1
    t0 = time.perf_counter()
    clf = Classifier(model, **options).fit(train, vectors=vectors, progress=sys.stderr if log else None)
    acc = clf.evaluate(dev)
    seconds = time.perf_counter() - t0
    scores = [h.get("selection_accuracy") for h in clf.history]
    kept = scores.index(max(scores)) + 1 if scores and None not in scores else None   # fit keeps the first best
    print(f"{task} {model} vectors={vectors} fold={fold} seed={options.get('seed', 'default')}: {acc * 100:.2f}% "
          f"({seconds:.0f} s, epoch {kept} of {len(clf.history)} kept)", flush=True)
    return fold, seed, acc, seconds, len(clf.history), kept


def in_order(rows):
    """Rows in the table's order: by task, then by run."""
    return sorted(rows, key=lambda r: (ORDER.index(r["task"]), list(RUNS).index(r["run"])))


def units(task, folds, seeds=(None,)):
    """The (fold, seed) pairs a task is measured on: folds 0..folds-1 for the cross-validation tasks,
    None otherwise, each with every training seed (None: the configured one)."""
    return [(f, s) for f in (range(folds) if task in CV else [None]) for s in seeds]


def summarize(res):
    """The row fields of finished (fold, seed, accuracy, seconds, epochs, epoch kept) results: accuracy
    (the mean over all), folds (each fold's mean over the seeds), epochs_kept (each result's, in
    order), and with several seeds, seeds (each seed's accuracy, the mean over its folds) and
    seed_std (their sample standard deviation)."""
    import statistics

    fold_ids = sorted({r[0] for r in res}, key=lambda f: -1 if f is None else f)
    seed_ids = sorted({r[1] for r in res}, key=lambda s: -1 if s is None else s)
    per_fold = [statistics.fmean(r[2] for r in res if r[0] == f) for f in fold_ids]
    out = {"accuracy": statistics.fmean(r[2] for r in res), "folds": per_fold,
           "seconds": round(sum(r[3] for r in res)), "epochs": res[0][4], "epochs_kept": [r[5] for r in res]}
    if seed_ids != [None]:
        per_seed = {str(s): statistics.fmean(r[2] for r in res if r[1] == s) for s in seed_ids}
        out["seeds"] = per_seed
        out["seed_std"] = statistics.stdev(per_seed.values()) if len(per_seed) > 1 else None
    return out


def render(rows, args):
    def kim(r):
        return "-" if r["kim"] is None else f"{r['kim']:.1f}"

    def accuracy(r):
        if r["accuracy"] is None:
            return "-"
        if r.get("seed_std") is not None:
            return f"{100 * r['accuracy']:.2f} +- {100 * r['seed_std']:.2f} ({len(r['seeds'])} seeds)"
        return f"{100 * r['accuracy']:.2f}"

    lines = [table(rows, [("task", "task"), ("model", "description"), ("accuracy %", accuracy),
                          ("protocol", "protocol"), ("Kim 2014", kim), ("train s", "seconds"),
                          ("commit", lambda r: r.get("commit") or "-")])]
    lines.append("\nKim's column: CNN-rand for random embeddings, CNN-non-static (300-d word2vec trained on "
                 "100B words of Google News) for pretrained ones; his TREC and SST figures are on the official "
                 "test sets, ours on the dev splits named in the protocol column. Defaults of each model as "
                 "README lists them, seed 0" + (" (QUICK: 1 epoch on a slice of the data)" if args.quick else "")
                 + "; a row with seeds gives the mean +- the standard deviation over its training seeds.")
    lines.append("The commit column names the commit each row was measured on (rows kept by --append or "
                 "brought in by --merge can be older than this file's run).")
    failed = [r for r in rows if r.get("error")]
    for r in failed:
        lines.append(f"\n{r['task']} {r['run']}: not measured ({r['error']})")
    return "\n".join(lines)


def main(argv=None):
    import fastnlp

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", "--data", dest="data", default=DATA)
    p.add_argument("--runs", default="cnn-rand,cnn-glove,cnn-w2v,lstm-rand,maxent,mlp",
                   help=f"comma-separated among {', '.join(RUNS)} (cnn-w2v needs --w2v)")
    p.add_argument("--tasks", default=",".join(ORDER), help="comma-separated among mr,subj,cr,mpqa,trec,sst2,sst5")
    p.add_argument("--selection", action="store_true",
                   help="score a selection split, never the reported one: SST, 10%% of train.txt's trees "
                        "held out; CV tasks, 10%% of fold 0's training part held out (one split, not 10 folds)")
    p.add_argument("--folds", type=int, default=10, help="cross-validation folds run (of the 10 fixed ones)")
    p.add_argument("--seeds", default=None, metavar="S0,S1,...",
                   help="train each (task, run) once per training seed; the row reports the mean, the "
                        "standard deviation over the seeds and each seed's accuracy (not with --set seed=)")
    p.add_argument("--w2v", help="word2vec-format vectors for the cnn-w2v run (python -m fastnlp word2vec train)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--jobs", type=int, default=1,
                   help="train this many folds / tasks at once, each in its own process (with --threads "
                        "threads each); rows are written as each (task, run) finishes")
    p.add_argument("--progress", action="store_true", help="the training progress line on stderr")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 fold, 1 epoch, a slice of each set")
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a default (a JSON value, e.g. --set optimizer='\"adagrad\"' --set lr=0.01); "
                        "the rows say so")
    p.add_argument("--merge", nargs="+", metavar="RESULTS_JSON",
                   help="measure nothing: add the rows of these results files (runs made with --out elsewhere, "
                        "e.g. in parallel) to the results file, replacing its rows of the same (task, run); "
                        "each row keeps the commit it was measured on")
    p.add_argument("--append", action="store_true", help="keep the rows of the existing results file for the "
                   "(task, run) pairs not run now (to measure the table in pieces)")
    args = p.parse_args(argv)
    if args.threads:
        fastnlp.set_num_threads(args.threads)
    runs = [r for r in args.runs.split(",") if r]
    tasks = [t for t in args.tasks.split(",") if t]
    for r in runs:
        if r not in RUNS:
            raise SystemExit(f"--runs: unknown run {r!r}; expected among {', '.join(RUNS)}")
    for t in tasks:
        if t not in ORDER:
            raise SystemExit(f"--tasks: unknown task {t!r}; expected among {', '.join(ORDER)}")
    if args.selection and set(tasks) & {"trec"}:
        raise SystemExit("--selection: TREC has no selection split here (its dev split is carved from train)")
    folds = 1 if args.quick or args.selection else args.folds
    overrides = {}
    for item in args.set:
        key, eq, value = item.partition("=")
        if not eq:
            raise SystemExit(f"--set: expected KEY=VALUE, got {item!r}")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value   # a bare string: --set optimizer=adagrad
    seeds = [None]
    if args.seeds is not None:
        try:
            seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
        except ValueError:
            raise SystemExit(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise SystemExit(f"--seeds: expected distinct non-negative integers, got {args.seeds!r}")
        if "seed" in overrides:
            raise SystemExit("--seeds: give the seeds there or --set seed=, not both")
    run = Run("classify_accuracy", args, threads=fastnlp.get_num_threads(), quick=args.quick)
    data_dir = os.path.join(args.data, "classification")
    out_dir = args.out or RESULTS
    path = os.path.join(out_dir, run.name + ".json")

    def others(done):
        """With --append, the rows already in the results file (re-read at every write, so runs of
        other (task, run) pairs going on beside this one are kept) that this run has not replaced."""
        if not (args.append and os.path.exists(path)):
            return []
        with open(path) as f:
            keep = json.load(f)["rows"]
        ours = {(r["task"], r["run"]) for r in done}
        return [r for r in keep if (r["task"], r["run"]) not in ours]

    if args.merge:
        merged, origin, sources = {}, {}, []
        for i, name in enumerate(([path] if os.path.exists(path) else []) + args.merge):
            with open(name) as f:
                payload = json.load(f)
            meta = payload["meta"]
            if bool(meta.get("quick")) != bool(args.quick):
                raise SystemExit(f"--merge: {name} is {'a' if meta.get('quick') else 'not a'} --quick run; "
                                 f"merge only runs of the same kind ({'with' if args.quick else 'without'} --quick)")
            commit = (meta.get("commit") or "")[:10]
            for r in payload["rows"]:
                if r.get("accuracy") is None and i > 0 and (r["task"], r["run"]) in merged:
                    continue   # a run that measured nothing does not replace a measured row
                merged[(r["task"], r["run"])] = dict(r, commit=r.get("commit") or commit)
                origin[(r["task"], r["run"])] = i
            sources.append(f"commit {commit}, {meta['date'][:16]}, threads {meta.get('threads')}, 1-min load "
                           f"{meta['load_average_before'][0]:.1f} before, {meta['load_average_after'][0]:.1f} after")
        sources = [f"{', '.join(t + ' ' + r for (t, r), k in sorted(origin.items()) if k == i)}: {line}"
                   for i, line in enumerate(sources) if i in origin.values()]
        run.meta["merged_from"] = args.merge
        rows = in_order(list(merged.values()))
        text = render(rows, args) + "\n\nMerged (--merge); the line above is the merge's. The runs:\n" + \
            "\n".join(f"- {line}" for line in sources)
        run.write(rows, text, out_dir=out_dir)
        print(text)
        return

    if args.jobs < 1:
        raise SystemExit(f"--jobs: expected a positive integer, got {args.jobs}")
    pending = []   # (task, run name, row) in table order
    for task in tasks:
        for name in runs:
            model, vec, kim_row, desc = RUNS[name]
            vectors = {"glove": "glove", "w2v": args.w2v, None: None}[vec]
            note = ", ".join(f"{k}={v}" for k, v in overrides.items())
            row = {"task": task, "run": name, "model": model, "overrides": overrides,
                   "description": desc + (f" [not the defaults: {note}]" if note else ""), "vectors": vectors,
                   "kim": KIM[kim_row][task] if kim_row else None, "accuracy": None, "seconds": None,
                   "protocol": ("selection (10% of fold 0's training part)" if task in CV and args.selection else
                                "10-fold CV mean" if task in CV and folds == 10 else
                                "fold 0 of 10" if task in CV and folds == 1 else
                                f"mean of folds 0-{folds - 1} of 10" if task in CV else
                                "dev (10% of TREC.train)" if task == "trec" else
                                "selection (10% of train.txt trees)" if args.selection else "dev.txt sentences")}
            if vec == "w2v" and not args.w2v:
                row["error"] = "no --w2v vectors given"
            pending.append((task, name, vectors, row))

    mine = []

    def finish(row, res=None, error=None):
        if error is not None:
            row["error"] = error
        elif res is not None:
            row.update(summarize(res))
        row["commit"] = (run.meta["commit"] or "")[:10] or None
        mine.append(row)
        rows = in_order(others(mine) + mine)
        run.write(rows, render(rows, args), out_dir=out_dir)

    def job(task, name, vectors, unit):
        fold, seed = unit
        return (task, RUNS[name][0], vectors, fold, data_dir, args.quick, args.progress, overrides,
                args.selection, args.threads, seed)

    if args.jobs == 1:
        for task, name, vectors, row in pending:
            if row.get("error"):
                finish(row)
                continue
            try:
                finish(row, [fit_fold(*job(task, name, vectors, u)) for u in units(task, folds, seeds)])
            except ImportError as e:   # a network not in this build, or vectors not installed
                finish(row, error=str(e))
    else:
        # each fold in its own process (spawned: no OpenMP state forked), the longest-running tasks
        # (SST's phrases) submitted first so they do not finish last alone
        import concurrent.futures as cf
        import multiprocessing

        todo = [(t, n, v, r) for t, n, v, r in pending if not r.get("error")]
        for t, n, v, r in pending:
            if r.get("error"):
                finish(r)
        with cf.ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            first = sorted(range(len(todo)), key=lambda i: todo[i][0] not in ("sst2", "sst5"))
            futures = {pool.submit(fit_fold, *job(*todo[i][:3], u)): i for i in first
                       for u in units(todo[i][0], folds, seeds)}
            results, errors = [[] for _ in todo], {}
            for fut in cf.as_completed(futures):
                i = futures[fut]
                try:
                    results[i].append(fut.result())
                except ImportError as e:   # as above
                    errors[i] = str(e)
                    results[i].append(None)
                if len(results[i]) == len(units(todo[i][0], folds, seeds)):
                    finish(todo[i][3], results[i], errors.get(i))
    print(render(in_order(mine), args))


if __name__ == "__main__":
    main()
