"""The README's end-to-end example, measured: `python -m fastnlp.examples.classify` on MR sentence
polarity (Pang & Lee 2005), 10-fold cross-validation of fastnlp's maxent and one-hidden-layer
network against scikit-learn's LogisticRegression on the same folds and features (when scikit-learn
is installed). Hyperparameters are the example's defaults. Writes
benchmarks/results/bench_classify.{json,md}.

    python benchmarks/bench_classify.py [--data ../shared/data] [--quick]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Run, bench_parser, table  # noqa: E402

LABELS = {"maxent": "fastnlp maxent (softmax regression)",
          "mlp": "fastnlp one-hidden-layer network (tanh units)",
          "sklearn_logreg": "scikit-learn LogisticRegression, same folds and features"}


def main(argv=None):
    import fastnlp
    from fastnlp.examples import classify

    args = bench_parser(__doc__, "2 folds, 1 epoch", data=True).parse_args(argv)
    run = Run("bench_classify", args, threads=fastnlp.get_num_threads())
    argv_c = ["--data", os.path.join(args.data, "classification", "mr")]
    if args.quick:
        argv_c += ["--folds", "2", "--epochs", "1"]
    summary = classify.main(argv_c)
    cfg = summary["config"]
    rows = [{"model": LABELS[k], "key": k, "mean_accuracy": summary[k]["mean_accuracy"], "std": summary[k]["std"],
             "folds": summary[k]["folds"]} for k in LABELS if k in summary]
    best = max(rows, key=lambda r: r["mean_accuracy"])
    md = (table(rows, [("model", "model"),
                       (f"{cfg['folds']}-fold accuracy (mean ± std)",
                        lambda r: ("**" if r is best else "") + f"{100 * r['mean_accuracy']:.2f}% ± "
                        f"{100 * r['std']:.2f}" + ("**" if r is best else ""))])
          + f"\n\n{cfg['examples']:,} sentences, unigram + bigram binary features; {cfg['epochs']} epochs, lr "
            f"{cfg['lr']}, L2 {cfg['weight_decay']}, batch {cfg['batch']}, {cfg['hidden']} hidden units "
            + ("(quick smoke settings, not the example's defaults)" if args.quick else
               "(the example's defaults, fixed before the run, not tuned on the folds)")
          + f"; logistic regression C={cfg['C']}. {cfg['seconds']:.0f} s for all folds of all models.")
    if "sklearn_logreg" not in summary:
        md += " scikit-learn is not installed: no baseline row (pip install scikit-learn)."
    print(run.write(rows, md, config=cfg))


if __name__ == "__main__":
    main()
