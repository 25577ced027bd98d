"""word2vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling and/or hierarchical
softmax, trained entirely in C++ threads (Hogwild, the GIL released).

Python only configures: the vocabulary is counted in C++ (files streamed line by line, or any
re-iterable of token lists), then each epoch runs in ``fastnlp._C.Word2VecTrainer`` while this
module polls its progress (a tqdm bar on stderr) and stops it cleanly on KeyboardInterrupt, leaving
a usable model. With ``corpus_file`` every worker reads its own byte range of the files.

Parameters follow gensim / word2vec.c (``vector_size`` or ``dim``, ``workers`` or ``threads``).

A package of one class, Word2Vec, split by job: the settings and the vocabulary here, the training
loop in _training.py, the model file in _persistence.py (each a mixin of Word2Vec), the argument
checks and defaults in _settings.py. Everything is imported from here: ``fastnlp.word2vec.Word2Vec``.
"""

import logging
import os
import time

from typing import Any, Iterable, List, Optional, Sequence

import numpy as np

from .. import _C
from ..keyedvectors import KeyedVectors
from ..plots import TrainingCurveMixin
from ._persistence import PersistenceMixin
# DEFAULT_ALPHA and DEFAULT_ALPHA_SCHEDULE are read from here by the command line and the tests.
from ._settings import (DEFAULT_ALPHA, DEFAULT_ALPHA_SCHEDULE, Corpus, _check_device, _check_reiterable, _paths,
                        _pick, _setting)
from ._training import TrainingMixin

__all__ = ["Word2Vec"]

logger = logging.getLogger(__name__)


