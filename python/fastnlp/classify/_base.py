"""What TextCNN and RNNAcceptor share: checking (ids, lengths) batches, the word embeddings (random
or pretrained, static or fine-tuned), dropout before the output layer with its own seeded stream,
and Kim's max-norm constraint on the output layer."""

import numbers

import numpy as np

from ..nn import Embedding, Linear, Module
from ..ops import dropout, dropout_backward


def check_positive_int(cls, name, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{cls}: {name} must be a positive integer, got {v!r}")
    return int(v)


def check_probability(cls, name, p):
    """A dropout rate: a real number in [0, 1) (1 would drop everything)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p < 1:
        raise ValueError(f"{cls}: {name} must be a probability in [0, 1), got {p!r}")
    return float(p)


def check_batch(cls, ids, lengths):
    """ids (B, T) integer, lengths (B) integer in [1, T] -> (ids cut to max(lengths) columns,
    C-contiguous int32 or int64, lengths int64). Cutting the padding past the longest sentence makes
    the logits independent of how far a batch is padded and saves the work on it."""
    if not isinstance(ids, np.ndarray) or ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(f"{cls}: ids must be a 2-D integer array (B, T), got "
                         f"{getattr(ids, 'shape', type(ids).__name__)} {getattr(ids, 'dtype', '')}".rstrip())
    B, T = ids.shape
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu" or lengths.shape[0] != B:
        raise ValueError(f"{cls}: lengths must be a 1-D integer array of B={B} entries, got shape "
                         f"{lengths.shape} dtype {lengths.dtype}")
    if B == 0:
        raise ValueError(f"{cls}: ids must hold at least one sentence, got shape {ids.shape}")
    lengths = lengths.astype(np.int64)
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo < 1 or hi > T:
        raise ValueError(f"{cls}: lengths must lie in [1, T={T}], got min {lo} max {hi}")
    if ids.dtype not in (np.int32, np.int64):
        ids = ids.astype(np.int64)
    return np.ascontiguousarray(ids[:, :hi]), lengths


class SentenceNet(Module):
    """Base of the sentence classifiers: subclasses build self.encoder pieces and implement
    _encode(x, lengths, train) -> features (B, F) and _encode_backward(dfeat) -> d embeddings."""

    def _init_embeddings(self, vocab_size, embed_dim, pretrained, static, multichannel, rng, dtype):
        cls = type(self).__name__
        self.vocab_size = check_positive_int(cls, "vocab_size", vocab_size)
        self.embed_dim = check_positive_int(cls, "embed_dim", embed_dim)
        if pretrained is not None:
            pretrained = np.asarray(pretrained)
            if pretrained.shape != (self.vocab_size, self.embed_dim) or pretrained.dtype.kind != "f":
                raise ValueError(f"{cls}: pretrained must be a float array of shape (vocab_size, embed_dim) = "
                                 f"{(self.vocab_size, self.embed_dim)}, got {pretrained.shape} {pretrained.dtype}")
        elif static or multichannel:
            raise ValueError(f"{cls}: static=True and multichannel=True need pretrained vectors")
        self.static, self.multichannel = bool(static), bool(multichannel)
        if self.static and self.multichannel:
            raise ValueError(f"{cls}: multichannel already holds a static channel; give static=False with it")
        # Kim (2014) draws vectors for words without a pretrained one uniform in +-0.25.
        self.embedding = Embedding(self.vocab_size, self.embed_dim, sparse=True, scale=0.25, seed=rng, dtype=dtype)
        if pretrained is not None:
            self.embedding.W.value[...] = pretrained
        # Multichannel: a second, frozen copy of the pretrained vectors. A static embedding's Parameter
        # never gets a gradient (optimizers skip it) but is listed, so saving the parameters keeps it.
        self.static_embedding = None
        if self.multichannel:
            self.static_embedding = Embedding(self.vocab_size, self.embed_dim, sparse=True, seed=rng, dtype=dtype)
            self.static_embedding.W.value[...] = pretrained

    def _init_head(self, n_features, n_classes, dropout_p, seed, rng, dtype):
        cls = type(self).__name__
        self.n_classes = check_positive_int(cls, "n_classes", n_classes)
        self.dropout = check_probability(cls, "dropout", dropout_p)
        self.output = Linear(n_features, self.n_classes, seed=rng, dtype=dtype)
        # Dropout masks come from their own stream, so a seed fixes both the initialization and the masks.
        self._drop_rng = np.random.default_rng([int(seed), 1])
        self._mask = None

    def _embed(self, ids):
        x = self.embedding.forward(ids)
        if self.multichannel:
            # Kim's two channels: every filter sees both, with its own weights per channel, and the
            # products add up -- the same as one filter over the concatenated vectors (B, T, 2E).
            x = np.concatenate([self.static_embedding.forward(ids), x], axis=2)
        return x

    def _embed_backward(self, dx):
        if self.static or dx is None:
            return
        if self.multichannel:
            dx = np.ascontiguousarray(dx[:, :, self.embed_dim:])
        self.embedding.backward(dx)

    @property
    def _needs_dx(self):
        return not self.static

    def forward(self, ids, lengths, train=False):
        """ids (B, T) int padded with 0, lengths (B) in [1, T] -> logits (B, n_classes). With train,
        dropout is applied and what backward needs is kept (inference skips keeping it)."""
        ids, lengths = check_batch(type(self).__name__, ids, lengths)
        self._trained = bool(train)
        feat = self._encode(self._embed(ids), lengths, self._trained)
        self._mask = None
        if train and self.dropout > 0:
            feat, self._mask = dropout(feat, self.dropout, seed=int(self._drop_rng.integers(0, 2**63)))
        return self.output.forward(feat)

    def backward(self, dlogits):
        """Accumulates the gradients of all trainable parameters from d loss / d logits (B, n_classes),
        for the last forward, which must have been a train=True one."""
        if not getattr(self, "_trained", False):
            raise RuntimeError(f"{type(self).__name__}.backward: call forward(ids, lengths, train=True) first")
        dlogits = np.ascontiguousarray(dlogits, dtype=self.output.W.value.dtype)
        dfeat = self.output.backward(dlogits)
        if self._mask is not None:
            dfeat = dropout_backward(dfeat, self._mask, self.dropout, out=dfeat)
        self._embed_backward(self._encode_backward(dfeat))

    def apply_max_norm(self, s):
        """Kim's constraint: rescales each class's weight vector of the output layer to l2 norm <= s."""
        s = float(s)
        if not s > 0:
            raise ValueError(f"{type(self).__name__}.apply_max_norm: s must be positive, got {s!r}")
        W = self.output.W.value
        norms = np.sqrt(np.einsum("ij,ij->i", W, W))
        over = norms > s
        if over.any():
            W[over] *= (s / norms[over])[:, None].astype(W.dtype)
