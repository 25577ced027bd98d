"""Which linear learning-rate decay should fastnlp's word2vec use by default? A small, repeated
experiment on a slice of the shared corpus (issue 12).

The two candidates, both linear from alpha to min_alpha over a train() call:
  global      word2vec.c's (and gensim's iterable mode's): the rate follows the words read by
              all workers together, reaching min_alpha at the end of the last epoch.
  per_worker  gensim corpus_file's (word2vec_corpusfile.pyx, get_next_alpha): each worker
              measures its own words against the whole corpus, so with W workers an epoch only
              covers 1/W of its span and the next epoch starts where the global one would; with
              2 workers and 5 epochs the run ends at 0.0026, not min_alpha. With 1 worker the two
              are the same schedule.
For CBOW the two front ends also disagreed on alpha (Python 0.025 as gensim, the CLI 0.05 as
word2vec.c), so CBOW runs both rates.

Every arm trains on the same slice with the same settings (dim 100, window 5, negative 5, sample
1e-3, min_count 5, 5 epochs, 2 threads) for seeds 1..N, and is scored on the Google analogies
(3CosAdd, restrict_vocab=30000) and WordSim-353 (Spearman rho). These evaluation sets are the
selection data here: the numbers choose a default, they are not an unbiased estimate of it.

Decision rule, fixed before the runs: per model, a candidate replaces the simpler one (global
decay; for CBOW alpha, gensim's 0.025) only when its mean analogy accuracy over the seeds is
higher by more than two standard errors of the per-seed paired difference (same seed, same
slice); otherwise the simpler one stays. WS-353 is reported, not used to decide.

per_worker runs use Word2Vec(alpha_schedule="per_worker") when the installed fastnlp has that
option, else the equivalent one-train()-call-per-epoch emulation of bench_word2vec.py (the rate of
each epoch from rate(e / E) to rate((e + 1 / W) / E)); the JSON says which.

    python benchmarks/word2vec_schedule.py                 # 60k lines, 4 seeds (~30 CPU-min)
    python benchmarks/word2vec_schedule.py --table-only    # README's table from the results file
    python benchmarks/word2vec_schedule.py --data-dir DIR  # data elsewhere (default $FASTNLP_DATA, else ../shared/data)
"""

import argparse
import datetime
import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_word2vec import (add_word2vec_args, corpus_slice, evaluate, mean_loss, parse_models,  # noqa: E402
                            resolve_data_files, word2vec_settings)
from common import atomic_write, machine_info  # noqa: E402

# (model, schedule, alpha): the arms, in the order they run (CBOW first: it is the cheap one).
ARMS = [("cbow", "global", 0.025), ("cbow", "per_worker", 0.025), ("cbow", "global", 0.05),
        ("cbow", "per_worker", 0.05), ("sg", "global", 0.025), ("sg", "per_worker", 0.025)]


def commit():
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True,
                             check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE,
                               capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def has_schedule_option():
    import fastnlp

    return "alpha_schedule" in inspect.signature(fastnlp.Word2Vec).parameters


def train(corpus, model, schedule, alpha, seed, args):
    import fastnlp

    sg = model == "sg"
    kw = dict(word2vec_settings(args, sg), alpha=alpha, min_alpha=args.min_alpha, seed=seed, progress=False)
    native = has_schedule_option()
    if native:
        kw["alpha_schedule"] = schedule
    m = fastnlp.Word2Vec(**kw)
    m.build_vocab(corpus_file=corpus)
    c0, t0 = time.process_time(), time.perf_counter()
    if schedule == "global" or native:
        m.train()
    else:  # gensim corpus_file's per-worker decay, one train() call per epoch
        E, W = args.epochs, args.threads

        def rate(p):
            return max(args.min_alpha, alpha - (alpha - args.min_alpha) * p)

        for e in range(E):
            m.train(epochs=1, alpha=rate(e / E), min_alpha=rate((e + 1 / W) / E))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ev = evaluate(m.wv, args.analogies, args.similarity)
    h = m.training_history
    return {"model": model, "schedule": schedule, "alpha": alpha, "seed": seed,
            "schedule_impl": "option" if native or schedule == "global" else "emulated",
            "analogy_accuracy": ev["analogy_accuracy"], "analogy_questions": ev["analogy_questions"],
            "wordsim_rho": ev["wordsim_rho"], "final_alpha": h[-1]["alpha"], "loss": mean_loss(h),
            "train_seconds": wall, "cpu_seconds": cpu, "corpus_tokens": m.corpus_stats["tokens"], "vocab": len(m.wv)}


def mean_std(xs):
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else float("nan"))