class Word2Vec(TrainingMixin, PersistenceMixin, TrainingCurveMixin):
    """Word vectors trained by skip-gram (``sg=1``) or CBOW (``sg=0``). The arguments have gensim's
    names; word2vec.c's are in brackets.

    Parameters
    ----------
    sentences : re-iterable of list of str, optional
        The corpus in memory. Give this or `corpus_file` to build the vocabulary and train at
        once, or neither and call build_vocab / train.
    corpus_file : str, path or list of them, optional
        Whitespace-tokenized text, one sentence per line; the fast path (workers read the file
        themselves).
    vector_size : int, optional
        [dim] D (default 100).
    alpha : float, optional
        Initial learning rate; None: DEFAULT_ALPHA of the model (0.025 skip-gram, 0.05 CBOW).
    window : int
        Largest context distance (each centre draws 1..window).
    min_count : int
        Words seen fewer times are dropped.
    max_vocab_size : int, optional
        Prune the rarest words while counting whenever more distinct words than this are held
        (None: no limit).
    sample : float
        Subsampling threshold (0: off).
    seed : int
        Seeds the initial vectors and the training's random draws (any integer, taken modulo 2^64).
    workers : int, optional
        [threads] training threads (default: the CPU count; at most 32).
    min_alpha : float
        The learning rate decays linearly from alpha to min_alpha over each train() call.
    sg : int
        1: skip-gram, 0: CBOW.
    hs : int
        1: hierarchical softmax.
    negative : int
        Noise words per prediction (0: off).
    ns_exponent : float
        Noise words are drawn ~ count^ns_exponent.
    cbow_mean : int
        CBOW: mean (1) or sum (0) of the context.
    epochs : int
        [iter] epochs per train() call.
    shared_negatives : bool
        Skip-gram only: one draw of `negative` noise words per centre shared by its whole window
        (Ji et al. 2016), faster; False is word2vec.c's update.
    max_sentence : int
        Sentences longer than this are split (never truncated).
    progress : bool
        Show a tqdm progress bar on stderr (words/s, loss, ETA); False: none.
    callbacks : sequence
        gensim's CallbackAny2Vec hooks, objects with any of ``on_train_begin(model)``,
        ``on_epoch_begin(model)``, ``on_epoch_end(model)``, ``on_train_end(model)`` (called in
        that order; on_train_end also after a KeyboardInterrupt), or plain callables
        ``cb(model, stats)`` called after each epoch with the epoch's dict (see
        ``training_history``).
    dim : int, optional
        word2vec.c's name of vector_size (give one of them).
    threads : int, optional
        word2vec.c's name of workers (give one of them).
    device : {"cpu", "cuda", "emulated"}
        'cpu' (Hogwild threads), 'cuda' (the GPU trainer: negative sampling only, one reader
        thread feeds it; the vectors are copied back after every epoch) or 'emulated' (the
        device path run on the CPU, for tests).
    alpha_schedule : {"global", "per_worker"}, optional
        'global' (word2vec.c's: by the words of all workers together) or 'per_worker' (gensim
        corpus_file's: each worker by its own words against the whole epoch); None:
        DEFAULT_ALPHA_SCHEDULE of the model (global skip-gram, per_worker CBOW).

    Raises
    ------
    ValueError, TypeError
        A bad setting (named), or both sentences and corpus_file.
    """

    def __init__(self, sentences: Optional[Iterable[List[str]]] = None, corpus_file: Optional[Corpus] = None,
                 vector_size: Optional[int] = None, alpha: Optional[float] = None, window: int = 5, min_count: int = 5,
                 max_vocab_size: Optional[int] = None, sample: float = 1e-3, seed: int = 1,
                 workers: Optional[int] = None, min_alpha: float = 0.0001, sg: int = 0, hs: int = 0, negative: int = 5,
                 ns_exponent: float = 0.75, cbow_mean: int = 1, epochs: int = 5, shared_negatives: bool = False,
                 max_sentence: int = 10000, progress: bool = True, callbacks: Sequence[Any] = (),
                 dim: Optional[int] = None, threads: Optional[int] = None, device: str = "cpu",
                 alpha_schedule: Optional[str] = None) -> None:
        self.vector_size = _setting("vector_size", _pick("vector_size", vector_size, "dim", dim, 100), int)
        self.workers = _setting("workers", _pick("workers", workers, "threads", threads, os.cpu_count() or 1), int, 32)
        self.window = _setting("window", window, int)
        self.min_count = _setting("min_count", min_count, int)
        self.max_vocab_size = None if max_vocab_size is None else _setting("max_vocab_size", max_vocab_size, int)
        self.sample = _setting("sample", sample, float)
        self.seed = _setting("seed", seed, int, bits=None)  # any integer: taken modulo 2^64
        self.sg = int(bool(sg))
        self.hs = int(bool(hs))
        self.negative = _setting("negative", negative, int)
        self.ns_exponent = _setting("ns_exponent", ns_exponent, float)
        self.cbow_mean = int(bool(cbow_mean))
        self.alpha = _setting("alpha", DEFAULT_ALPHA["sg" if self.sg else "cbow"] if alpha is None else alpha, float)
        self.min_alpha = _setting("min_alpha", min_alpha, float)
        self.alpha_schedule = DEFAULT_ALPHA_SCHEDULE["sg" if self.sg else "cbow"] if alpha_schedule is None \
            else alpha_schedule
        if not isinstance(self.alpha_schedule, str):
            raise ValueError(f"Word2Vec: alpha_schedule must be 'global' or 'per_worker', got {self.alpha_schedule!r}")
        self.epochs = _setting("epochs", epochs, int)
        self.shared_negatives = bool(shared_negatives)
        self.max_sentence = _setting("max_sentence", max_sentence, int)
        self.progress = progress
        self.callbacks = list(callbacks)
        self.device = device
        self._check_config()
        self.wv = None
        self.syn1neg = None
        self.syn1 = None
        self._vocab = None
        self.corpus_stats = {}
        self.epochs_done = 0
        self.training_history = []  # one dict per epoch trained
        self.interrupted = False
        self._corpus = None  # what build_vocab counted, the default corpus of train()
        if sentences is not None and corpus_file is not None:
            raise ValueError("Word2Vec: give sentences or corpus_file, not both")
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences=sentences, corpus_file=corpus_file)
            self.train()

    def _check_config(self):
        # The trainer's settings are checked by the C++ config (check_word2vec_config), the one
        # place their rules live; Python checks only what it alone uses.
        self._trainer_config(self.alpha, self.min_alpha, self.seed % (1 << 64))
        checks = [
            (self.min_count >= 1, "min_count must be >= 1", self.min_count),
            (self.max_vocab_size is None or self.max_vocab_size > 0, "max_vocab_size must be > 0 or None",
             self.max_vocab_size),
            (self.epochs >= 1, "epochs must be >= 1", self.epochs),
        ]
        for ok, what, value in checks:
            if not ok:
                raise ValueError(f"Word2Vec: {what}, got {value}")
        _check_device(self.device)

    def _trainer_config(self, alpha, min_alpha, seed):
        """The C++ trainer's settings; raises ValueError naming a setting out of range."""
        return _C.Word2VecConfig(dim=self.vector_size, window=self.window, negative=self.negative, hs=bool(self.hs),
                                 sg=bool(self.sg), cbow_mean=bool(self.cbow_mean),
                                 shared_negatives=self.shared_negatives, sample=self.sample,
                                 ns_exponent=self.ns_exponent, alpha=alpha, min_alpha=min_alpha, seed=seed,
                                 threads=self.workers, max_sentence=self.max_sentence,
                                 alpha_schedule=self.alpha_schedule)

    # -- vocabulary -------------------------------------------------------------------------------
    def build_vocab(self, sentences: Optional[Iterable[List[str]]] = None, corpus_file: Optional[Corpus] = None,
                    update: bool = False) -> "Word2Vec":
        """Counts the corpus (C++; files streamed line by line) and sets up fresh vectors: word
        vectors uniform in [-1/D, 1/D) from `seed`, output vectors zero.

        Parameters
        ----------
        sentences : re-iterable of token lists, optional
            The corpus in memory. Give this or `corpus_file`.
        corpus_file : path or list of paths, optional
            Whitespace-tokenized text, one sentence per line.
        update : bool
            gensim's online update: keep the vocabulary and every trained row; add the corpus's
            counts to the words already known and append its new words seen at least
            `min_count` times (by descending count), their word vectors drawn as build_vocab
            draws them and their output rows zero. The next train() rebuilds the Huffman tree
            and noise table from the updated counts and trains the new words; its default corpus
            becomes this one.

        Returns
        -------
        Word2Vec
            self.

        Raises
        ------
        ValueError
            Not exactly one of sentences / corpus_file, an empty corpus, min_count removing every
            word, or update=True before any vocabulary was built.
        """
        if (sentences is None) == (corpus_file is None):
            raise ValueError("build_vocab: give exactly one of sentences or corpus_file")
        if update and self.wv is None:
            raise ValueError("build_vocab: update=True needs a vocabulary to update: build one first "
                             "(build_vocab without update, or Word2Vec.load)")
        counter = _C.VocabCounter(self.max_vocab_size or 0)
        t0 = time.perf_counter()
        if corpus_file is not None:
            paths = _paths(corpus_file)
            for p in paths:
                counter.count_file(p)
            corpus = ("files", paths)
            where = ", ".join(paths)
        else:
            _check_reiterable(sentences)
            counter.add_sentences(sentences)
            corpus = ("sentences", sentences)
            where = "the sentences given"
        if counter.total_words == 0:
            raise ValueError(f"word2vec: the corpus is empty: no tokens in {where}")
        if update:
            return self._update_vocab(counter, corpus, t0)
        words, counts = counter.finalize(self.min_count)
        if not words:
            raise ValueError(f"word2vec: min_count={self.min_count} removes every word: the corpus has "
                             f"{counter.distinct} distinct words, none seen {self.min_count} times")
        self._corpus = corpus
        self.corpus_stats = self._corpus_stats(counter, int(counts.sum()), t0)
        self._set_vocab(words, counts)
        V, D = len(words), self.vector_size
        self.wv = KeyedVectors(words, self._initial_vectors(np.random.default_rng(self.seed), V), counts)
        self.syn1neg = np.zeros((V, D), np.float32) if self.negative > 0 else None
        self.syn1 = np.zeros((V, D), np.float32) if self.hs else None
        self.epochs_done = 0
        self.training_history = []
        logger.info("word2vec vocabulary: %d words (of %d distinct), %d tokens", V, counter.distinct,
                    counter.total_words)
        return self

    def _initial_vectors(self, rng, n):
        """(n, D) word vectors uniform in [-1/D, 1/D), as gensim 4 (word2vec.c uses half that range);
        on small corpora the wider start scored ~0.4 analogy points higher."""
        D = self.vector_size
        syn0 = rng.random((n, D), dtype=np.float32)
        syn0 *= 2.0
        syn0 -= 1.0
        syn0 /= D
        return syn0

    @staticmethod
    def _corpus_stats(counter, vocab_words, t0):
        return {"tokens": int(counter.total_words), "sentences": int(counter.sentences),
                "distinct": int(counter.distinct), "vocab_words": int(vocab_words),
                "pruned_below": int(counter.min_reduce) - 1, "seconds": time.perf_counter() - t0}

    def _update_vocab(self, counter, corpus, t0):
        """build_vocab(update=True) once the new corpus is counted."""
        seen, seen_counts = counter.finalize(1)
        wv = self.wv
        counts = wv.counts.copy()
        new_words, new_counts, in_vocab = [], [], 0
        for w, c in zip(seen, seen_counts.tolist()):
            i = wv.key_to_index.get(w)
            if i is not None:
                counts[i] += c
                in_vocab += c
            elif c >= self.min_count:
                new_words.append(w)
                new_counts.append(c)
                in_vocab += c
        V, n = len(wv), len(new_words)
        counts = np.concatenate([counts, np.asarray(new_counts, np.int64)])
        words = wv.index_to_key + new_words
        self._set_vocab(words, counts)  # checks the summed counts (C++) before anything changes
        # The new rows' stream depends on the seed and where they start, never on the old rows.
        wv.add_vectors(new_words, self._initial_vectors(np.random.default_rng([self.seed, V]), n))
        wv.counts = counts
        D = self.vector_size
        if self.syn1neg is not None:
            self.syn1neg = np.concatenate([self.syn1neg, np.zeros((n, D), np.float32)])
        if self.syn1 is not None:
            self.syn1 = np.concatenate([self.syn1, np.zeros((n, D), np.float32)])
        self._corpus = corpus
        self.corpus_stats = self._corpus_stats(counter, in_vocab, t0)
        logger.info("word2vec vocabulary update: %d new words (now %d), %d tokens counted", n, V + n,
                    counter.total_words)
        return self

    def _set_vocab(self, words, counts):
        self._vocab = _C.Vocab(list(words), np.asarray(counts, dtype=np.int64))

    @property
    def counts(self) -> np.ndarray:
        return self.wv.counts

    def __repr__(self):
        n = len(self.wv) if self.wv is not None else 0
        return (f"Word2Vec({'sg' if self.sg else 'cbow'}, {n} words, dim={self.vector_size}, window={self.window}, "
                f"negative={self.negative}, hs={self.hs}, epochs_done={self.epochs_done})")
