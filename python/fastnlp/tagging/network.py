"""The SENNA window network for training (Collobert et al. 2011, sec. 3.3.1): per-family embeddings of
a window of tokens, concatenated -> Linear -> HardTanh -> Linear -> tag scores, with an explicit backward.
Inference goes through the fused C++ path in tagger.py; this module is the trainable twin of it."""

import numpy as np

from .. import ops
from ..nn.embedding import Embedding
from ..nn.layers import Linear
from ..nn.module import Module, Parameter


def window_ids(ids, offsets, window):
    """Feature ids of each token's window, family-major so each family's block is contiguous:
    (F, N, window), id 0 (PADDING) outside the sentence.
    ids (N, F) int32, offsets (S+1) int64 (ragged sentences, see features.py)."""
    N, F = ids.shape
    half = window // 2
    lengths = np.diff(offsets)
    sentence = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(N) - offsets[:-1][sentence]
    out = np.zeros((F, N, window), dtype=np.int32)
    for j in range(window):
        shift = j - half
        inside = (position + shift >= 0) & (position + shift < lengths[sentence])
        out[:, inside, j] = ids[np.nonzero(inside)[0] + shift].T
    return out


class WindowNetwork(Module):
    """Window approach network. `sizes[f]` rows and `dims[f]` columns for feature family f's table;
    hidden units H (300 in SENNA), K tags. With sll=True it also owns the tag transition scores
    (K, K) [from, to] and initial scores (K) of the sentence-level log-likelihood."""

    def __init__(self, sizes, dims, n_tags, window=5, hidden=300, sll=False, seed=0, dtype=np.float32):
        if window < 1 or window % 2 == 0:
            raise ValueError(f"WindowNetwork: window must be odd and >= 1, got {window}")
        rng = np.random.default_rng(seed)
        self.window = window
        self.embeddings = [Embedding(size, dim, seed=rng, dtype=dtype) for size, dim in zip(sizes, dims)]
        self.hidden = Linear(window * sum(dims), hidden, activation="hardtanh", seed=rng, dtype=dtype)
        self.output = Linear(hidden, n_tags, seed=rng, dtype=dtype)
        self.sll = sll
        if sll:
            self.transitions = Parameter(np.zeros((n_tags, n_tags), dtype), "transitions")
            self.start = Parameter(np.zeros(n_tags, dtype), "start")
        self._win = None

    @property
    def n_tags(self):
        return self.output.W.value.shape[0]

    def forward(self, ids, offsets):
        """Tag scores (N, K) for feature ids (N, F) of ragged sentences `offsets`."""
        win = window_ids(ids, offsets, self.window)
        self._win = win
        parts = [emb.forward(win[f]) for f, emb in enumerate(self.embeddings)]  # (N, w, D_f) each
        x = np.concatenate(parts, axis=2).reshape(len(ids), -1)
        return self.output.forward(self.hidden.forward(x))

    def backward(self, dscores):
        dx = self.hidden.backward(self.output.backward(dscores))
        dx = dx.reshape(self._win.shape[1], self.window, -1)
        start = 0
        for emb in self.embeddings:
            dim = emb.W.value.shape[1]
            emb.backward(np.ascontiguousarray(dx[:, :, start:start + dim]))
            start += dim

    def loss(self, scores, offsets, tags):
        """Summed negative log-likelihood over the batch and its gradient w.r.t. scores; with sll it also
        accumulates the transition and start gradients."""
        if not self.sll:
            mean, dscores = ops.softmax_cross_entropy(scores, tags)
            n = len(tags)
            return mean * n, dscores * n
        nll = ops.crf_nll(scores, offsets, tags, self.transitions.value, self.start.value)
        dscores, dtrans, dstart = ops.crf_nll_backward(scores, offsets, tags, self.transitions.value,
                                                       self.start.value, np.ones_like(nll))
        for p, g in ((self.transitions, dtrans), (self.start, dstart)):
            p.grad = g if p.grad is None else p.grad + g
        return float(nll.sum()), dscores

    def decode(self, scores, offsets):
        """Best tag ids (N,): Viterbi with sll, else the per-token argmax."""
        if self.sll:
            return ops.viterbi_decode(scores, offsets, self.transitions.value, self.start.value)[0]
        return scores.argmax(axis=1).astype(np.int32)
