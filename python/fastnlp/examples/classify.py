"""Sentence classification on a real data set with fastnlp's layers and optimizers: a maxent
(softmax regression) and a one-hidden-layer network over bag-of-n-gram features, compared in the
same run with scikit-learn's LogisticRegression on the very same folds and features (when
scikit-learn is installed; it is not a dependency).

    python -m fastnlp.examples.classify [--data-dir DIR] [--folds 10]
    python -m fastnlp.examples.classify --data DIR/classification/mr   # the MR folder itself

Default data: MR sentence polarity (Pang & Lee 2005) in DIR/classification/mr, DIR the data folder
(--data-dir, else $FASTNLP_DATA, else ../shared/data), 10-fold cross-validation.
"""

import argparse
import json
import os
import time

import numpy as np

from .. import nn, optim
from .._data import add_data_dir_argument, data_dir
from ..classify.bow import BagEmbedding, Featurizer, bag_rows, ngrams
from ..classify.data import folds as fold_of, read_labelled_lines


MR = os.path.join("classification", "mr")  # the MR folder inside the data folder


def load_mr(folder):
    """(token lists, labels 0/1) from rt-polarity.pos / .neg through the library's reader."""
    files = {"negative": os.path.join(folder, "rt-polarity.neg"), "positive": os.path.join(folder, "rt-polarity.pos")}
    data = read_labelled_lines(files)
    return data.sentences, np.array([int(y == "positive") for y in data.labels], np.int64)


def train_eval(model, head, bags_tr, y_tr, bags_te, y_te, epochs, lr, weight_decay, batch, seed):
    """Trains model (+ optional head) with AdaGrad and softmax cross-entropy; returns test accuracy."""
    layers = [model] + ([head] if head is not None else [])
    params = [p for layer in layers for p in layer.parameters()]
    opt = optim.AdaGrad(params, lr=lr, weight_decay=weight_decay)
    loss_fn = nn.SoftmaxCrossEntropy()
    rng = np.random.default_rng(seed)
    n = len(y_tr)

    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            h = model.forward(bag_rows(bags_tr, idx))
            logits = head.forward(h) if head is not None else h
            loss_fn.forward(logits, y_tr[idx])
            g = loss_fn.backward()
            if head is not None:
                g = head.backward(g)
            model.backward(g)
            opt.step()
            opt.zero_grad()
    h = model.forward(bags_te)
    logits = head.forward(h) if head is not None else h
    return float((logits.argmax(1) == y_te).mean())


def sklearn_baseline(bags_tr, y_tr, bags_te, y_te, num_features, C):
    try:
        from scipy.sparse import csr_matrix
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None

    def csr(bag):
        ids, off = bag
        return csr_matrix((np.ones(len(ids), np.float32), ids, off), shape=(len(off) - 1, num_features))

    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(csr(bags_tr), y_tr)
    return float(clf.score(csr(bags_te), y_te))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_dir_argument(ap)
    ap.add_argument("--data", default=None,
                    help=f"folder with rt-polarity.pos/.neg (default DIR/{MR}, DIR the --data-dir folder)")
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--ngrams", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--weight-decay", type=float, default=1e-5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--C", type=float, default=1.0, help="scikit-learn baseline inverse regularization")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="write the results here as JSON")
    args = ap.parse_args(argv)
    if args.data is None:
        try:
            args.data = os.path.join(data_dir(args.data_dir, MR), MR)
        except FileNotFoundError as e:
            ap.error(f"--data-dir: {e}")
    elif not os.path.isdir(args.data):
        ap.error(f"--data: no such folder: {args.data}")

    texts, labels = load_mr(args.data)   # Kim's clean_str tokens, lowercased
    docs = [ngrams(t, args.ngrams) for t in texts]
    folds = fold_of(len(docs), args.folds, args.seed)
    results = {"maxent": [], "mlp": [], "sklearn_logreg": []}
    t0 = time.time()
    for k in range(args.folds):
        tr, te = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
        feat = Featurizer([docs[i] for i in tr])
        bags_tr, bags_te = feat([docs[i] for i in tr]), feat([docs[i] for i in te])
        V = len(feat.vocab)
        seed = args.seed * 1000 + k
        maxent = BagEmbedding(V, 2, seed)
        results["maxent"].append(train_eval(maxent, None, bags_tr, labels[tr], bags_te, labels[te],
                                            args.epochs, args.lr, args.weight_decay, args.batch, seed))
        hidden = nn.Sequential(BagEmbedding(V, args.hidden, seed), nn.Tanh())
        head = nn.Linear(args.hidden, 2, seed=seed)
        results["mlp"].append(train_eval(hidden, head, bags_tr, labels[tr], bags_te, labels[te],
                                         args.epochs, args.lr, args.weight_decay, args.batch, seed))
        base = sklearn_baseline(bags_tr, labels[tr], bags_te, labels[te], V, args.C)
        if base is not None:
            results["sklearn_logreg"].append(base)
        print(f"fold {k + 1}/{args.folds}: maxent {results['maxent'][-1]:.4f}  mlp {results['mlp'][-1]:.4f}"
              + ("" if base is None else f"  sklearn {base:.4f}"), flush=True)
    summary = {name: {"mean_accuracy": float(np.mean(v)), "std": float(np.std(v)), "folds": v}
               for name, v in results.items() if v}
    summary["config"] = vars(args) | {"examples": len(docs), "seconds": time.time() - t0}
    for name in ("maxent", "mlp", "sklearn_logreg"):
        if name in summary:
            print(f"{name:15s} {args.folds}-fold accuracy {summary[name]['mean_accuracy'] * 100:.2f}% "
                  f"(+- {summary[name]['std'] * 100:.2f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
