"""How the shipped POS model's training corpora were chosen: one window tagger per candidate set of
corpora (fastnlp.tagging.tasks: the WSJ gold sample's training documents, EWT's PTB tags mapped to the
WSJ conventions, CoNLL-2000's Brill-tagged POS column), each early-stopped on the WSJ dev documents.
The set with the best dev accuracy ships (TASKS["pos"]["corpora"] in fastnlp/tagging/train.py); the
held-out documents are scored for every candidate but chose nothing. Also the model shipped before
(trained on CoNLL-2000 + EWT, never on the gold sample) on the same splits. Writes
benchmarks/results/tagger_selection.{json,md}.

    python benchmarks/tagger_selection.py [--data ../shared/data] [--quick]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, RESULTS, Run, table  # noqa: E402

CANDIDATES = [("wsj",), ("wsj", "ewt"), ("wsj", "conll2000"), ("wsj", "ewt", "conll2000"),
              ("wsj", "wsj", "wsj", "ewt", "conll2000")]


def main(argv=None):
    import fastnlp
    from fastnlp.tagging.train import TASKS, train_task

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=DATA)
    p.add_argument("--quick", action="store_true", help="2 epochs per candidate: a smoke run")
    p.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    args = p.parse_args(argv)
    run = Run("tagger_selection", args, threads=fastnlp.get_num_threads(), quick=args.quick)
    rows = []
    for corpora in CANDIDATES:
        tagger, dev = train_task("pos", args.data, seed=0, epochs=2 if args.quick else None, corpora=corpora,
                                 refit=False, log=lambda *a: None)
        h = tagger.header
        rows.append({"corpora": " + ".join(corpora), "dev": dev, "heldout": h["heldout_accuracy"],
                     "epoch": max(h["history"], key=lambda e: e["dev"])["epoch"]})
        print(rows[-1], flush=True)
    best = max(rows, key=lambda r: r["dev"])
    shipped = " + ".join(TASKS["pos"]["corpora"])
    md = (table(rows, [("training corpora", lambda r: f"**{r['corpora']}**" if r is best else r["corpora"]),
                       ("dev accuracy (selects)", lambda r: f"{r['dev']:.2f}%"),
                       ("best epoch", "epoch"),
                       ("held-out accuracy (chose nothing)", lambda r: f"{r['heldout']:.2f}%")])
          + f"\n\nWSJ gold sample split by document (fastnlp.tagging.tasks): dev and held-out 10% each. "
            f"Best by dev: {best['corpora']}; shipped: {shipped} (then retrained on train + dev for the "
            f"chosen number of epochs). `wsj` three times weights the gold sample against the larger corpora.")
    print(run.write(rows, md, out_dir=args.out or RESULTS))


if __name__ == "__main__":
    main()
