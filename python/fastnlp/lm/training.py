"""Training of RNNLanguageModel (fastnlp.lm.model): truncated BPTT over B parallel streams of one
token stream (state carried across segments, no gradient through it), gradient-norm clipping and
SGD with Zaremba's learning-rate decay, the per-epoch ``training_history``, progress, and
resumable checkpoints written after every epoch."""

import math
import os
import sys
import time

from typing import TYPE_CHECKING, Any, Optional, TextIO

from .. import ops, optim, safeformat
from .data import batchify, fingerprint
from .network import VERSION, Data, _positive_int

if TYPE_CHECKING:
    from .model import RNNLanguageModel

CHECKPOINT_FORMAT = "fastnlp-lm-checkpoint"

# Zaremba et al. (2014), section 4.1, and their ptb_word_lm.py: small (2 x 200, no dropout; 13
# epochs, lr 1 halved every epoch after the 4th) and medium (2 x 650, dropout 0.5, BPTT 35; 39
# epochs, lr 1 divided by 1.2 every epoch after the 6th, as the paper states: the TensorFlow
# tutorial's 0.8 is a slightly faster decay). Both clip the gradient norm at 5.
SIZES = {
    "small": dict(hidden=200, layers=2, dropout=0.0, init_scale=0.1,
                  train=dict(epochs=13, batch_size=20, bptt=20, lr=1.0, lr_decay=0.5, decay_after=4,
                             max_grad_norm=5.0)),
    "medium": dict(hidden=650, layers=2, dropout=0.5, init_scale=0.05,
                   train=dict(epochs=39, batch_size=20, bptt=35, lr=1.0, lr_decay=1 / 1.2, decay_after=6,
                              max_grad_norm=5.0)),
}
TRAIN_DEFAULTS = dict(SIZES["small"]["train"], sampled=0)


class _Progress:
    """tqdm bar over the training steps of all epochs (loss, perplexity, words/s, ETA); a line every
    30 s on the stream when tqdm is missing; nothing when stream is None."""

    def __init__(self, stream, total_steps, done_steps):
        self.stream, self.bar, self.last = stream, None, time.perf_counter()
        if stream is None:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return
        self.bar = tqdm(total=total_steps, initial=done_steps, unit="step", desc="lm train", file=stream,
                        dynamic_ncols=True, mininterval=1.0)

    def update(self, epoch, epochs, loss, words_per_s, steps, step, epoch_steps):
        ppl = math.exp(min(loss, 50.0))
        if self.bar is not None:
            self.bar.update(steps)
            self.bar.set_postfix_str(f"epoch {epoch + 1}/{epochs} loss {loss:.3f} ppl {ppl:.1f} "
                                     f"{words_per_s:.0f} w/s", refresh=False)
        elif self.stream is not None and time.perf_counter() - self.last >= 30.0:
            self.last = time.perf_counter()
            self.message(f"epoch {epoch + 1}/{epochs} step {step}/{epoch_steps} loss {loss:.3f} ppl {ppl:.1f} "
                         f"{words_per_s:.0f} words/s")

    def message(self, text):
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        elif self.stream is not None:
            self.stream.write(text + "\n")
            self.stream.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()


