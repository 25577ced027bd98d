"""The network of RNNLanguageModel (fastnlp.lm.model): embeddings -> stacked LSTM / GRU / Elman ->
output layer, its parameters, explicit forward / backward through fastnlp.ops (dropout on the
non-recurrent connections, Zaremba et al. 2014), one training step's loss and gradients under full
or sampled softmax, and the file form of its parameters (fastnlp.safeformat)."""

import os

from typing import Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import DTypeLike

from .. import ops, safeformat
from ..nn.module import Parameter, load_parameter_arrays, parameter_arrays
from .data import FORMATS, Vocabulary, read_tokens
from .sampling import LogUniformSampler

FORMAT, VERSION = "fastnlp-lm", 1   # model files; checkpoints (training.py) share VERSION
CELLS = ("lstm", "gru", "elman")


def _positive_int(name, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return int(v)


State = Tuple[np.ndarray, Optional[np.ndarray]]  # (h (layers, B, H), c (layers, B, H) or None)
Data = Union[str, os.PathLike, Sequence[str], np.ndarray]  # a path, tokens or ids


class LMNetwork:
    """Parameters, forward / backward and files of a word-level recurrent language model; the
    public class is fastnlp.lm.RNNLanguageModel, whose docstring lists the arguments."""

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
        self.training_history = []   # one dict per epoch trained (LMTraining.fit)
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

    def _read(self, data, what, fmt=None):
        """ids of a path (read in fmt, default the model's) or of a token list."""
        if isinstance(data, (str, os.PathLike)):
            data = read_tokens(os.fspath(data), fmt or self.config["fmt"])
        elif isinstance(data, np.ndarray) and data.dtype.kind in "iu":
            if data.size and (data.min() < 0 or data.max() >= len(self.vocab)):
                raise ValueError(f"{what}: ids must be in [0, {len(self.vocab)})")
            return np.ascontiguousarray(data, np.int64)
        return self.vocab.encode(list(data), what)
    # ---- files -------------------------------------------------------------------------------------

    def _header(self):
        return {"config": self.config, "history": self.training_history, "dtype": self.dtype.name}

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
        with safeformat.wrap_errors(path, bad):
            words = safeformat.decode_strings(arrays["vocab_blob"], arrays["vocab_offsets"], bad)
            lm = cls(words, dtype=header["dtype"], **header["config"])
            lm._set_params(arrays, bad)
            # files from before the house key "loss" (the curve plots it) get it from "train_loss"
            lm.training_history = [dict(h, loss=h.get("loss", h.get("train_loss"))) for h in header.get("history", [])]
        return lm, header, arrays

