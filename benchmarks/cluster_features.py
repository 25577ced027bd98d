"""Do Brown-cluster prefix features help our window taggers? (issue 18; the tutorial's claim that
class-based features add F1: Koo & Collins 2008, Turian et al. 2010). NER (CoNLL-2003) and chunking
(CoNLL-2000) trained with and without the cluster4/6/10/20 families, same settings otherwise, several
seeds; F1 on the dev split (which chose the best epoch) and on the held-out split (never selected on)
of fastnlp.tagging.tasks. Writes benchmarks/results/cluster_features.{json,md}.

    python benchmarks/cluster_features.py [--clusters PATHS] [--epochs 6] [--seeds 0 1 2] [--quick]

The clusters: a Brown paths file (`fastnlp embed brown` / wcluster format), computed here from the
shared corpus (C = 1000, --min-count) when --clusters does not exist yet. The shared corpus is
lower-cased, and the taggers look words up normalized (lower-cased), so every word can find its path.
Training is the task's shipped configuration (GloVe 50d initialization, its families, SLL) with
`--epochs` epochs and early stopping on dev, without the refit on train + dev (`--no-refit`): a
shorter schedule than the shipped models', the same for both arms.
"""

import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Run, bench_parser, table  # noqa: E402


def mean_std(values):
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def main(argv=None):
    import fastnlp
    from fastnlp.embeddings.brown import BrownClusters, brown_clusters
    from fastnlp.tagging.train import train_task

    p = bench_parser(__doc__, "1 seed, 1 epoch, chunking only, C = 100 clusters", data=True)
    p.add_argument("--clusters", default=None,
                   help="Brown paths file; computed from the shared corpus and written here when missing "
                        "(default: fastnlp_brown_en_cC.txt in the temporary folder)")
    p.add_argument("--num-clusters", type=int, default=1000)
    p.add_argument("--min-count", type=int, default=40, help="for computing the clusters (see README)")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--tasks", nargs="+", default=["ner", "chunk"], choices=["ner", "chunk"])
    p.add_argument("--arms", nargs="+", default=["baseline", "clusters"], choices=["baseline", "clusters"],
                   help="run only these configurations (the table needs both; runs are cached)")
    p.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "fastnlp_cluster_features_runs.json"),
                   help="finished runs (task, arm, seed, epochs) are kept here and not trained again")
    args = p.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.tasks = args.seeds[:1], 1, ["chunk"]
        args.num_clusters = min(args.num_clusters, 100)
    if args.clusters is None:
        args.clusters = os.path.join(tempfile.gettempdir(), f"fastnlp_brown_en_c{args.num_clusters}.txt")
    run = Run("cluster_features", args, threads=fastnlp.get_num_threads())

    cache = {}
    if os.path.exists(args.cache):
        with open(args.cache) as f:
            cache = json.load(f)
    if "clusters" in args.arms and not os.path.exists(args.clusters):
        corpus = os.path.join(args.data, "corpus", "en-corpus.txt")
        t0 = time.perf_counter()
        brown = brown_clusters(corpus, num_clusters=args.num_clusters, min_count=args.min_count)
        print(f"clusters: {len(brown)} words, {brown.num_clusters} clusters in {time.perf_counter() - t0:.0f} s",
              flush=True)
        brown.save(args.clusters)
    brown = BrownClusters.load(args.clusters) if os.path.exists(args.clusters) else None

    rows = []
    for task in args.tasks:
        for arm in args.arms:
            runs = []
            for seed in args.seeds:
                key = (f"{task}/{arm}/seed{seed}/epochs{args.epochs}" + ("/quick" if args.quick else "")
                       + (f"/{os.path.basename(args.clusters)}" if arm == "clusters" else ""))
                if key not in cache:
                    t0 = time.perf_counter()
                    tagger, best = train_task(task, args.data, seed=seed, epochs=args.epochs, refit=False,
                                              clusters=brown if arm == "clusters" else None, log=lambda *a: None)
                    cache[key] = {"dev_f1": best, "heldout_f1": tagger.header["heldout_f1"],
                                  "seconds": time.perf_counter() - t0, "families": list(tagger.families),
                                  "dev_set": tagger.header["dev_set"], "heldout_set": tagger.header["heldout_set"],
                                  "clusters": tagger.header.get("clusters")}
                    with open(args.cache + ".tmp", "w") as f:
                        json.dump(cache, f)
                    os.replace(args.cache + ".tmp", args.cache)
                r = cache[key]
                runs.append(r)
                print(f"{task} {arm} seed {seed}: dev F1 {r['dev_f1']:.2f}, held-out F1 {r['heldout_f1']:.2f} "
                      f"({r['seconds']:.0f} s)", flush=True)
            dev, held = [r["dev_f1"] for r in runs], [r["heldout_f1"] for r in runs]
            (dm, ds), (hm, hs) = mean_std(dev), mean_std(held)
            rows.append({"task": task, "features": arm, "families": runs[0]["families"], "seeds": args.seeds,
                         "dev_f1": dev, "heldout_f1": held, "dev_mean": dm, "dev_std": ds, "heldout_mean": hm,
                         "heldout_std": hs, "seconds": [r["seconds"] for r in runs], "dev_set": runs[0]["dev_set"],
                         "heldout_set": runs[0]["heldout_set"],
                         "dev_shown": f"{dm:.2f} ± {ds:.2f}", "heldout_shown": f"{hm:.2f} ± {hs:.2f}"})
    if set(args.arms) != {"baseline", "clusters"}:
        print("only some configurations were run: their runs are cached, no table written")
        return
    for r in rows:
        base = next(b for b in rows if b["task"] == r["task"] and b["features"] == "baseline")
        r["heldout_gain"] = r["heldout_mean"] - base["heldout_mean"]
        r["gain_shown"] = "-" if r is base else f"{r['heldout_gain']:+.2f}"
    md = (table(rows, [("task", "task"), ("features", "features"), ("dev F1 (selected on)", "dev_shown"),
                       ("held-out F1", "heldout_shown"), ("held-out gain", "gain_shown")])
          + f"\n\nMean ± standard deviation over seeds {args.seeds}; {args.epochs} epochs with early stopping on "
            "dev, no refit; the shipped configuration otherwise (GloVe 50d). `clusters` adds cluster4, "
            f"cluster6, cluster10 and cluster20 (10-d each) from Brown clusters of the shared corpus "
            f"({len(brown)} words, {brown.num_clusters} clusters). Dev/held-out: "
            + "; ".join(f"{r['task']}: {r['dev_set']} / {r['heldout_set']}" for r in rows if r["features"] == "baseline")
            + ". The training runs may come from the run cache (--cache): the load average above is the "
              "table's, not the runs'; their seconds are in the JSON.")
    print(run.write(rows, md, clusters={"path": args.clusters, "words": len(brown),
                                        "clusters": brown.num_clusters}))


if __name__ == "__main__":
    main()
