"""The BiLSTM-CNN-CRF tagger network (Ma & Hovy 2016; Lample et al. 2016; Goldberg ch. 14, the biRNN
transducer), on fastnlp's kernels with explicit forward / backward (no autograd).

Per token: a character CNN (char embeddings, a wide conv1d of width 3, max-pooled over the word's
characters, so it sees the token's case and shape) concatenated with the word embedding (looked up
lower-cased, digits as 0, as the window taggers do) -> dropout -> a bidirectional LSTM over the
sentence -> dropout -> a linear layer to tag scores -> a linear-chain CRF (ops.crf_*): the sentence
log-likelihood in training, Viterbi at decode time (with the scheme's ill-formed moves forbidden).

A batch is ragged: ``Batch`` packs the N tokens of S sentences in order, sentence s being rows
offsets[s]:offsets[s+1]. The LSTM runs on a padded (S, T, D) copy with ``lengths``, so a sentence's
result does not depend on its batch-mates.
"""

from __future__ import annotations

from typing import List, NamedTuple, Optional, Sequence, Union

import numpy as np

from .. import ops
from ..nn import LSTM, BiRNN, Conv1d, Dropout, Embedding, Linear
from ..nn.module import Module, Parameter
from .features import normalize_word

PAD, UNK = 0, 1          # ids of padding and unknown words / characters; known entries start at 2
FIRST_ENTRY = 2
MAX_WORD_CHARS = 40      # characters of a token the CNN reads (the first ones); keeps a URL's row small
MAX_REMEMBERED = 1 << 20  # raw tokens whose word id a Vocab remembers


class Batch(NamedTuple):
    """Encoded sentences. words (N,) int32; chars (N, C) int32 (PAD past each token's end); char_lengths
    (N,) int64 (>= 1); offsets (S+1,) int64."""
    words: np.ndarray
    chars: np.ndarray
    char_lengths: np.ndarray
    offsets: np.ndarray


class Vocab:
    """The word and character lexicons of a BiLSTM tagger: id 0 padding, 1 unknown, then the entries.

    Parameters
    ----------
    words : sequence of str
        Normalized words (``features.normalize_word``), distinct, in id order from 2.
    chars : sequence of str
        Single characters, distinct, in id order from 2.

    Raises
    ------
    ValueError
        Repeated words, or chars that are not distinct single characters.
    """

    def __init__(self, words: Sequence[str], chars: Sequence[str]) -> None:
        self.words, self.chars = list(words), list(chars)
        self.word_index = {w: i + FIRST_ENTRY for i, w in enumerate(self.words)}
        self._token_ids = {}
        if len(self.word_index) != len(self.words):
            raise ValueError("Vocab: words must be distinct")
        if any(not isinstance(c, str) or len(c) != 1 for c in self.chars) or len(set(self.chars)) != len(self.chars):
            raise ValueError("Vocab: chars must be distinct single characters")
        codes = np.array([ord(c) for c in self.chars], np.uint32)
        order = np.argsort(codes, kind="stable")
        self._codes = codes[order]                                   # sorted code points
        self._code_ids = (order + FIRST_ENTRY).astype(np.int32)      # their ids

    def _token_id(self, token):
        i = self.word_index.get(normalize_word(token), UNK)
        if len(self._token_ids) < MAX_REMEMBERED:
            self._token_ids[token] = i
        return i

    @property
    def num_words(self) -> int:
        return FIRST_ENTRY + len(self.words)

    @property
    def num_chars(self) -> int:
        return FIRST_ENTRY + len(self.chars)

    def encode(self, sentences: Sequence[Sequence[str]]) -> Batch:
        """Encodes a list of token lists.

        Parameters
        ----------
        sentences : list of list of str
            Tokens (empty sentences are fine).

        Returns
        -------
        Batch

        Raises
        ------
        TypeError
            When `sentences` is not a list of lists of str (naming the first bad item).
        """
        if isinstance(sentences, (str, bytes)) or not hasattr(sentences, "__iter__"):
            raise TypeError(f"sentences must be a list of token lists, got {type(sentences).__name__}")
        sizes = []
        flat: List[str] = []
        for s, tokens in enumerate(sentences):
            if isinstance(tokens, (str, bytes)) or not hasattr(tokens, "__len__"):
                raise TypeError(f"sentences[{s}] must be a list of str tokens, got {type(tokens).__name__}")
            sizes.append(len(tokens))
            flat.extend(tokens)
        for i, t in enumerate(flat):
            if not isinstance(t, str):
                s = int(np.searchsorted(np.cumsum(sizes), i, side="right"))
                raise TypeError(f"sentences[{s}] holds a {type(t).__name__}, expected str tokens")
        offsets = np.zeros(len(sizes) + 1, np.int64)
        np.cumsum(sizes, out=offsets[1:])
        N = len(flat)
        # Raw token -> id, remembered (the normalization is most of the encoding's time); ids are >= 1,
        # so `or` falls through only on a token not seen yet.
        seen, miss = self._token_ids.get, self._token_id
        words = np.fromiter((seen(t) or miss(t) for t in flat), np.int32, N)
        lens = np.fromiter(map(len, flat), np.int64, N)
        C = int(min(max(lens.max(initial=1), 1), MAX_WORD_CHARS))
        chars = np.zeros((N, C), np.int32)
        if N:
            # One code point per character (a lone surrogate too: it is just an unknown character).
            codes = np.frombuffer("".join(flat).encode("utf-32-le", "surrogatepass"), np.uint32)
            at = np.minimum(np.searchsorted(self._codes, codes), max(len(self._codes) - 1, 0))
            known = self._codes[at] == codes if len(self._codes) else np.zeros(len(codes), bool)
            ids = np.where(known, self._code_ids[at] if len(self._codes) else 0, UNK).astype(np.int32)
            row = np.repeat(np.arange(N), lens)
            col = np.arange(len(codes)) - np.repeat(np.cumsum(lens) - lens, lens)
            keep = col < C
            chars[row[keep], col[keep]] = ids[keep]
        # An empty token reads one PAD character, so every token has a CNN feature.
        return Batch(words, chars, np.clip(lens, 1, C), offsets)


