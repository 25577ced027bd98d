"""Sentence classification on a real data set with fastnlp's layers and optimizers: a maxent
(softmax regression) and a one-hidden-layer network over bag-of-n-gram features, compared in the
same run with scikit-learn's LogisticRegression on the very same folds and features (when
scikit-learn is installed; it is not a dependency).

    python -m fastnlp.examples.classify --data ../shared/data/classification/mr [--folds 10]

Default data: MR sentence polarity (Pang & Lee 2005), 10-fold cross-validation.
"""

import argparse
import json
import os
import re
import time

import numpy as np

from .. import nn, optim

TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def load_mr(folder):
    """(texts, labels) from rt-polarity.pos / .neg (Latin-1)."""
    texts, labels = [], []
    for label, name in ((1, "rt-polarity.pos"), (0, "rt-polarity.neg")):
        path = os.path.join(folder, name)
        if not os.path.exists(path):
            raise FileNotFoundError(f"MR data not found: {path}")
        with open(path, encoding="latin-1") as f:
            for line in f:
                if line.strip():
                    texts.append(line.strip())
                    labels.append(label)
    return texts, np.array(labels, np.int64)


def ngrams(text, n):
    toks = TOKEN.findall(text.lower())
    feats = list(toks)
    for k in range(2, n + 1):
        feats += [" ".join(toks[i:i + k]) for i in range(len(toks) - k + 1)]
    return sorted(set(feats))  # binary features: each n-gram once per sentence


class Featurizer:
    """Maps n-gram lists to a flat id array + offsets (a CSR bag), vocabulary from training data."""

    def __init__(self, docs):
        self.vocab = {}
        for d in docs:
            for f in d:
                self.vocab.setdefault(f, len(self.vocab))

    def __call__(self, docs):
        ids, offsets = [], [0]
        for d in docs:
            ids.extend(self.vocab[f] for f in d if f in self.vocab)
            offsets.append(len(ids))
        return np.array(ids, np.int64), np.array(offsets, np.int64)


class BagEmbedding(nn.Module):
    """Sum of the embedding rows of each bag (a sparse x dense product): (ids, offsets) -> (B, D).
    The gradient is sparse: only the rows of n-grams present in the batch."""

    def __init__(self, num_features, dim, seed):
        self.emb = nn.Embedding(num_features, dim, scale=0.01, seed=seed)
        self.b = nn.Parameter(np.zeros(dim, np.float32), "b")

    def forward(self, bag):
        ids, offsets = bag
        self._lengths = np.diff(offsets)
        rows = self.emb.forward(ids)
        out = np.zeros((len(offsets) - 1, rows.shape[1]), np.float32)
        nonempty = self._lengths > 0
        out[nonempty] = np.add.reduceat(rows, offsets[:-1][nonempty], axis=0)
        return out + self.b.value

    def backward(self, dy):
        self.emb.backward(np.repeat(dy, self._lengths, axis=0))
        self.b.grad = dy.sum(0) if self.b.grad is None else self.b.grad + dy.sum(0)


def train_eval(model, head, bags_tr, y_tr, bags_te, y_te, epochs, lr, weight_decay, batch, seed):
    """Trains model (+ optional head) with AdaGrad and softmax cross-entropy; returns test accuracy."""
    layers = [model] + ([head] if head is not None else [])
    params = [p for layer in layers for p in layer.parameters()]
    opt = optim.AdaGrad(params, lr=lr, weight_decay=weight_decay)
    loss_fn = nn.SoftmaxCrossEntropy()
    rng = np.random.default_rng(seed)
    ids_tr, off_tr = bags_tr
    n = len(y_tr)

    def batch_bag(idx):
        starts, ends = off_tr[idx], off_tr[idx + 1]
        ids = np.concatenate([ids_tr[s:e] for s, e in zip(starts, ends)]) if len(idx) else ids_tr[:0]
        return ids, np.concatenate([[0], np.cumsum(ends - starts)])

    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            idx = order[s:s + batch]
            h = model.forward(batch_bag(idx))
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
    default_data = os.path.join(os.getcwd(), "..", "shared", "data", "classification", "mr")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=default_data, help="folder with rt-polarity.pos/.neg")
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

    texts, labels = load_mr(args.data)
    docs = [ngrams(t, args.ngrams) for t in texts]
    folds = np.random.default_rng(args.seed).permutation(len(docs)) % args.folds
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
