"""word2vec (Mikolov et al. 2013): skip-gram and CBOW with negative sampling and/or hierarchical
softmax, trained entirely in C++ threads (Hogwild, the GIL released).

Python only configures: the vocabulary is counted in C++ (files streamed line by line, or any
re-iterable of token lists), then each epoch runs in ``fastnlp._C.Word2VecTrainer`` while this
module polls its progress (a tqdm bar on stderr) and stops it cleanly on KeyboardInterrupt, leaving
a usable model. With ``corpus_file`` every worker reads its own byte range of the files.

Parameters follow gensim / word2vec.c (``vector_size`` or ``dim``, ``workers`` or ``threads``).
"""

import logging
import math
import os
import time

from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

from . import _C
from ._progress import progress_bar
from .keyedvectors import KeyedVectors, load_npz, save_npz
from .plots import TrainingCurveMixin

__all__ = ["Word2Vec"]

logger = logging.getLogger(__name__)

# The start learning rate when none is given, per model: word2vec.c's (0.025 skip-gram, 0.05
# CBOW). CBOW at gensim's 0.025 scored lower in benchmarks/word2vec_schedule.py (README, word2vec).
# The Python API and the command line both take their defaults from here (test_word2vec_cli).
DEFAULT_ALPHA = {"sg": 0.025, "cbow": 0.05}
# The decay when none is given, per model, by the same experiment: 'global' (word2vec.c's, over the
# words of all workers) or 'per_worker' (gensim corpus_file's, each worker by its own words).
DEFAULT_ALPHA_SCHEDULE = {"sg": "global", "cbow": "per_worker"}

Corpus = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]  # corpus_file: one path or several
_CONFIG_KEYS = ("vector_size", "window", "min_count", "max_vocab_size", "sample", "seed", "workers", "sg", "hs",
                "negative", "ns_exponent", "cbow_mean", "alpha", "min_alpha", "alpha_schedule", "epochs", "shared_negatives",
                "max_sentence")


def _pick(name_a, a, name_b, b, default):
    if a is not None and b is not None and a != b:
        raise ValueError(f"Word2Vec: {name_a}={a} and {name_b}={b} disagree (they are the same setting)")
    return a if a is not None else (b if b is not None else default)


def _setting(name, value, kind, bits=64):
    """value as int (fitting a signed `bits`-bit C++ integer) or float; ValueError naming the
    setting for anything else, so the C++ config check (the one place the ranges live) always gets
    a value it can hold."""
    try:
        v = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"Word2Vec: {name} must be {'an integer' if kind is int else 'a number'}, "
                         f"got {value!r}") from None
    if kind is int and bits is not None and not -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
        raise ValueError(f"Word2Vec: {name} must fit in int{bits}, got {v}")
    return v


def _paths(corpus_file):
    paths = [os.fspath(corpus_file)] if isinstance(corpus_file, (str, bytes, os.PathLike)) else \
        [os.fspath(p) for p in corpus_file]
    if not paths:
        raise ValueError("word2vec: corpus_file is an empty list")
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"word2vec: corpus file not found: {p}")
    return paths


