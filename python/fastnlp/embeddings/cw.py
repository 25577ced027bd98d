"""Collobert & Weston (2008) ranking embeddings: a window network (embeddings -> linear ->
hardtanh -> linear score) trained so that a real window scores at least 1 above the same window
with its centre word replaced by a random word (hinge loss), with fastnlp's kernels (sparse
embedding gradients, fused linear + hardtanh, AdaGrad or SGD). Every random draw comes from
one seeded generator, and ``step`` takes the windows and corruptions explicitly.

The replacement words are drawn from the unigram distribution raised to 0.75 (word2vec's noise
distribution) by default. C&W drew them uniformly from the vocabulary; on a Zipfian vocabulary that
almost always picks a rare word, so "is the centre word frequent?" alone ranks most pairs and the
loss falls while the vectors learn little (one epoch on 5.6M tokens: ranking loss 0.12, WordSim
rho 0.05; on 1M tokens such a model ranked 91% of uniform corruptions right but 70% of unigram-drawn
ones). A network still in its linear regime cannot do better: where no hardtanh unit changes side
between the real and the corrupted window, the context words' gradients cancel and only the centre
word's score moves. ``corruption="uniform"`` keeps C&W's choice."""

import os
import time
from typing import Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .. import _C, ops
from ..keyedvectors import KeyedVectors
from ._progress import progress_bar
from .cooccurrence import build_vocab

OPTIMIZERS = ("adagrad", "sgd")
CORRUPTIONS = ("unigram", "uniform")
NOISE_POWER = 0.75  # the unigram counts' exponent for corruptions, as word2vec's negatives