def summarize(runs):
    """Per arm: mean/std of each score; per candidate: the paired difference to its baseline."""
    arms = {}
    for r in runs:
        arms.setdefault((r["model"], r["schedule"], r["alpha"]), []).append(r)
    summary = []
    for (model, schedule, alpha), rs in arms.items():
        row = {"model": model, "schedule": schedule, "alpha": alpha, "seeds": [r["seed"] for r in rs]}
        for key in ("analogy_accuracy", "wordsim_rho", "loss", "final_alpha", "cpu_seconds"):
            row[key + "_mean"], row[key + "_std"] = mean_std([r[key] for r in rs])
        summary.append(row)
    comparisons = []

    def paired(model, base, cand, what):
        b = {r["seed"]: r for r in arms.get(base, [])}
        c = {r["seed"]: r for r in arms.get(cand, [])}
        seeds = sorted(set(b) & set(c))
        if len(seeds) < 2:
            return
        d = [c[s]["analogy_accuracy"] - b[s]["analogy_accuracy"] for s in seeds]
        dw = [c[s]["wordsim_rho"] - b[s]["wordsim_rho"] for s in seeds]
        mean, std = mean_std(d)
        se = std / math.sqrt(len(d))
        comparisons.append({"model": model, "question": what, "baseline": list(base), "candidate": list(cand),
                            "seeds": seeds, "analogy_diff": d, "analogy_diff_mean": mean, "analogy_diff_se": se,
                            "wordsim_diff_mean": statistics.fmean(dw),
                            "candidate_wins": mean > 2 * se})

    for model in ("sg", "cbow"):
        paired(model, (model, "global", 0.025), (model, "per_worker", 0.025), "per_worker vs global decay, alpha 0.025")
    paired("cbow", ("cbow", "global", 0.05), ("cbow", "per_worker", 0.05), "per_worker vs global decay, alpha 0.05")
    paired("cbow", ("cbow", "global", 0.025), ("cbow", "global", 0.05), "alpha 0.05 vs 0.025, global decay")
    paired("cbow", ("cbow", "per_worker", 0.025), ("cbow", "per_worker", 0.05),
           "alpha 0.05 vs 0.025, per_worker decay")
    return summary, comparisons


def markdown(payload):
    s = payload["settings"]
    lines = [f"{s['max_lines']} lines of en-corpus.txt ({payload['corpus_tokens']:,} tokens), {s['epochs']} epochs, "
             f"{s['threads']} threads, dim {s['dim']}, window {s['window']}, negative {s['negative']}, "
             f"sample {s['sample']}, min_count {s['min_count']}; seeds {', '.join(map(str, s['seeds']))}; "
             f"mean (std) over seeds. Machine: {payload['machine']['cpu']}, {payload['machine']['cores']} cores; "
             f"commit {payload['commit'][:12]}, {payload['date']}.", "",
             "| model | decay | alpha | analogies % | WS-353 rho | final alpha |", "|---|---|---:|---:|---:|---:|"]
    for r in payload["summary"]:
        lines.append(f"| {r['model']} | {r['schedule']} | {r['alpha']} | {100 * r['analogy_accuracy_mean']:.2f} "
                     f"({100 * r['analogy_accuracy_std']:.2f}) | {r['wordsim_rho_mean']:.3f} "
                     f"({r['wordsim_rho_std']:.3f}) | {r['final_alpha_mean']:.4f} |")
    lines += ["", "| model | comparison (candidate vs baseline) | analogy diff, points (2 SE) | WS-353 diff | "
                  "candidate wins |", "|---|---|---:|---:|---|"]
    for c in payload["comparisons"]:
        lines.append(f"| {c['model']} | {c['question']} | {100 * c['analogy_diff_mean']:+.2f} "
                     f"({200 * c['analogy_diff_se']:.2f}) | {c['wordsim_diff_mean']:+.3f} | "
                     f"{'yes' if c['candidate_wins'] else 'no'} |")
    return "\n".join(lines) + "\n"


def write(payload, out_dir, name):
    for ext, text in (("json", json.dumps(payload, indent=1)), ("md", markdown(payload))):
        atomic_write(os.path.join(out_dir, f"{name}.{ext}"), text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_word2vec_args(p, max_lines=60000, models="cbow,sg", threads=2, min_alpha=1e-4)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    p.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    p.add_argument("--name", default="word2vec_schedule")
    p.add_argument("--table-only", action="store_true", help="print the markdown of the existing results file")
    args = p.parse_args(argv)
    if args.table_only:
        with open(os.path.join(args.out_dir, args.name + ".json")) as f:
            print(markdown(json.load(f)), end="")
        return 0

    import fastnlp

    resolve_data_files(p, args)
    models = parse_models(p, args)
    if args.threads < 2:
        p.error("--threads must be >= 2: with one worker the two schedules are the same")
    info = machine_info()
    try:
        import gensim
        info["gensim"] = gensim.__version__
    except ImportError:
        pass
    import numpy

    info["fastnlp"] = fastnlp.__version__
    info["numpy"] = numpy.__version__
    payload = {"commit": commit(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": info, "settings": {k: v for k, v in vars(args).items() if k != "table_only"},
               "corpus_tokens": 0, "runs": [], "summary": [], "comparisons": []}
    payload["settings"]["schedule_option"] = has_schedule_option()
    with corpus_slice(args.corpus, args.max_lines) as corpus:
        for seed in args.seeds:  # seeds outermost: a cut-short run still has every arm paired
            for model, schedule, alpha in ARMS:
                if model not in models:
                    continue
                r = train(corpus, model, schedule, alpha, seed, args)
                payload["runs"].append(r)
                payload["corpus_tokens"] = r["corpus_tokens"]
                payload["summary"], payload["comparisons"] = summarize(payload["runs"])
                payload["machine"]["load_average_end"] = os.getloadavg()
                write(payload, args.out_dir, args.name)
                print(f"seed {seed} {model} {schedule} alpha {alpha}: analogies {100 * r['analogy_accuracy']:.2f}%, "
                      f"WS-353 {r['wordsim_rho']:.3f}, {r['cpu_seconds']:.0f} CPU-s", file=sys.stderr, flush=True)
    print(markdown(payload), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