def padding_index(offsets: np.ndarray):
    """(S, T, index, lengths) of the padded layout the LSTM reads: the S non-empty sentences (the LSTM
    takes no zero-length sequence) as rows of T = the longest length; index (N,) is each token's row
    in the (S*T) flattening, lengths (S,) the non-empty sentences' lengths."""
    sizes = np.diff(offsets)
    lengths = sizes[sizes > 0]
    S = len(lengths)
    T = int(lengths.max(initial=0))
    row = np.cumsum(sizes > 0) - 1                     # each sentence's row among the non-empty ones
    index = (np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], sizes)
             + np.repeat(row.astype(np.int64) * T, sizes))
    return S, T, index, lengths


def length_batches(batch: Batch, max_tokens: int):
    """Splits an encoded batch into sub-batches of sentences of similar length (sorted by length, about
    max_tokens tokens each, at least one sentence), so little of the LSTM's padded input is padding.

    Parameters
    ----------
    batch : Batch
    max_tokens : int

    Yields
    ------
    rows : numpy.ndarray
        (n,) int64: the sub-batch's tokens' rows in `batch`.
    sub : Batch
        The sub-batch.
    """
    sizes = np.diff(batch.offsets)
    order = np.argsort(sizes, kind="stable")
    start = 0
    while start < len(order):
        stop, tokens = start, 0
        while stop < len(order) and (stop == start or tokens + sizes[order[stop]] <= max_tokens):
            tokens += sizes[order[stop]]
            stop += 1
        chosen = order[start:stop]
        rows = np.concatenate([np.arange(batch.offsets[s], batch.offsets[s + 1]) for s in chosen])
        lengths = batch.char_lengths[rows]
        C = int(lengths.max(initial=1))   # the sub-batch's longest token, not the whole batch's
        yield rows, Batch(batch.words[rows], np.ascontiguousarray(batch.chars[rows, :C]), lengths,
                          np.concatenate([[0], np.cumsum(sizes[chosen])]).astype(np.int64))
        start = stop


