"""RNNLanguageModel (Mikolov et al. 2010; Zaremba et al. 2014): embeddings -> stacked LSTM / GRU /
Elman -> softmax over the vocabulary, dropout on the non-recurrent connections, trained by truncated
BPTT over B parallel streams of one token stream (state carried across segments, no gradient
through it), gradient-norm clipping and SGD with Zaremba's learning-rate decay. Full softmax or
sampled softmax (log-uniform proposal) in training, full softmax in evaluation. Explicit forward /
backward through fastnlp.ops; files through fastnlp.safeformat; checkpoints at every epoch."""

import math
import os
import sys
import time

from typing import Any, List, Optional, Sequence, TextIO, Tuple, Union

import numpy as np
from numpy.typing import DTypeLike

from .. import ops, optim, safeformat
from ..nn.module import Parameter, load_parameter_arrays, parameter_arrays
from .data import FORMATS, Vocabulary, batchify, fingerprint, read_tokens
from .sampling import LogUniformSampler

FORMAT, CHECKPOINT_FORMAT, VERSION = "fastnlp-lm", "fastnlp-lm-checkpoint", 1
CELLS = ("lstm", "gru", "elman")

# Zaremba et al. (2014), Table 1 and their ptb_word_lm.py: small (no dropout) and medium.
SIZES = {
    "small": dict(hidden=200, layers=2, dropout=0.0, init_scale=0.1,
                  train=dict(epochs=13, batch_size=20, bptt=20, lr=1.0, lr_decay=0.5, decay_after=4,
                             max_grad_norm=5.0)),
    "medium": dict(hidden=650, layers=2, dropout=0.5, init_scale=0.05,
                   train=dict(epochs=39, batch_size=20, bptt=35, lr=1.0, lr_decay=0.8, decay_after=6,
                              max_grad_norm=5.0)),
}
TRAIN_DEFAULTS = dict(SIZES["small"]["train"], sampled=0)
_EVAL_BATCH, _EVAL_BPTT = 10, 50


def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


State = Tuple[np.ndarray, Optional[np.ndarray]]  # (h (layers, B, H), c (layers, B, H) or None)
Data = Union[str, os.PathLike, Sequence[str], np.ndarray]  # a path, tokens or ids

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


