"""The SENNA window network for training (Collobert et al. 2011, sec. 3.3.1): per-family embeddings of
a window of tokens, concatenated -> Linear -> HardTanh -> Linear -> tag scores, with an explicit backward.
Inference goes through the fused C++ path in tagger.py; this module is the trainable twin of it."""

import numpy as np

from .. import ops
from ..nn.embedding import Embedding
from ..nn.layers import Linear
from ..nn.module import Module, Parameter
from .schemes import transition_constraints


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

    def decode(self, scores, offsets, tagset=None, scheme=None):
        """Best tag ids (N,): Viterbi with sll, else the per-token argmax; with a chunk `scheme` (and the
        `tagset`), Viterbi over the well-formed sequences only, as the Tagger decodes."""
        trans, start = (self.transitions.value, self.start.value) if self.sll else (None, None)
        if scheme is not None:
            trans, start = decode_scores(tagset, scheme, trans, start, scores.dtype)
        if trans is None:
            return scores.argmax(axis=1).astype(np.int32)
        return ops.viterbi_decode(scores, offsets, trans, start)[0]


def decode_scores(tagset, scheme, transitions, start, dtype=np.float32):
    """The transition and start scores Viterbi decodes with: the model's own (zeros for a word-level
    model), with every move that would make an ill-formed `scheme` sequence (e.g. I-PER after O in
    IOB2) set to -inf, so the decoder never outputs one. (None, None) for a word-level model without
    a chunk scheme (POS): its decode is the per-token argmax."""
    if scheme is None:
        return transitions, start
    allowed, start_allowed = (np.asarray(a, dtype=bool) for a in transition_constraints(tagset, scheme))
    if not start_allowed.any():  # no well-formed sequence exists over this tagset: decode unconstrained
        return transitions, start
    K = len(tagset)
    trans = np.zeros((K, K), dtype) if transitions is None else np.array(transitions, dtype)
    first = np.zeros(K, dtype) if start is None else np.array(start, dtype)
    trans[~allowed] = -np.inf
    first[~start_allowed] = -np.inf
    return trans, first

