"""Word2Vec's training loop: each epoch runs in ``fastnlp._C.Word2VecTrainer`` (C++ threads, the GIL
released) while this module feeds it (stream mode: sentences encoded in C++ by chunks), polls its
progress into a tqdm bar, calls gensim-style callbacks and stops it cleanly on KeyboardInterrupt.
"""

import logging
import time

from typing import Any, Dict, Iterable, List, Optional, Sequence

from .. import _C
from .._progress import progress_bar
from ._settings import Corpus, _check_device, _check_reiterable, _paths

logger = logging.getLogger(__package__)  # fastnlp.word2vec, as before the split


class TrainingMixin:
    """Word2Vec's train() and what it needs (the class is in fastnlp.word2vec)."""

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

