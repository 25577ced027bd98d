"""RNN acceptors (Goldberg ch. 14) on fastnlp's recurrent kernels: word embeddings, an Elman / LSTM /
GRU over each sentence (stacked, optionally bidirectional), the last state or the max / mean of the
states as the sentence vector, dropout, and a softmax output layer."""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import ops
from .._device import is_gpu
from ..nn import GRU, LSTM, RNN, BiRNN
from ..ops import dropout, dropout_backward
from ._base import SentenceNet, check_batch, check_positive_int, check_probability
from .vocab import UNK

CELLS = {"lstm": LSTM, "gru": GRU, "elman": RNN}
POOLINGS = ("last", "max", "mean")


class RNNAcceptor(SentenceNet):
    """RNNAcceptor(vocab_size, n_classes, embed_dim=300, hidden=150, cell='lstm', layers=1,
    bidirectional=False, pooling='last', dropout=0.5, input_dropout=0.0, word_dropout=0.0, pretrained=None,
    static=False, seed=0)

    Ragged batches follow ``lengths``: the recurrence stops at each sentence's end, so 'last' is
    the top layer's state at position lengths-1 (bidirectional: that, concatenated with the backward
    direction's state after reading the sentence back to position 0), and 'max' / 'mean' pool the
    top layer's states over positions < lengths only. The sentence vector (hidden, or 2*hidden when
    bidirectional) goes through dropout (train only) to the output layer; there is no dropout between
    stacked layers. Same forward / backward / parameters contract as TextCNN.

    Inference (``forward(..., train=False)`` on the CPU) projects each distinct word id of the batch
    once: the first layer's input projections ``E[u] W_ih^T`` are one GEMM over the batch's distinct
    ids u (about half its positions on MR), and the recurrence reads them per position
    (fastnlp.ops.rnn_projected) instead of projecting every position's embedding. The logits are
    those of the plain route to rounding; set the attribute ``project_distinct = False`` for the
    plain route.

    Parameters
    ----------
    vocab_size, n_classes : int
        Rows of the embedding (ids from Vocabulary) and number of labels.
    embed_dim : int
        Word vector size (the pretrained vectors' when given).
    hidden : int
        State size per direction.
    cell : {"lstm", "gru", "elman"}
        The recurrence.
    layers : int
        Stacked layers.
    bidirectional : bool
        Also read each sentence backwards.
    pooling : {"last", "max", "mean"}
        The sentence vector from the top layer's states.
    dropout : float
        Dropout before the output layer (train only), in [0, 1).
    input_dropout : float
        Dropout on the embeddings the recurrence reads (train only), in [0, 1).
    word_dropout : float
        Probability of replacing each word by the unknown word (train only), in [0, 1).
    pretrained : numpy.ndarray, optional
        (vocab_size, embed_dim) initial embedding (e.g. ``vocab.embedding_table``).
    static : bool
        Keep the embedding fixed.
    seed : int
        The initialization's and dropout's randomness.
    dtype : dtype
        float32 (default) or float64 (gradient checks).
    """

    def __init__(self, vocab_size: int, n_classes: int, embed_dim: int = 300, hidden: int = 150, cell: str = "lstm",
                 layers: int = 1, bidirectional: bool = False, pooling: str = "last", dropout: float = 0.5,
                 input_dropout: float = 0.0, word_dropout: float = 0.0,
                 pretrained: Optional[np.ndarray] = None, static: bool = False, seed: int = 0,
                 dtype: "np.typing.DTypeLike" = np.float32) -> None:
        if cell not in CELLS:
            raise ValueError(f"RNNAcceptor: cell must be 'lstm', 'gru' or 'elman', got {cell!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"RNNAcceptor: pooling must be 'last', 'max' or 'mean', got {pooling!r}")
        self.hidden = check_positive_int("RNNAcceptor", "hidden", hidden)
        self.layers = check_positive_int("RNNAcceptor", "layers", layers)
        self.cell, self.bidirectional, self.pooling = cell, bool(bidirectional), pooling
        self.input_dropout = check_probability("RNNAcceptor", "input_dropout", input_dropout)
        self.word_dropout = check_probability("RNNAcceptor", "word_dropout", word_dropout)
        self._input_mask = None
        rng = np.random.default_rng(seed)
        self._init_embeddings(vocab_size, embed_dim, pretrained, static, False, rng, dtype)
        if self.bidirectional:
            self.rnn = BiRNN(CELLS[cell], self.embed_dim, self.hidden, self.layers, dtype=dtype, rng=rng)
        else:
            self.rnn = CELLS[cell](self.embed_dim, self.hidden, self.layers, dtype=dtype, rng=rng)
        self._dirs = 2 if self.bidirectional else 1
        self._init_head(self._dirs * self.hidden, n_classes, dropout, seed, rng, dtype)
        self._cache = None
        self.project_distinct = True  # CPU inference projects each distinct id once (class docstring)

    def _recurrent_layers(self):
        if self.bidirectional:
            return [s.layers[0] for s in self.rnn.forward_layers + self.rnn.backward_layers]
        return self.rnn.layers

    def _layers_at(self, k):
        """The recurrent layers of stacked layer k: one, or the forward and the backward direction."""
        if self.bidirectional:
            return [self.rnn.forward_layers[k].layers[0], self.rnn.backward_layers[k].layers[0]]
        return [self.rnn.layers[k]]

    def forward(self, ids: np.ndarray, lengths: np.ndarray, train: bool = False) -> np.ndarray:
        """ids (B, T) int padded with 0, lengths (B) in [1, T] -> logits (B, n_classes); with train,
        dropout is applied and what backward needs is kept. CPU inference goes through
        _encode_projected (the class docstring).

        Parameters
        ----------
        ids : numpy.ndarray
            (B, T) word ids.
        lengths : numpy.ndarray
            (B,) sentence lengths in [1, T].
        train : bool
            A training forward (dropout, a cache for backward).

        Returns
        -------
        numpy.ndarray
            (B, n_classes) logits.

        Raises
        ------
        ValueError
            ids or lengths of the wrong shape, dtype or range.
        """
        if train and self.word_dropout > 0:
            ids, lengths = check_batch(type(self).__name__, ids, lengths)
            # Only the sentences' words: padding stays padding (its row is never read anyway).
            inside = np.arange(ids.shape[1])[None, :] < lengths[:, None]
            drop = inside & (self._drop_rng.random(ids.shape) < self.word_dropout)
            ids = np.where(drop, np.asarray(UNK, ids.dtype), ids)
        if train or not self.project_distinct or is_gpu(self.embedding.W.value):
            return super().forward(ids, lengths, train)
        ids, lengths = check_batch(type(self).__name__, ids, lengths)
        self._trained, self._mask = False, None
        return self.output.forward(self._encode_projected(ids, lengths))

    def _encode_projected(self, ids, lengths):
        # The distinct ids of the batch (padding's 0 among them: every index is then a valid row).
        uniq, inverse = np.unique(ids, return_inverse=True)
        index = np.ascontiguousarray(inverse.reshape(ids.shape), dtype=np.int64)
        emb = self._embed(uniq)  # (U, E)
        inp = None
        last = self.pooling == "last"
        for k in range(self.layers):
            outs, hs = [], []
            for layer in self._layers_at(k):
                b_ih, b_hh = layer._biases()
                if k == 0:
                    rows = ops.linear(emb, layer.W_ih.value)  # (U, G*H): each distinct word once
                    out, h, _ = ops.rnn_projected(self.cell, rows, index, layer.W_hh.value, b_ih, b_hh, lengths,
                                                  reverse=layer.reverse, need_out=not (last and self.layers == 1))
                else:
                    out, h, _, _ = ops.rnn(self.cell, inp, layer.W_ih.value, layer.W_hh.value, b_ih, b_hh, lengths,
                                           reverse=layer.reverse, need_workspace=False)
                outs.append(out)
                hs.append(h)
            if out is not None:  # else one layer pooling its last states: inp stays None
                inp = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=2)
        return self._pool(inp, np.stack(hs), lengths)

    def _encode(self, x, lengths, train):
        self._input_mask = None
        if train and self.input_dropout > 0:
            x, self._input_mask = dropout(x, self.input_dropout, seed=int(self._drop_rng.integers(0, 2**63)))
        for layer in self._recurrent_layers():
            layer.need_workspace = train  # inference keeps no BPTT workspace
        out, h_n = self.rnn.forward(x, lengths)
        if self.cell == "lstm":
            h_n = h_n[0]
        return self._pool(out, h_n, lengths)

    def _pool(self, out, h_n, lengths):
        """The sentence vector from the top layer's states out (B, T, F; None will do for "last"
        pooling, which reads none of them) and last states h_n (whose last `dirs` entries are the top
        layer's); caches what _encode_backward needs."""
        if self.pooling == "last":
            # h_n (dirs*layers, B, H): the top layer's entries are the last `dirs`.
            feat = np.concatenate(list(h_n[-self._dirs:]), axis=1)
            self._cache = (None, h_n.shape, None, lengths)
        elif self.pooling == "mean":
            # out is zero past each sentence's length, so the sum over T is the sum over the sentence.
            feat = out.sum(axis=1) / lengths[:, None].astype(out.dtype)
            self._cache = (out.shape, None, None, lengths)
        else:
            valid = np.arange(out.shape[1])[None, :] < lengths[:, None]
            masked = np.where(valid[:, :, None], out, -np.inf)
            argmax = masked.argmax(axis=1)  # (B, F): the first position of each maximum
            feat = np.take_along_axis(out, argmax[:, None, :], axis=1)[:, 0, :]
            self._cache = (out.shape, None, argmax, lengths)
        return np.ascontiguousarray(feat)

    def _encode_backward(self, dfeat):
        out_shape, hn_shape, argmax, lengths = self._cache
        H = self.hidden
        if self.pooling == "last":
            dh_n = np.zeros(hn_shape, dfeat.dtype)
            for j in range(self._dirs):
                dh_n[hn_shape[0] - self._dirs + j] = dfeat[:, j * H:(j + 1) * H]
            dout = None
        elif self.pooling == "mean":
            valid = (np.arange(out_shape[1])[None, :] < lengths[:, None]).astype(dfeat.dtype)
            dout = valid[:, :, None] * (dfeat / lengths[:, None].astype(dfeat.dtype))[:, None, :]
            dh_n = None
        else:
            dout = np.zeros(out_shape, dfeat.dtype)
            np.put_along_axis(dout, argmax[:, None, :], dfeat[:, None, :], axis=1)
            dh_n = None
        if self.cell == "lstm":
            dx = self.rnn.backward(dout, dh_n, None)
        else:
            dx = self.rnn.backward(dout, dh_n)
        if not self._needs_dx:
            return None
        if self._input_mask is not None:
            dx = dropout_backward(dx, self._input_mask, self.input_dropout, out=dx)
        return dx
