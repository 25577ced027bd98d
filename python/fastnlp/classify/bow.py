"""Bag-of-n-gram features and the two baselines over them: maxent (softmax regression) and a
one-hidden-layer network (Goldberg ch. 4; the NAACL 2013 tutorial's first models). The n-gram bag
of a sentence is a CSR row (ids, offsets); its embedding is a sparse x dense product."""

import numpy as np

from .. import nn


def ngrams(tokens, n):
    """The distinct 1..n-grams of a token list, sorted (binary features: each once per sentence)."""
    feats = list(tokens)
    for k in range(2, n + 1):
        feats += [" ".join(tokens[i:i + k]) for i in range(len(tokens) - k + 1)]
    return sorted(set(feats))


class Featurizer:
    """Maps n-gram lists to a flat id array + offsets (a CSR bag); the feature vocabulary comes
    from the training data (or is given, when a saved model is loaded)."""

    def __init__(self, docs=(), features=None):
        if features is not None:
            self.vocab = {f: i for i, f in enumerate(features)}
        else:
            self.vocab = {}
            for d in docs:
                for f in d:
                    self.vocab.setdefault(f, len(self.vocab))

    @property
    def features(self):
        return list(self.vocab)

    def __call__(self, docs):
        ids, offsets = [], [0]
        for d in docs:
            ids.extend(self.vocab[f] for f in d if f in self.vocab)
            offsets.append(len(ids))
        return np.array(ids, np.int64), np.array(offsets, np.int64)


def bag_rows(bag, index):
    """The sub-bag of rows `index` of bag (ids, offsets)."""
    ids, offsets = bag
    starts, ends = offsets[index], offsets[np.asarray(index) + 1]
    sub = np.concatenate([ids[s:e] for s, e in zip(starts, ends)]) if len(index) else ids[:0]
    return sub, np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)


class BagEmbedding(nn.Module):
    """Sum of the embedding rows of each bag (a sparse x dense product): (ids, offsets) -> (B, D).
    The gradient is sparse: only the rows of n-grams present in the batch."""

    def __init__(self, num_features, dim, seed, scale=0.01):
        self.emb = nn.Embedding(num_features, dim, scale=scale, seed=seed)
        self.b = nn.Parameter(np.zeros(dim, np.float32), "b")

    def forward(self, bag):
        ids, offsets = bag
        self._lengths = np.diff(offsets)
        out = np.zeros((len(offsets) - 1, self.b.value.shape[0]), np.float32)
        if len(ids):   # a batch of sentences with no known n-gram has no rows to gather
            rows = self.emb.forward(ids)
            nonempty = self._lengths > 0
            out[nonempty] = np.add.reduceat(rows, offsets[:-1][nonempty], axis=0)
        return out + self.b.value

    def backward(self, dy):
        if self._lengths.sum():
            self.emb.backward(np.repeat(dy, self._lengths, axis=0))
        self.b.grad = dy.sum(0) if self.b.grad is None else self.b.grad + dy.sum(0)


class BagOfNgrams(nn.Module):
    """maxent (hidden=0): logits = bag W + b; mlp: logits = tanh(bag W1 + b1) W2^T + b2.
    forward(bag, train=False) -> (B, n_classes); backward(dlogits); `output` is the last Linear
    (None for maxent, whose only layer is the sparse embedding)."""

    def __init__(self, n_features, n_classes, hidden=0, seed=0):
        if hidden:
            self.bag = BagEmbedding(n_features, hidden, seed)
            self.act = nn.Tanh()
            self.output = nn.Linear(hidden, n_classes, seed=seed + 1)
        else:
            self.bag = BagEmbedding(n_features, n_classes, seed)
            self.act = self.output = None

    def forward(self, bag, train=False):
        h = self.bag.forward(bag)
        return h if self.output is None else self.output.forward(self.act.forward(h))

    def backward(self, dlogits):
        if self.output is not None:
            dlogits = self.act.backward(self.output.backward(dlogits))
        self.bag.backward(dlogits)


__all__ = ["ngrams", "Featurizer", "BagEmbedding", "BagOfNgrams", "bag_rows"]