class RNNLanguageModel:
    """A word-level recurrent language model.

        lm = RNNLanguageModel(vocab, cell="lstm", hidden=200, layers=2)
        lm.fit("ptb.train.txt", valid="ptb.valid.txt", checkpoint="lm.ckpt")
        lm.perplexity("ptb.valid.txt"); lm.score(["the cat sat"]); lm.generate(20, seed=1)

    Parameters
    ----------
    vocab : Vocabulary or list of str
        The words, most frequent first (Vocabulary.build); must contain <eos>.
    cell : str
        "lstm" (default), "gru" or "elman".
    hidden : int
        Units per recurrent layer (H).
    layers : int
        Stacked recurrent layers.
    embed_dim : int, optional
        Word-vector size (default: hidden).
    dropout : float
        Dropout probability on the non-recurrent connections (embeddings, between layers, before the
        softmax), as in Zaremba et al.; 0 disables it.
    tied : bool
        Share the input embeddings with the output layer (Press & Wolf 2017; needs embed_dim == hidden).
    init_scale : float
        Every weight and bias starts uniform in [-init_scale, init_scale].
    seed : int
        Seeds the initialization and every random draw of training (dropout masks, samples).
    fmt : str
        The text format the model reads ("ptb" or "wikitext"; see fastnlp.lm.data.iter_sentences).
    dtype : numpy dtype
        float32 (default) or float64 (gradient checks).

    Raises
    ------
    ValueError
        an argument out of range (named in the message).
    """

    def __init__(self, vocab: Union[Vocabulary, Sequence[str]], cell: str = "lstm", hidden: int = 200, layers: int = 2,
                 embed_dim: Optional[int] = None, dropout: float = 0.0, tied: bool = False, init_scale: float = 0.1,
                 seed: int = 0, fmt: str = "ptb", dtype: DTypeLike = np.float32) -> None:
        self.vocab = vocab if isinstance(vocab, Vocabulary) else Vocabulary(vocab)
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
        hidden, layers = _positive_int("hidden", hidden), _positive_int("layers", layers)
        embed_dim = hidden if embed_dim is None else _positive_int("embed_dim", embed_dim)
        if not (isinstance(dropout, (int, float)) and 0.0 <= dropout < 1.0):
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        if tied and embed_dim != hidden:
            raise ValueError(f"tied: embed_dim ({embed_dim}) must equal hidden ({hidden})")
        if not (isinstance(init_scale, (int, float)) and init_scale > 0):
            raise ValueError(f"init_scale must be positive, got {init_scale!r}")
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.config = dict(cell=cell, hidden=hidden, layers=layers, embed_dim=embed_dim, dropout=float(dropout),
                           tied=bool(tied), init_scale=float(init_scale), seed=int(seed), fmt=fmt)
        self.dtype = dtype
        self.G = ops.cell_gates(cell)
        V, H, E, G = len(self.vocab), hidden, embed_dim, self.G
        init = np.random.default_rng(seed)

        def uniform(shape, name):
            return Parameter(init.uniform(-init_scale, init_scale, shape).astype(dtype), name)

        self.embedding = uniform((V, E), "embedding")
        self.rnn = []
        for k in range(layers):
            self.rnn.append([uniform((G * H, E if k == 0 else H), f"l{k}.W_ih"), uniform((G * H, H), f"l{k}.W_hh"),
                             uniform((G * H,), f"l{k}.b_ih"), uniform((G * H,), f"l{k}.b_hh")])
        self.W_out = self.embedding if tied else uniform((V, H), "W_out")
        self.b_out = uniform((V,), "b_out")
        self.rng = np.random.default_rng([int(seed), 1])   # dropout masks and samples
        self.sampler = LogUniformSampler(V)
        self.history = []
        self._cache = None

    # ---- parameters and state ----------------------------------------------------------------------

    def parameters(self) -> list:
        """Every Parameter once (the tied output layer is the embedding)."""
        ps = [self.embedding] + [p for layer in self.rnn for p in layer]
        return ps + ([] if self.config["tied"] else [self.W_out]) + [self.b_out]

    def init_state(self, batch_size: int) -> State:
        """The zero state for batch_size streams: (h (layers, B, H), c (layers, B, H) or None).

        Parameters
        ----------
        batch_size : int
            B, the number of streams.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray or None)
            h and, for an LSTM, c; zeros of the model's dtype.
        """
        L, H = self.config["layers"], self.config["hidden"]
        h = np.zeros((L, batch_size, H), self.dtype)
        return h, (np.zeros_like(h) if self.config["cell"] == "lstm" else None)

    def _dropout(self, x, train):
        p = self.config["dropout"]
        if not train or p == 0.0:
            return x, None
        return ops.dropout(x, p, seed=int(self.rng.integers(0, 2**63)))

    # ---- forward / backward ------------------------------------------------------------------------

    def forward(self, ids: np.ndarray, state: Optional[State] = None,
                train: bool = False) -> Tuple[np.ndarray, State]:
        """The top recurrent layer's outputs for a batch of segments.

        Parameters
        ----------
        ids : numpy.ndarray
            (B, T) word ids.
        state : tuple, optional
            (h, c) as from init_state or a previous forward (default: the zero state).
        train : bool
            Dropout on, and the forward keeps what loss_and_grad's backward needs.

        Returns
        -------
        top : numpy.ndarray
            (B*T, H), row b*T + t for stream b at step t (after dropout when train).
        state : tuple
            (h (layers, B, H), c (layers, B, H) or None): the state after the last step.

        Raises
        ------
        ValueError
            ids is not 2-D.
        """
        ids = np.ascontiguousarray(ids, np.int64)
        if ids.ndim != 2:
            raise ValueError(f"ids must be 2-D (B, T), got shape {ids.shape}")
        B, T = ids.shape
        h0, c0 = self.init_state(B) if state is None else state
        cell = self.config["cell"]
        x, mask = self._dropout(ops.embedding(self.embedding.value, ids), train)
        masks, saved, hs, cs = [mask], [], [], []
        for k, (W_ih, W_hh, b_ih, b_hh) in enumerate(self.rnn):
            h_k = np.ascontiguousarray(h0[k])
            c_k = None if c0 is None else np.ascontiguousarray(c0[k])
            out, h_n, c_n, ws = ops.rnn(cell, x, W_ih.value, W_hh.value, b_ih.value, b_hh.value, None, h_k, c_k,
                                        need_workspace=train)
            saved.append((x, h_k, c_k, ws))
            hs.append(h_n)
            cs.append(c_n)
            x, mask = self._dropout(out, train)
            masks.append(mask)
        top = x.reshape(B * T, -1)
        self._cache = (ids, masks, saved) if train else None
        return top, (np.stack(hs), None if c0 is None else np.stack(cs))

    def _backward(self, dtop):
        """Backpropagation from dtop (B*T, H) to every parameter; dense grads are added into .grad,
        the embedding's rows returned as (ids, rows) (the ids repeat)."""
        if self._cache is None:
            raise RuntimeError("RNNLanguageModel: backward needs a forward with train=True first")
        ids, masks, saved = self._cache
        p, cell = self.config["dropout"], self.config["cell"]
        d = dtop.reshape(ids.shape + (-1,))
        for k in reversed(range(len(self.rnn))):
            if masks[k + 1] is not None:
                d = ops.dropout_backward(d, masks[k + 1], p)
            W_ih, W_hh, b_ih, b_hh = self.rnn[k]
            x, h_k, c_k, ws = saved[k]
            grads = {"dW_ih": W_ih.grad, "dW_hh": W_hh.grad, "db_ih": b_ih.grad, "db_hh": b_hh.grad}
            g = ops.rnn_backward(cell, x, W_ih.value, W_hh.value, ws, np.ascontiguousarray(d), None, None,
                                 b_ih.value, b_hh.value, None, h_k, c_k, need_dx=True, need_dh0=False,
                                 grads=grads, accumulate=False)
            d = g["dx"]
        if masks[0] is not None:
            d = ops.dropout_backward(d, masks[0], p)
        self._cache = None
        return ids, d

    def _prepare_grads(self, sampled):
        """Dense .grad arrays where the backward writes one, None where it leaves sparse rows. The
        backward overwrites every dense gradient (rnn / linear backward without accumulate; the tied
        embedding's rows are added after the output layer wrote it), so only the bias of a sampled
        output layer, scattered into, is zeroed."""
        dense_embedding = self.config["tied"] and not sampled
        for p in self.parameters():
            p.sparse_grad = None
            if (p is self.embedding and not dense_embedding) or (p is self.W_out and sampled):
                p.grad = None   # sparse rows
            elif p.grad is None:
                p.grad = np.empty_like(p.value)
        if sampled:
            self.b_out.grad[...] = 0

    def loss_and_grad(self, inputs: np.ndarray, targets: np.ndarray, state: Optional[State] = None,
                      scale: float = 1.0, sampled: int = 0,
                      samples: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> Tuple[float, State]:
        """One training step's forward and backward over inputs / targets (B, T) from ``state``.

        The gradients of ``scale * mean loss`` are left in the Parameters: ``.grad`` (dense) and,
        for the embedding (and the output layer under sampled softmax), ``.sparse_grad`` = (unique
        ids, rows).

        Parameters
        ----------
        inputs, targets : numpy.ndarray
            (B, T) word ids; targets[b, t] is the word after inputs[b, t].
        state : tuple, optional
            (h, c) as from init_state or a previous step (default: the zero state).
        scale : float
            The gradients are those of ``scale * mean loss``.
        sampled : int
            > 0: train the output layer with sampled softmax over that many log-uniform samples
            (drawn from the model's generator unless `samples` is given); the loss is then the
            sampled loss. 0: full softmax.
        samples : (numpy.ndarray, numpy.ndarray), optional
            (ids, logq) of the samples to use with `sampled`.

        Returns
        -------
        loss : float
            The mean loss per token.
        state : tuple
            The new state (arrays: no gradient flows back through them into an earlier segment).
        """
        targets = np.ascontiguousarray(targets, np.int64).reshape(-1)
        self._prepare_grads(sampled)
        top, new_state = self.forward(inputs, state, train=True)
        W, b = self.W_out, self.b_out
        out_rows = None
        if sampled:
            if samples is None:
                samples = self.sampler.sample(int(sampled), self.rng, self.dtype)
            s_ids, s_logq = samples
            res = ops.sampled_softmax(top, W.value, b.value, targets, s_ids, self.sampler.logq(targets, len(s_ids),
                                      self.dtype), s_logq)
            loss = res.loss
            sc = self.dtype.type(scale)
            dtop = res.dh * sc
            out_rows = (res.grad_ids, res.grad_rows * sc)
            ops.embedding_backward(res.grad_ids, (res.grad_bias * sc)[:, None], b.grad.reshape(-1, 1))
        else:
            logits = ops.linear(top, W.value, b.value)
            loss, dlogits = ops.softmax_cross_entropy(logits, targets, grad_out=logits)
            if scale != 1.0:
                dlogits *= self.dtype.type(scale)
            dtop, _, _ = ops.linear_backward(top, W.value, dlogits, dlogits, dW=W.grad, db=b.grad)
        ids, demb = self._backward(dtop)
        if self.config["tied"] and not sampled:
            ops.embedding_backward(ids, demb, self.embedding.grad)
        else:
            e_ids, e_rows = ids.reshape(-1), demb.reshape(-1, demb.shape[-1])
            if out_rows is not None and self.config["tied"]:
                e_ids = np.concatenate([e_ids, out_rows[0]])
                e_rows = np.concatenate([e_rows, out_rows[1]])
            elif out_rows is not None:
                W.sparse_grad = ops.embedding_backward_sparse(*out_rows)
            self.embedding.sparse_grad = ops.embedding_backward_sparse(e_ids, e_rows)
        return float(loss), new_state

    def gradient_arrays(self) -> list:
        """The gradient arrays of the last loss_and_grad: dense grads and coalesced sparse rows."""
        out = []
        for p in self.parameters():
            if p.grad is not None:
                out.append(p.grad)
            if p.sparse_grad is not None:
                out.append(p.sparse_grad[1])
        return out

    # ---- training ----------------------------------------------------------------------------------

    def _read(self, data, what, fmt=None):
        """ids of a path (read in fmt, default the model's) or of a token list."""
        if isinstance(data, (str, os.PathLike)):
            data = read_tokens(os.fspath(data), fmt or self.config["fmt"])
        elif isinstance(data, np.ndarray) and data.dtype.kind in "iu":
            if data.size and (data.min() < 0 or data.max() >= len(self.vocab)):
                raise ValueError(f"{what}: ids must be in [0, {len(self.vocab)})")
            return np.ascontiguousarray(data, np.int64)
        return self.vocab.encode(list(data), what)

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
        applied by SGD at the epoch's learning rate. After each epoch the validation perplexity
        (when ``valid`` is given) joins self.history and the checkpoint (a path) is written
        atomically; resume=True continues from it exactly.

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
                    ops.clip_grad_norm(self.gradient_arrays(), c["max_grad_norm"])
                    opt.step()
                    total += loss * T
                    words += B * T
                    prog.update(epoch, c["epochs"], total / (words / B), words / (time.perf_counter() - t0), 1,
                                s + 1, len(steps))
                seconds = time.perf_counter() - t0
                entry = {"epoch": epoch + 1, "lr": opt.lr, "train_loss": total / (words / B),
                         "train_perplexity": math.exp(total / (words / B)), "seconds": seconds,
                         "words_per_s": words / seconds}
                if valid_ids is not None:
                    entry["valid_perplexity"] = self.perplexity(valid_ids)["perplexity"]
                self.history.append(entry)
                prog.message(f"epoch {epoch + 1}/{c['epochs']}: lr {opt.lr:g} train ppl "
                             f"{entry['train_perplexity']:.2f}"
                             + (f" valid ppl {entry['valid_perplexity']:.2f}" if valid_ids is not None else "")
                             + f" ({seconds:.0f} s, {entry['words_per_s']:.0f} words/s)")
                if checkpoint:
                    self._write_checkpoint(checkpoint, epoch + 1, fp)
        finally:
            prog.close()
        return self

    # ---- evaluation --------------------------------------------------------------------------------

    def _logits(self, top):
        return ops.linear(top, self.W_out.value, self.b_out.value)

    def perplexity(self, data: Data, fmt: Optional[str] = None, batch_size: int = _EVAL_BATCH,
                   bptt: int = _EVAL_BPTT) -> dict:
        """Perplexity of the model on ``data`` (a path read in ``fmt``, default the model's format; a
        token list; or an id array), full softmax.

        Every token of the stream is predicted, the first from an <eos> context. The stream is read
        as batch_size contiguous streams, each starting from the zero state; the tokens left over
        continue the last stream one at a time from its state.

        Parameters
        ----------
        data : str, os.PathLike, list of str or numpy.ndarray
            A path read in `fmt`, tokens, or their ids.
        fmt : str, optional
            "ptb" or "wikitext" (default: the model's format).
        batch_size : int
            Contiguous streams scored together.
        bptt : int
            Steps per forward.

        Returns
        -------
        dict
            perplexity, tokens (the number predicted), loss (mean negative log-likelihood, nats).

        Raises
        ------
        ValueError
            no tokens, batch_size or bptt not a positive int, a word outside the vocabulary when it
            has no <unk>.
        """
        ids = self._read(data, "data", fmt)
        if len(ids) == 0:
            raise ValueError("data: no tokens")
        stream = np.concatenate([[self.vocab.eos], ids])  # the first token is predicted from <eos>
        batch_size = _positive_int("batch_size", batch_size)
        bptt = _positive_int("bptt", bptt)
        n = (len(stream) - 1) // batch_size
        total = 0.0
        last_state = None
        if n >= 1:
            x = stream[:n * batch_size].reshape(batch_size, n)
            y = stream[1:n * batch_size + 1].reshape(batch_size, n)
            state = self.init_state(batch_size)
            for i in range(0, n, bptt):
                top, state = self.forward(x[:, i:i + bptt], state)
                total += self._nll_sum(top, y[:, i:i + bptt])
            h, c = state
            last_state = (h[:, -1:].copy(), None if c is None else c[:, -1:].copy())
        rest = len(stream) - 1 - n * batch_size
        if rest:
            start = n * batch_size
            top, _ = self.forward(stream[None, start:start + rest], last_state)
            total += self._nll_sum(top, stream[None, start + 1:start + 1 + rest])
        loss = total / len(ids)
        return {"perplexity": math.exp(loss), "tokens": int(len(ids)), "loss": loss}

    def _nll_sum(self, top, targets):
        targets = np.ascontiguousarray(targets, np.int64).reshape(-1)
        _, _, losses = ops.softmax_cross_entropy(self._logits(top), targets, return_grad=False, return_losses=True)
        return float(losses.sum(dtype=np.float64))

    def score(self, sentences: Union[Sequence[str], Sequence[Sequence[str]]], batch_size: int = 64) -> np.ndarray:
        """log P(sentence) (natural log, float64) for each sentence: its words and the closing <eos>,
        each predicted from the words before it, starting from the zero state and an <eos> context.

        Parameters
        ----------
        sentences : list of str or list of list of str
            Whitespace-tokenized strings, or token lists; words outside the vocabulary are <unk>.
        batch_size : int
            Sentences run together (padded after their end, which cannot change their scores).

        Returns
        -------
        numpy.ndarray
            (len(sentences),) float64 log-probabilities.

        Raises
        ------
        TypeError
            sentences is a single str.
        """
        if isinstance(sentences, str):
            raise TypeError("sentences must be a list of sentences, got one str")
        encoded = [self.vocab.encode(s.split() if isinstance(s, str) else list(s), "sentences")
                   for s in sentences]
        out = np.zeros(len(encoded), np.float64)
        eos = self.vocab.eos
        for lo in range(0, len(encoded), batch_size):
            chunk = encoded[lo:lo + batch_size]
            lengths = np.array([len(s) + 1 for s in chunk], np.int64)
            T = int(lengths.max())
            x = np.full((len(chunk), T), eos, np.int64)
            y = np.full((len(chunk), T), eos, np.int64)
            for j, s in enumerate(chunk):
                x[j, 1:len(s) + 1] = s
                y[j, :len(s)] = s
            top, _ = self.forward(x)   # padding sits after each sentence: it cannot change its scores
            logp = ops.log_softmax(self._logits(top)).reshape(len(chunk), T, -1)
            picked = np.take_along_axis(logp, y[:, :, None], axis=2)[:, :, 0].astype(np.float64)
            valid = np.arange(T)[None, :] < lengths[:, None]
            out[lo:lo + len(chunk)] = (picked * valid).sum(axis=1)
        return out

    def generate(self, n_words: int, temperature: float = 1.0, seed: int = 0,
                 context: Union[str, Sequence[str], None] = None) -> List[str]:
        """n_words words sampled one at a time from softmax(logits / temperature), starting after
        ``context`` (a str or token list; default: a sentence start). <eos> marks sentence ends.

        Parameters
        ----------
        n_words : int
            How many words (>= 0).
        temperature : float
            > 0; below 1 sharpens the distribution, above 1 flattens it.
        seed : int
            Seeds the sampling.
        context : str or list of str, optional
            Words to continue (a str is split at whitespace).

        Returns
        -------
        list of str
            The sampled words (the same for the same seed).

        Raises
        ------
        ValueError
            n_words < 0 or temperature <= 0.
        """
        if isinstance(n_words, bool) or not isinstance(n_words, (int, np.integer)) or n_words < 0:
            raise ValueError(f"n_words must be an int >= 0, got {n_words!r}")
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        rng = np.random.default_rng(seed)
        prefix = [self.vocab.eos]
        if context is not None:
            prefix += list(self.vocab.encode(context.split() if isinstance(context, str) else list(context),
                                             "context"))
        top, state = self.forward(np.array([prefix], np.int64))
        words = []
        for _ in range(int(n_words)):
            logits = self._logits(top[-1:]).astype(np.float64)[0] / temperature
            p = np.exp(logits - logits.max())
            k = int(rng.choice(len(p), p=p / p.sum()))
            words.append(self.vocab.index_to_word[k])
            top, state = self.forward(np.array([[k]], np.int64), state)
        return words

    # ---- files -------------------------------------------------------------------------------------

    def _header(self):
        return {"config": self.config, "history": self.history, "dtype": self.dtype.name}

    def _arrays(self):
        arrays = parameter_arrays(self.parameters())
        blob, offsets = safeformat.encode_strings(self.vocab.index_to_word)
        arrays.update(vocab_blob=blob, vocab_offsets=offsets)
        return arrays

    def _set_params(self, arrays, bad):
        load_parameter_arrays(self.parameters(), arrays, "param", bad, "this model")

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Writes the model to ``path`` in fastnlp's safe format (atomically; never pickle).

        Parameters
        ----------
        path : str or os.PathLike
            The file.
        """
        safeformat.save(path, FORMAT, VERSION, self._header(), self._arrays())

    @classmethod
    def _from_file(cls, path, format_name, what):
        header, arrays, bad = safeformat.load(path, format_name, VERSION, ("vocab_blob", "vocab_offsets"), what)
        try:
            words = safeformat.decode_strings(arrays["vocab_blob"], arrays["vocab_offsets"], bad)
            lm = cls(words, dtype=header["dtype"], **header["config"])
            lm._set_params(arrays, bad)
            lm.history = list(header.get("history", []))
        except (KeyError, TypeError) as e:
            raise bad(f"header lacks or mangles {e}") from e
        except ValueError as e:
            if str(e).startswith(os.fspath(path)):
                raise
            raise bad(str(e)) from e
        return lm, header, arrays

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "RNNLanguageModel":
        """A model written by save(), or the model in a training checkpoint (MODEL.ckpt, e.g. of a
        run stopped before its last epoch).

        Parameters
        ----------
        path : str or os.PathLike
            The model or checkpoint file.

        Returns
        -------
        RNNLanguageModel

        Raises
        ------
        ValueError
            the file is not a valid fastnlp language model (the message says why).
        """
        try:
            return cls._from_file(path, FORMAT, "language model")[0]
        except ValueError as e:
            if f"header format is '{CHECKPOINT_FORMAT}'" not in str(e):
                raise
        return cls._from_file(path, CHECKPOINT_FORMAT, "language-model checkpoint")[0]

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
        self.history = ck.history
        self.rng.bit_generator.state = header["rng"]
        return int(header["epoch"])