class BiLSTMCRF(Module):
    """The network: char CNN + word embedding -> dropout -> BiLSTM -> dropout -> linear -> CRF.

    Parameters
    ----------
    num_words, num_chars, num_tags : int
        Sizes of the word and character tables (with PAD and UNK) and of the tagset.
    word_dim, char_dim, char_filters, char_width : int
        Word and character embedding sizes, CNN filters and their width.
    hidden : int
        LSTM state size per direction.
    dropout : float
        Drop probability of the two dropout layers (and of the char embeddings), in [0, 1).
    seed : int
        Initialization and dropout randomness.
    dtype : dtype
        float32 (default) or float64 (gradient checks).

    Raises
    ------
    ValueError
        Sizes that are not positive integers, a dropout outside [0, 1).
    """

    def __init__(self, num_words: int, num_chars: int, num_tags: int, word_dim: int = 50, char_dim: int = 30,
                 char_filters: int = 30, char_width: int = 3, hidden: int = 100, dropout: float = 0.5,
                 seed: int = 0, dtype: "np.typing.DTypeLike" = np.float32) -> None:
        for name, v in (("num_words", num_words), ("num_chars", num_chars), ("num_tags", num_tags),
                        ("word_dim", word_dim), ("char_dim", char_dim), ("char_filters", char_filters),
                        ("char_width", char_width), ("hidden", hidden)):
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"BiLSTMCRF: {name} must be a positive integer, got {v!r}")
        rng = np.random.default_rng(seed)
        self.sizes = dict(num_words=int(num_words), num_chars=int(num_chars), num_tags=int(num_tags),
                          word_dim=int(word_dim), char_dim=int(char_dim), char_filters=int(char_filters),
                          char_width=int(char_width), hidden=int(hidden))
        self.dtype = np.dtype(dtype)
        # Ma & Hovy's initialization: embeddings U(-sqrt(3/dim), sqrt(3/dim)).
        self.words = Embedding(num_words, word_dim, sparse=True, scale=np.sqrt(3.0 / word_dim), seed=rng, dtype=dtype)
        self.chars = Embedding(num_chars, char_dim, sparse=False, scale=np.sqrt(3.0 / char_dim), seed=rng,
                               dtype=dtype)
        self.conv = Conv1d(char_dim, char_filters, char_width, mode="wide", pool="max", dtype=dtype, rng=rng)
        self.rnn = BiRNN(LSTM, word_dim + char_filters, hidden, 1, dtype=dtype, rng=rng)
        self.output = Linear(2 * hidden, num_tags, seed=rng, dtype=dtype)
        self.transitions = Parameter(np.zeros((num_tags, num_tags), dtype), "transitions")
        self.start = Parameter(np.zeros(num_tags, dtype), "start")
        self.char_dropout = Dropout(dropout, seed=rng)
        self.in_dropout = Dropout(dropout, seed=rng)
        self.out_dropout = Dropout(dropout, seed=rng)
        self._cache = None

    def reseed_dropout(self, seed: Union[int, np.random.Generator]) -> None:
        """Restarts the dropout masks' sequence from `seed` (a gradient check repeats one forward's masks)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        for d in (self.char_dropout, self.in_dropout, self.out_dropout):
            d._seeds = rng

    def _lstm_layers(self):
        return [self.rnn.forward_layers[0].layers[0], self.rnn.backward_layers[0].layers[0]]

    def scores(self, batch: Batch, train: bool = False) -> np.ndarray:
        """Tag scores (N, K) of the batch's tokens (dropout only when `train`); caches what backward needs."""
        words, chars, char_lengths, offsets = batch
        N = len(words)
        if chars.shape[0] != N or char_lengths.shape != (N,) or offsets[-1] != N:
            raise ValueError(f"BiLSTMCRF: batch sizes disagree: words {words.shape}, chars {chars.shape}, "
                             f"char_lengths {char_lengths.shape}, offsets[-1] {offsets[-1]}")
        if N == 0:  # no tokens (only empty sentences): nothing to run, nothing to backpropagate
            self._cache = (0, 0, 0, None, 0, train)
            return np.zeros((0, self.sizes["num_tags"]), self.dtype)
        ce = self.chars.forward(chars)                                           # (N, C, char_dim)
        ce = self.char_dropout.forward(ce, train)
        cf = self.conv.forward(np.ascontiguousarray(ce), char_lengths)           # (N, char_filters)
        we = self.words.forward(words)                                           # (N, word_dim)
        x = self.in_dropout.forward(np.concatenate([we, cf], axis=1), train)     # (N, D)
        S, T, index, lengths = padding_index(offsets)
        D = x.shape[1]
        xp = np.zeros((S * T, D), self.dtype)
        xp[index] = x
        for layer in self._lstm_layers():
            layer.need_workspace = train
        out, _ = self.rnn.forward(xp.reshape(S, T, D), lengths)                  # (S, T, 2H)
        h = out.reshape(S * T, -1)[index]
        h = self.out_dropout.forward(h, train)
        scores = self.output.forward(np.ascontiguousarray(h))
        self._cache = (N, S, T, index, we.shape[1], train)
        return scores

    def loss(self, batch: Batch, tags: np.ndarray, train: bool = True, scale: float = 1.0,
             backward: Optional[bool] = None):
        """The summed CRF negative log-likelihood of the batch's gold `tags` (N,) int32 (dropout when
        `train`); with `backward` (default: `train`), adds `scale` times its gradient into the parameters' grads.

        Returns
        -------
        float
            Sum over sentences of the nll.
        """
        tags = np.ascontiguousarray(tags, np.int32)
        if tags.shape != (len(batch.words),):
            raise ValueError(f"BiLSTMCRF.loss: tags must have shape (N,) = ({len(batch.words)},), got {tags.shape}")
        K = self.sizes["num_tags"]
        if len(tags) and (tags.min() < 0 or tags.max() >= K):
            raise ValueError(f"BiLSTMCRF.loss: tags must be in [0, {K}), got values in [{tags.min()}, {tags.max()}]")
        scores = self.scores(batch, train)
        nll = ops.crf_nll(scores, batch.offsets, tags, self.transitions.value, self.start.value)
        if train if backward is None else backward:
            grad = np.full(len(nll), scale, self.dtype)
            dscores, dtrans, dstart = ops.crf_nll_backward(scores, batch.offsets, tags, self.transitions.value,
                                                           self.start.value, grad)
            for p, g in ((self.transitions, dtrans), (self.start, dstart)):
                if p.grad is None:
                    p.grad = g
                else:
                    p.grad += g
            self.backward(dscores)
        return float(nll.sum())

    def backward(self, dscores: np.ndarray) -> None:
        """Backpropagates dscores (N, K) through the network (after a train forward), adding into the grads."""
        if self._cache is None or not self._cache[5]:
            raise RuntimeError("BiLSTMCRF.backward: call scores(batch, train=True) first")
        N, S, T, index, word_dim, _ = self._cache
        if N == 0:
            return
        dh = self.output.backward(np.ascontiguousarray(dscores, self.dtype))
        dh = self.out_dropout.backward(dh)
        dout = np.zeros((S * T, dh.shape[1]), self.dtype)
        dout[index] = dh
        dxp = self.rnn.backward(dout.reshape(S, T, -1))
        dx = self.in_dropout.backward(np.ascontiguousarray(dxp.reshape(S * T, -1)[index]))
        self.words.backward(np.ascontiguousarray(dx[:, :word_dim]))
        dce = self.conv.backward(np.ascontiguousarray(dx[:, word_dim:]))
        self.chars.backward(self.char_dropout.backward(dce))

    def decode(self, batch: Batch, transitions: Optional[np.ndarray] = None,
               start: Optional[np.ndarray] = None) -> np.ndarray:
        """Best tag ids (N,) int32 by Viterbi, with the given decode scores (default: the model's own).

        Parameters
        ----------
        batch : Batch
        transitions, start : numpy.ndarray, optional
            (K, K) and (K,) scores to decode with (e.g. with the scheme's ill-formed moves at -inf).

        Returns
        -------
        numpy.ndarray
        """
        scores = self.scores(batch, train=False)
        trans = self.transitions.value if transitions is None else transitions.astype(self.dtype, copy=False)
        first = self.start.value if start is None else start.astype(self.dtype, copy=False)
        tags, _ = ops.viterbi_decode(scores, batch.offsets, trans, first)
        return tags

    def dense_parameters(self) -> List[Parameter]:
        """Every parameter but the word table (updated sparsely)."""
        return [p for p in self.parameters() if p is not self.words.W]