class LMTraining:
    """fit(), its learning-rate schedule, training_history and checkpoints (a mixin of RNNLanguageModel)."""

    @property
    def history(self) -> list:
        """The same list as ``training_history`` (the name this class used first)."""
        return self.training_history

    @history.setter
    def history(self, value: list) -> None:
        self.training_history = value

    @staticmethod
    def learning_rate(epoch: int, lr: float, lr_decay: float, decay_after: int) -> float:
        """Zaremba's schedule: lr for the first ``decay_after`` epochs, then times lr_decay per epoch
        (epoch counts from 0).

        Parameters
        ----------
        epoch : int
            The epoch, from 0.
        lr : float
            The initial learning rate.
        lr_decay : float
            The factor per epoch after decay_after.
        decay_after : int
            Epochs at the initial rate.

        Returns
        -------
        float
            ``lr * lr_decay ** max(epoch + 1 - decay_after, 0)``.
        """
        return lr * lr_decay ** max(epoch + 1 - decay_after, 0)

    def fit(self, train: Data, valid: Optional[Data] = None, checkpoint: Optional[str] = None, resume: bool = False,
            progress: Optional[TextIO] = sys.stderr, **options: Any) -> "RNNLanguageModel":
        """Trains by truncated BPTT over ``train`` (a path in the model's format, a token list or an
        id array); options override TRAIN_DEFAULTS (epochs, batch_size, bptt, lr, lr_decay,
        decay_after, max_grad_norm, sampled).

        Each epoch starts from the zero state and walks the B streams (data.batchify) bptt steps at
        a time, carrying the state across segments without gradient; the gradient is that of the
        per-stream loss summed over the segment's steps (Zaremba's), clipped to max_grad_norm, and
        applied by SGD at the epoch's learning rate. After each epoch a dict joins
        self.training_history: "epoch", "lr", "loss" (the mean training loss per token, nats; also
        under "train_loss"), "train_perplexity", "seconds", "words_per_s" and, when ``valid`` is
        given, "valid_perplexity"; then the checkpoint (a path) is written atomically; resume=True
        continues from it exactly.

        Parameters
        ----------
        train : str, list of str or numpy.ndarray
            The training text (a path read in the model's format), its tokens, or their ids.
        valid : same kinds, optional
            Scored (perplexity) after every epoch.
        checkpoint : str, optional
            Path of the checkpoint written after every epoch.
        resume : bool
            Continue from ``checkpoint`` when it exists (same data, model and settings; the number
            of epochs may differ).
        progress : stream or None
            Where the progress bar goes (None: nowhere).
        **options
            Training settings overriding TRAIN_DEFAULTS.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            an option unknown or out of range, or a checkpoint of another model or data.
        """
        unknown = set(options) - set(TRAIN_DEFAULTS)
        if unknown:
            raise ValueError(f"fit: unknown options {sorted(unknown)}; known: {sorted(TRAIN_DEFAULTS)}")
        c = dict(TRAIN_DEFAULTS, **options)
        for k in ("epochs", "batch_size", "bptt"):
            c[k] = _positive_int(k, c[k])
        c["sampled"] = int(c["sampled"])
        if c["sampled"] < 0:
            raise ValueError(f"sampled must be >= 0, got {c['sampled']}")
        for k in ("lr", "max_grad_norm"):
            if not c[k] > 0:
                raise ValueError(f"{k} must be positive, got {c[k]!r}")
        if not 0 < c["lr_decay"] <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {c['lr_decay']!r}")
        ids = self._read(train, "train")
        streams = batchify(ids, c["batch_size"])
        valid_ids = None if valid is None else self._read(valid, "valid")
        self.train_config = c
        fp = fingerprint(ids)
        start_epoch = 0
        if resume:
            if checkpoint is None:
                raise ValueError("resume=True needs checkpoint=PATH")
            if os.path.exists(checkpoint):
                start_epoch = self._restore_checkpoint(checkpoint, fp, c)
        opt = optim.SGD(self.parameters(), lr=c["lr"])
        B, N = streams.shape
        steps = [(i, min(c["bptt"], N - 1 - i)) for i in range(0, N - 1, c["bptt"])]
        prog = _Progress(progress, len(steps) * c["epochs"], len(steps) * start_epoch)
        try:
            for epoch in range(start_epoch, c["epochs"]):
                opt.lr = self.learning_rate(epoch, c["lr"], c["lr_decay"], c["decay_after"])
                state = self.init_state(B)
                total, words, t0 = 0.0, 0, time.perf_counter()
                for s, (i, T) in enumerate(steps):
                    loss, state = self.loss_and_grad(streams[:, i:i + T], streams[:, i + 1:i + 1 + T], state,
                                                     scale=T, sampled=c["sampled"])
                    ops.clip_grad_norm(self.parameters(), c["max_grad_norm"])
                    opt.step()
                    total += loss * T
                    words += B * T
                    prog.update(epoch, c["epochs"], total / (words / B), words / (time.perf_counter() - t0), 1,
                                s + 1, len(steps))
                seconds = time.perf_counter() - t0
                mean = total / (words / B)
                entry = {"epoch": epoch + 1, "lr": opt.lr, "loss": mean, "train_loss": mean,
                         "train_perplexity": math.exp(mean), "seconds": seconds,
                         "words_per_s": words / seconds}
                if valid_ids is not None:
                    entry["valid_perplexity"] = self.perplexity(valid_ids)["perplexity"]
                self.training_history.append(entry)
                prog.message(f"epoch {epoch + 1}/{c['epochs']}: lr {opt.lr:g} train ppl "
                             f"{entry['train_perplexity']:.2f}"
                             + (f" valid ppl {entry['valid_perplexity']:.2f}" if valid_ids is not None else "")
                             + f" ({seconds:.0f} s, {entry['words_per_s']:.0f} words/s)")
                if checkpoint:
                    self._write_checkpoint(checkpoint, epoch + 1, fp)
        finally:
            prog.close()
        return self


    def _write_checkpoint(self, path, epoch, fp):
        header = self._header()
        header.update(epoch=epoch, fingerprint=fp, train_config=self.train_config, rng=self.rng.bit_generator.state)
        safeformat.save(path, CHECKPOINT_FORMAT, VERSION, header, self._arrays())

    def _restore_checkpoint(self, path, fp, train_config):
        ck, header, _ = self._from_file(path, CHECKPOINT_FORMAT, "language-model checkpoint")
        if header["fingerprint"] != fp:
            raise ValueError(f"{path}: checkpoint was made on other training data; remove it to start afresh")
        if ck.config != self.config or ck.vocab.index_to_word != self.vocab.index_to_word:
            raise ValueError(f"{path}: checkpoint was made for another model: {ck.config}")
        # more (or fewer) epochs may be asked of a resumed run; every other setting must agree
        if {k: v for k, v in header["train_config"].items() if k != "epochs"} != \
                {k: v for k, v in train_config.items() if k != "epochs"}:
            raise ValueError(f"{path}: checkpoint was made with other training settings: {header['train_config']}")
        for p, q in zip(self.parameters(), ck.parameters()):
            p.value[...] = q.value
        self.training_history = ck.training_history
        self.rng.bit_generator.state = header["rng"]
        return int(header["epoch"])