class Word2Vec(TrainingCurveMixin):
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

    # -- training ---------------------------------------------------------------------------------
    def train(self, sentences: Optional[Iterable[List[str]]] = None, corpus_file: Optional[Corpus] = None,
              epochs: Optional[int] = None, alpha: Optional[float] = None, min_alpha: Optional[float] = None,
              total_words: Optional[int] = None, progress: Optional[bool] = None,
              callbacks: Optional[Sequence[Any]] = None, device: Optional[str] = None) -> Dict[str, Any]:
        """Trains `epochs` more epochs (default: the model's), the learning rate decaying
        linearly from alpha to min_alpha over this call. The corpus defaults to the one
        build_vocab counted; a new corpus is trained with the existing vocabulary (unknown words
        are skipped: ``build_vocab(corpus, update=True)`` first adds them). total_words
        (sentences only): in-vocabulary words per epoch, counted when not given for a corpus
        other than the vocabulary's.

        KeyboardInterrupt stops the workers after their current sentence; the model stays usable
        (``interrupted`` is set, the partial epoch is recorded).

        Parameters
        ----------
        sentences : re-iterable of list of str, optional
            A corpus in memory.
        corpus_file : str, path or list of them, optional
            Whitespace-tokenized text files, one sentence per line. Neither: build_vocab's corpus.
        epochs : int, optional
            Epochs to train (>= 1; default: the model's).
        alpha, min_alpha : float, optional
            The learning rate's start and end for this call (default: the model's).
        total_words : int, optional
            In-vocabulary words per epoch of `sentences`, for the learning-rate schedule.
        progress : bool, optional
            Show a progress bar (default: the model's setting).
        callbacks : sequence, optional
            Hooks for this call (default: the model's), as for the constructor.
        device : {"cpu", "cuda", "emulated"}, optional
            The trainer (default: the model's).

        Returns
        -------
        dict
            {"epochs", "tokens", "words", "seconds", "words_per_sec", "loss" (mean per example),
            "interrupted"}.

        Raises
        ------
        ValueError
            No vocabulary yet, both or (for a loaded model) neither corpus, epochs < 1, or the CUDA
            trainer with hs=1 or negative=0.
        """
        if self.wv is None:
            raise ValueError("train: build the vocabulary first (build_vocab, or Word2Vec(corpus_file=...))")
        if sentences is not None and corpus_file is not None:
            raise ValueError("train: give sentences or corpus_file, not both")
        device = self.device if device is None else device
        _check_device(device)
        if device == "cuda" and (self.hs or self.negative == 0):
            raise ValueError("train: the CUDA trainer does negative sampling only (hs=0, negative > 0)")
        epochs = self.epochs if epochs is None else int(epochs)
        alpha = self.alpha if alpha is None else float(alpha)
        min_alpha = self.min_alpha if min_alpha is None else float(min_alpha)
        if epochs < 1:
            raise ValueError(f"train: epochs must be >= 1, got {epochs}")
        config = self._trainer_config(alpha, min_alpha, (self.seed * 1000003 + self.epochs_done) % (1 << 64))
        if corpus_file is not None:
            mode, source = "files", _paths(corpus_file)
        elif sentences is not None:
            _check_reiterable(sentences)
            mode, source = "sentences", sentences
        elif self._corpus is not None:
            mode, source = self._corpus
        else:
            raise ValueError("train: give sentences or corpus_file (a loaded model does not keep its corpus)")
        if mode == "sentences" and total_words is None:
            if self._corpus is not None and source is self._corpus[1]:
                total_words = self.corpus_stats["vocab_words"]
            else:
                total_words = self._count_in_vocab(source)
        trainer = _C.Word2VecTrainer(self._vocab, self.wv.vectors, self.syn1neg, self.syn1, config, device=device)
        callbacks = _check_callbacks(self.callbacks if callbacks is None else list(callbacks))
        _call_hooks(callbacks, "on_train_begin", self)
        bar = _Progress(epochs, self.progress if progress is None else progress)
        self.interrupted = False
        t_start = time.perf_counter()
        history = []
        try:
            for e in range(epochs):
                _call_hooks(callbacks, "on_epoch_begin", self)
                t0 = time.perf_counter()
                try:
                    if mode == "files":
                        trainer.start_files(source, e, epochs)
                    else:
                        trainer.start_stream(e, epochs, int(total_words))
                        self._feed(trainer, source, bar, e)
                    while not trainer.wait(0.1):
                        bar.update(e, trainer.progress(), time.perf_counter() - t0)
                except KeyboardInterrupt:
                    trainer.stop()
                    trainer.wait()
                    self.interrupted = True
                p = trainer.progress()
                seconds = time.perf_counter() - t0
                stats = {"epoch": self.epochs_done + 1, "words": p["words"], "tokens": p["tokens"],
                         "examples": p["examples"], "loss_sum": p["loss"],
                         "loss": p["loss"] / p["examples"] if p["examples"] else float("nan"),
                         "seconds": seconds, "words_per_sec": p["tokens"] / seconds if seconds > 0 else 0.0,
                         "alpha": p["alpha"], "complete": not self.interrupted}
                bar.update(e, p, seconds)
                self.training_history.append(stats)
                history.append(stats)
                self.epochs_done += 1 if not self.interrupted else 0
                self.wv.invalidate_norms()
                if self.interrupted:
                    logger.warning("word2vec: interrupted during epoch %d; the model keeps the updates so far",
                                   stats["epoch"])
                    break
                logger.info("word2vec epoch %d: loss %.4f, %.0f words/s", stats["epoch"], stats["loss"],
                            stats["words_per_sec"])
                for cb in callbacks:
                    if _is_hook_object(cb):
                        _call_hooks([cb], "on_epoch_end", self)
                    else:
                        cb(self, stats)
        finally:
            bar.close()
            if trainer.running:  # an exception other than KeyboardInterrupt (e.g. in a callback)
                trainer.stop()
                trainer.wait()
            self.wv.invalidate_norms()
        _call_hooks(callbacks, "on_train_end", self)
        seconds = time.perf_counter() - t_start
        tokens = sum(h["tokens"] for h in history)
        examples = sum(h["examples"] for h in history)
        return {"epochs": len(history), "tokens": tokens, "words": sum(h["words"] for h in history),
                "seconds": seconds, "words_per_sec": tokens / seconds if seconds > 0 else 0.0,
                "loss": sum(h["loss_sum"] for h in history) / examples if examples else float("nan"),
                "interrupted": self.interrupted}

    def _count_in_vocab(self, sentences, chunk=10_000):
        """In-vocabulary words of a corpus (one pass, encoded in C++ by chunks)."""
        total, batch = 0, []
        for sent in sentences:
            batch.append(sent)
            if len(batch) == chunk:
                total += len(self._vocab.encode(batch)[0])
                batch = []
        if batch:
            total += len(self._vocab.encode(batch)[0])
        return total

    def _feed(self, trainer, sentences, bar, epoch, chunk_tokens=100_000, chunk_sentences=10_000):
        """Stream mode: encodes sentences in chunks (C++) and queues them for the workers."""
        t0 = time.perf_counter()
        chunk, n = [], 0

        def push():
            ids, offsets, _ = self._vocab.encode(chunk)
            while not trainer.push(ids, offsets, 0.1):
                bar.update(epoch, trainer.progress(), time.perf_counter() - t0)

        for sent in sentences:
            chunk.append(sent)
            n += len(sent) if hasattr(sent, "__len__") else 100
            if n >= chunk_tokens or len(chunk) >= chunk_sentences:
                push()
                chunk, n = [], 0
                if trainer.stopping:
                    break
        if chunk and not trainer.stopping:
            push()
        trainer.close_stream()

    def _curve_title(self):
        return f"word2vec {'skip-gram' if self.sg else 'CBOW'}: loss per example"

    def get_latest_training_loss(self) -> float:
        """Summed loss of the last epoch trained (float64; gensim's float32 running sum stalls).

        Returns
        -------
        float
            0.0 before any training.
        """
        return self.training_history[-1]["loss_sum"] if self.training_history else 0.0

    # -- persistence --------------------------------------------------------------------------------
    def config(self) -> Dict[str, Any]:
        """The model's settings (the constructor's arguments that save() stores).

        Returns
        -------
        dict
            Setting name -> value.
        """
        return {k: getattr(self, k) for k in _CONFIG_KEYS}

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Everything needed to continue training, in fastnlp's safe format (no pickle).

        Parameters
        ----------
        path : str or os.PathLike
            The file, written atomically.

        Raises
        ------
        ValueError
            The model has no vocabulary yet, or something other than a regular file is at `path`.
        """
        if self.wv is None:
            raise ValueError("save: the model has no vocabulary yet")
        arrays = {"vectors": self.wv.vectors, "counts": self.wv.counts}
        if self.syn1neg is not None:
            arrays["syn1neg"] = self.syn1neg
        if self.syn1 is not None:
            arrays["syn1"] = self.syn1
        header = {"kind": "word2vec", "vector_size": self.vector_size, "count": len(self.wv),
                  "config": self.config(), "epochs_done": self.epochs_done, "corpus_stats": self.corpus_stats,
                  "training_history": _jsonable(self.training_history)}
        save_npz(path, header, self.wv.index_to_key, arrays)

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Word2Vec":
        """A model saved by save(). Every field is checked against what training assumes before
        the model is returned: the config by the same checks as the constructor's, counts >= 0
        summing to at most 2^62 (sums of counts never overflow), shapes against the vocabulary,
        vectors finite.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by save().

        Returns
        -------
        Word2Vec
            Ready to train on (give it a corpus: a loaded model does not keep its corpus).

        Raises
        ------
        FileNotFoundError
            No file at `path`.
        ValueError
            Anything but a valid Word2Vec file, naming the file.
        """
        header, words, arrays = load_npz(path)
        path = os.fspath(path)

        def bad(why):
            return ValueError(f"{path}: not a valid fastnlp word2vec file ({why})")

        if header.get("kind") != "word2vec":
            raise ValueError(f"{path}: holds {header.get('kind')!r}, not a Word2Vec model (use KeyedVectors.load)")
        cfg = header.get("config")
        if not isinstance(cfg, dict) or "counts" not in arrays:
            raise bad("model config or counts missing")
        try:
            model = cls(**{k: cfg[k] for k in _CONFIG_KEYS if k in cfg}, progress=True)
        except (ValueError, TypeError) as e:
            raise bad(f"config: {e}") from None
        V, D = arrays["vectors"].shape
        if V == 0:
            raise bad("the vocabulary is empty")
        if D != model.vector_size:
            raise bad(f"vectors have {D} dims, the config says vector_size={model.vector_size}")
        for key, expect in (("count", V), ("vector_size", D)):
            if key in header and header[key] != expect:
                raise bad(f"header {key}={header[key]!r} but the arrays hold {expect}")
        if model.negative > 0 and "syn1neg" not in arrays:
            raise bad(f"negative={model.negative} but syn1neg is missing")
        if model.hs and "syn1" not in arrays:
            raise bad("hs=1 but syn1 is missing")
        counts = arrays["counts"]
        if model.negative > 0 and not np.any(counts > 0):
            raise bad("every count is 0: negative sampling has no noise distribution")
        epochs_done = header.get("epochs_done", 0)
        if type(epochs_done) is not int or not 0 <= epochs_done < (1 << 62):
            raise bad(f"epochs_done must be an integer in [0, 2^62), got {epochs_done!r}")
        for key, kind in (("corpus_stats", dict), ("training_history", list)):
            if not isinstance(header.get(key, kind()), kind):
                raise bad(f"{key} must be a JSON {'object' if kind is dict else 'list'}, got {header[key]!r}")
        try:
            model._set_vocab(words, counts)  # counts >= 0, their sum <= 2^62: checked in C++ (Vocab)
        except ValueError as e:
            raise bad(str(e)) from None
        model.wv = KeyedVectors(words, np.ascontiguousarray(arrays["vectors"]), counts)
        model.syn1neg = np.ascontiguousarray(arrays["syn1neg"]) if model.negative > 0 else None
        model.syn1 = np.ascontiguousarray(arrays["syn1"]) if model.hs else None
        model.epochs_done = epochs_done
        model.corpus_stats = header.get("corpus_stats", {})
        model.training_history = header.get("training_history", [])
        return model

    def save_word2vec_format(self, path: Union[str, os.PathLike], binary: bool = False) -> None:
        """The word vectors in word2vec.c's format: ``wv.save_word2vec_format``.

        Parameters
        ----------
        path : str or os.PathLike
            The file, written atomically.
        binary : bool
            The binary format instead of the text one.

        Raises
        ------
        ValueError
            A word that the format cannot hold (empty or with ASCII whitespace).
        """
        self.wv.save_word2vec_format(path, binary=binary)

    def __repr__(self):
        n = len(self.wv) if self.wv is not None else 0
        return (f"Word2Vec({'sg' if self.sg else 'cbow'}, {n} words, dim={self.vector_size}, window={self.window}, "
                f"negative={self.negative}, hs={self.hs}, epochs_done={self.epochs_done})")


def _check_device(device):
    if device not in ("cpu", "cuda", "emulated"):
        raise ValueError(f"Word2Vec: device must be 'cpu', 'cuda' or 'emulated', got {device!r}")
    if device == "cuda":
        if not _C.cuda_compiled:
            raise RuntimeError("Word2Vec: device='cuda' but fastnlp was built without CUDA (rebuild with FASTNLP_CUDA=ON)")
        if _C.cuda_device_count() == 0:
            raise RuntimeError("Word2Vec: device='cuda' but no CUDA device is visible")


_HOOKS = ("on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end")


def _is_hook_object(cb):
    return any(callable(getattr(cb, h, None)) for h in _HOOKS)


def _check_callbacks(callbacks):
    for i, cb in enumerate(callbacks):
        if not _is_hook_object(cb) and not callable(cb):
            raise TypeError(f"train: callbacks[{i}] ({type(cb).__name__}) has none of {', '.join(_HOOKS)} and is "
                            "not callable")
    return callbacks


def _call_hooks(callbacks, name, model):
    """Calls `name`(model) on every callback object defining it (gensim's CallbackAny2Vec protocol)."""
    for cb in callbacks:
        hook = getattr(cb, name, None)
        if callable(hook):
            hook(model)


def _check_reiterable(sentences):
    if isinstance(sentences, (str, bytes)):
        raise TypeError("word2vec: sentences must be an iterable of token lists, got a str "
                        "(for a file use corpus_file=)")
    try:
        it = iter(sentences)
    except TypeError:
        raise TypeError(f"word2vec: sentences must be an iterable of token lists, got "
                        f"{type(sentences).__name__}") from None
    if it is sentences:
        raise TypeError("word2vec: sentences must be re-iterable (a list, or an object whose __iter__ starts "
                        "over), got a one-shot iterator or generator; for files use corpus_file=")


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.generic):
        return x.item()
    return x


class _Progress:
    """A tqdm bar over epochs (fractional), with words/s, the running loss and the learning rate;
    nothing when disabled."""

    def __init__(self, epochs, enabled):
        self.done = 0.0
        self.bar = progress_bar(total=epochs, desc="word2vec", unit="epoch", enabled=enabled,
                                bar_format="{l_bar}{bar}| {n:.2f}/{total_fmt} [{elapsed}<{remaining}{postfix}]")

    def update(self, epoch, p, seconds):
        if self.bar.disable:
            return
        now = epoch + p["fraction"]
        wps = p["tokens"] / seconds if seconds > 0 else 0.0
        loss = p["loss"] / p["examples"] if p["examples"] else float("nan")
        self.bar.set_postfix_str(f"{wps / 1e3:.0f}k words/s, loss {loss:.4f}, lr {p['alpha']:.5f}", refresh=False)
        self.bar.update(max(0.0, now - self.done))
        self.done = max(self.done, now)

    def close(self):
        self.bar.close()