class CWEmbeddings:
    """The C&W window scorer over a vocabulary: ``E`` (V + 1, D) word vectors (row V pads windows
    at sentence edges), ``W1`` (H, n D), ``b1`` (H), ``w2`` (1, H), ``b2`` (1) with n = 2 half + 1.

    Parameters
    ----------
    words : list of str
        The vocabulary (ids = positions).
    dim : int
        Word vector size D.
    half_window : int
        Words on each side of the centre (C&W used 5; n = 2 half_window + 1).
    hidden : int
        Hidden units H.
    lr : float
        Learning rate (AdaGrad's or SGD's).
    optimizer : str
        "adagrad" or "sgd".
    seed : int
        Seeds the initialization and every sample drawn by ``train``.
    counts : array-like, optional
        Word counts (V,), kept with the vectors; ``train`` needs them for the unigram corruption.
    corruption : str
        How ``train`` draws the replacement centre words: "unigram" (default: counts ** 0.75,
        normalized) or "uniform" over the vocabulary (Collobert & Weston's choice).

    Raises
    ------
    ValueError
        A bad argument, named.
    """

    def __init__(self, words: Sequence[str], dim: int = 100, half_window: int = 2, hidden: int = 100, lr: float = 0.05,
                 optimizer: str = "adagrad", seed: int = 0, counts: Optional[ArrayLike] = None,
                 corruption: str = "unigram") -> None:
        words = list(words)
        for name, value, low in (("dim", dim, 1), ("half_window", half_window, 0), ("hidden", hidden, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"CWEmbeddings: {name} must be an int >= {low}, got {value!r}")
        if len(words) < 2:
            raise ValueError(f"CWEmbeddings: words must hold at least 2 words (to corrupt a window), got {len(words)}")
        if not lr > 0:
            raise ValueError(f"CWEmbeddings: lr must be > 0, got {lr}")
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"CWEmbeddings: optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
        if corruption not in CORRUPTIONS:
            raise ValueError(f"CWEmbeddings: corruption must be one of {CORRUPTIONS}, got {corruption!r}")
        self._noise_cdf = None
        if counts is not None:
            c = np.asarray(counts, np.float64)
            if c.shape != (len(words),) or not np.all(c > 0):
                raise ValueError(f"CWEmbeddings: counts must hold one positive count per word ({len(words)},), "
                                 f"got shape {c.shape}" + ("" if c.shape != (len(words),) else " with a count <= 0"))
            cdf = np.cumsum(c ** NOISE_POWER)
            self._noise_cdf = cdf / cdf[-1]
        self.words, self.counts, self.corruption = words, counts, corruption
        self.V, self.D, self.half, self.H = len(words), int(dim), int(half_window), int(hidden)
        self.n = 2 * self.half + 1
        self.lr, self.optimizer = float(lr), optimizer
        self.rng = np.random.default_rng(seed)
        V, D, H, nD = self.V, self.D, self.H, self.n * self.D
        # Uniform fan-in scaled starts, as C&W (and word2vec's syn0 in [-0.5/D, 0.5/D)).
        self.E = ((self.rng.random((V + 1, D), dtype=np.float32) - 0.5) / D).astype(np.float32)
        self.W1 = ((self.rng.random((H, nD), dtype=np.float32) * 2 - 1) / np.sqrt(nD)).astype(np.float32)
        self.b1 = np.zeros(H, np.float32)
        self.w2 = ((self.rng.random((1, H), dtype=np.float32) * 2 - 1) / np.sqrt(H)).astype(np.float32)
        self.b2 = np.zeros(1, np.float32)
        self._acc = {k: np.zeros_like(getattr(self, k)) for k in ("E", "W1", "b1", "w2", "b2")}
        self.steps = 0

    @property
    def pad_id(self) -> int:
        return self.V

    def score(self, windows: np.ndarray):
        """(f (B,), x (B, n D), h (B, H)): the scores of windows (B, n) of ids in [0, V] and the
        activations backward needs."""
        x = ops.embedding(self.E, windows).reshape(windows.shape[0], -1)
        h = ops.linear(x, self.W1, self.b1, activation="hardtanh")
        f = ops.linear(h, self.w2, self.b2)
        return f[:, 0], x, h

    def step(self, windows: np.ndarray, corrupt: np.ndarray) -> float:
        """One update on a batch: windows (B, n) of ids in [0, V] (V pads), corrupt (B,) ids in
        [0, V) that replace the centre words. Minimizes the mean over the batch of
        max(0, 1 - f(window) + f(corrupted window)). Returns that mean loss (before the update).

        Raises
        ------
        ValueError
            Windows or corruptions of the wrong shape or out of range.
        """
        windows = np.ascontiguousarray(windows, dtype=np.int32)
        corrupt = np.ascontiguousarray(corrupt, dtype=np.int32)
        if windows.ndim != 2 or windows.shape[1] != self.n or windows.shape[0] == 0:
            raise ValueError(f"CWEmbeddings.step: windows must have shape (B, {self.n}), got {windows.shape}")
        if corrupt.shape != (windows.shape[0],):
            raise ValueError(f"CWEmbeddings.step: corrupt must have shape ({windows.shape[0]},), got {corrupt.shape}")
        if windows.min() < 0 or windows.max() > self.V:
            raise ValueError(f"CWEmbeddings.step: windows ids must be in [0, {self.V}] ({self.V} pads)")
        if corrupt.min() < 0 or corrupt.max() >= self.V:
            raise ValueError(f"CWEmbeddings.step: corrupt ids must be in [0, {self.V})")
        B = windows.shape[0]
        bad = windows.copy()
        bad[:, self.half] = corrupt
        both = np.concatenate([windows, bad])  # (2B, n): one pass for the real and the corrupted windows
        f, x, h = self.score(both)
        margin = 1.0 - f[:B] + f[B:]
        active = (margin > 0).astype(np.float32) / B
        df = np.concatenate([-active, active])[:, None]
        dh, dw2, db2 = ops.linear_backward(h, self.w2, f[:, None], df)
        dx, dW1, db1 = ops.linear_backward(x, self.W1, h, dh, activation="hardtanh")
        ids, rows = ops.embedding_backward_sparse(both, dx.reshape(2 * B, self.n, self.D))
        if self.optimizer == "adagrad":
            ops.adagrad_update_sparse(self.E, self._acc["E"], ids, rows, self.lr)
            for name, g in (("W1", dW1), ("b1", db1), ("w2", dw2), ("b2", db2)):
                ops.adagrad_update(getattr(self, name), g, self._acc[name], self.lr)
        else:
            ops.sgd_update_sparse(self.E, ids, rows, self.lr)
            for name, g in (("W1", dW1), ("b1", db1), ("w2", dw2), ("b2", db2)):
                ops.sgd_update(getattr(self, name), g, self.lr)
        self.steps += 1
        return float(np.maximum(margin, 0).mean())

    def sample_corruptions(self, size: int) -> np.ndarray:
        """Replacement centre words drawn from the model's generator: by counts ** 0.75 (corruption
        "unigram") or uniformly (corruption "uniform").

        Parameters
        ----------
        size : int
            How many.

        Returns
        -------
        numpy.ndarray
            (size,) int32 ids in [0, V).

        Raises
        ------
        ValueError
            Corruption "unigram" on a model made without counts.
        """
        if self.corruption == "uniform":
            return self.rng.integers(0, self.V, size=size, dtype=np.int32)
        if self._noise_cdf is None:
            raise ValueError("CWEmbeddings: corruption='unigram' draws by the word counts: pass counts "
                             "(or corruption='uniform')")
        # side="right": a draw u lands on the first word whose cumulative mass exceeds it.
        return np.minimum(np.searchsorted(self._noise_cdf, self.rng.random(size), side="right"),
                          self.V - 1).astype(np.int32)

    def windows_at(self, ids: np.ndarray, offsets: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """The (B, n) windows centred on corpus positions (into ids), padded with V past the
        edges of each position's sentence (offsets (S + 1) delimit the sentences)."""
        sent = np.searchsorted(offsets, positions, side="right") - 1
        start, end = offsets[sent], offsets[sent + 1]
        at = positions[:, None] + np.arange(-self.half, self.half + 1)[None, :]
        inside = (at >= start[:, None]) & (at < end[:, None])
        return np.where(inside, ids[np.clip(at, 0, len(ids) - 1)], self.V).astype(np.int32)

    def train(self, ids: np.ndarray, offsets: np.ndarray, epochs: float = 1.0, batch_size: int = 256,
              progress: bool = True) -> dict:
        """Trains on a corpus given as ids (N) with sentence offsets (S + 1): each epoch visits
        the N positions in a random order, each with one random corruption (``sample_corruptions``).
        A fractional epochs trains on that fraction of one more pass.

        Returns
        -------
        dict
            steps, windows, seconds and the mean loss of the last 1000 steps.
        """
        if not epochs > 0:
            raise ValueError(f"CWEmbeddings.train: epochs must be > 0, got {epochs}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"CWEmbeddings.train: batch_size must be an int >= 1, got {batch_size!r}")
        N = len(ids)
        if N == 0:
            raise ValueError("CWEmbeddings.train: the corpus has no in-vocabulary token")
        total = int(round(epochs * N))
        bar = progress_bar(total, "C&W", progress, unit="window", unit_scale=True)
        losses, done, t0 = [], 0, time.perf_counter()
        try:
            while done < total:
                order = self.rng.permutation(N)
                for b in range(0, N, batch_size):
                    pos = order[b:b + min(batch_size, total - done)]
                    if len(pos) == 0:
                        break
                    corrupt = self.sample_corruptions(len(pos))
                    losses.append(self.step(self.windows_at(ids, offsets, pos), corrupt))
                    done += len(pos)
                    bar.update(len(pos))
                    if len(losses) % 200 == 0:
                        bar.set_postfix_str(f"loss {np.mean(losses[-1000:]):.4f}", refresh=False)
                    if done >= total:
                        break
        finally:
            bar.close()
        return {"steps": len(losses), "windows": done, "seconds": time.perf_counter() - t0,
                "loss": float(np.mean(losses[-1000:]))}

    def keyed_vectors(self) -> KeyedVectors:
        """The word vectors (padding row left out) as KeyedVectors (a copy)."""
        return KeyedVectors(self.words, self.E[:self.V].copy(), self.counts)


def cw_embeddings(corpus_path: str, dim: int = 100, half_window: int = 2, hidden: int = 100, min_count: int = 5,
                  epochs: float = 1.0, batch_size: int = 256, lr: float = 0.05, optimizer: str = "adagrad",
                  seed: int = 0, threads: Optional[int] = None, progress: bool = True,
                  corruption: str = "unigram") -> KeyedVectors:
    """Collobert & Weston ranking embeddings of a corpus file (one sentence per line).

    Parameters
    ----------
    corpus_path : str
        UTF-8 text, whitespace tokens; words seen fewer than min_count times are dropped.
    dim, half_window, hidden, lr, optimizer, seed, corruption
        As CWEmbeddings.
    min_count : int
        Vocabulary threshold (>= 1).
    epochs : float
        Passes over the corpus's positions (fractions allowed).
    batch_size : int
        Windows per update.
    threads : int, optional
        fastnlp's kernel threads for the run (default: unchanged).
    progress : bool
        A tqdm bar.

    Returns
    -------
    KeyedVectors
        (V, dim) float32.

    Raises
    ------
    ValueError
        A bad argument, named; FileNotFoundError for a missing corpus.
    """
    if not os.path.isfile(corpus_path):
        raise FileNotFoundError(f"cw_embeddings: corpus_path {corpus_path!r} is not a file")
    if isinstance(min_count, bool) or not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise ValueError(f"cw_embeddings: min_count must be an int >= 1, got {min_count!r}")
    if threads is not None:
        import fastnlp

        fastnlp.set_num_threads(threads)
    words, counts, _ = build_vocab(corpus_path, min_count)
    ids, offsets, _ = _C.corpus_ids(corpus_path, _C.Vocab(words, counts), -1)
    model = CWEmbeddings(words, dim=dim, half_window=half_window, hidden=hidden, lr=lr, optimizer=optimizer,
                         seed=seed, counts=counts, corruption=corruption)
    model.train(ids, offsets, epochs=epochs, batch_size=batch_size, progress=progress)
    return model.keyed_vectors()
