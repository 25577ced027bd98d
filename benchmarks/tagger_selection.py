"""How the shipped POS model's training corpora were chosen: one window tagger per candidate set of
corpora (fastnlp.tagging.tasks: the WSJ gold sample's training documents, EWT's PTB tags mapped to the
WSJ conventions, CoNLL-2000's Brill-tagged POS column), each early-stopped on the WSJ dev documents.
The set with the best dev accuracy ships (TASKS["pos"]["corpora"] in fastnlp/tagging/train.py); the
held-out documents are scored for every candidate but chose nothing. Also the model shipped before
(trained on CoNLL-2000 + EWT, never on the gold sample) on the same splits. Writes
benchmarks/results/tagger_selection.{json,md}.

    python benchmarks/tagger_selection.py [--data ../shared/data] [--quick]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Run, bench_parser, table  # noqa: E402

CANDIDATES = [("wsj",), ("wsj", "ewt"), ("wsj", "conll2000"), ("wsj", "ewt", "conll2000"),
              ("wsj", "wsj", "wsj", "ewt", "conll2000")]


def main(argv=None):
    import fastnlp
    from fastnlp.tagging.train import TASKS, train_task

    args = bench_parser(__doc__, "2 epochs per candidate", data=True).parse_args(argv)
    run = Run("tagger_selection", args, threads=fastnlp.get_num_threads())
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
    print(run.write(rows, md))


if __name__ == "__main__":
    main()
