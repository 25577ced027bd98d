"""The BiLSTM-CNN-CRF network (fastnlp.tagging.bilstm) in PyTorch with fastnlp's weights copied over
(torch is optional, imported here only): what benchmarks/bench_tagger.py times against and what the
tests compare the loss, every gradient and the Viterbi output with. ``to_torch(net)`` builds the
mirror, ``grads_from_torch(mirror)`` reads its gradients back in fastnlp's layouts."""

from __future__ import annotations

import functools
from typing import Dict

import numpy as np

from .bilstm import Batch, BiLSTMCRF, padding_index
from .bilstm_tagger import PARAMS


def _t(a):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a))


def to_torch(net: BiLSTMCRF, sparse: bool = True):
    """A torch.nn.Module computing the same tag scores, CRF loss and Viterbi paths as `net`, its
    weights copied from `net` (dtype kept). sparse: the word table's gradient is sparse, as fastnlp's.

    Parameters
    ----------
    net : BiLSTMCRF
    sparse : bool

    Returns
    -------
    torch.nn.Module
        ``scores(batch)``, ``nll(scores, batch, tags)`` (summed over sentences) and
        ``viterbi(scores, batch, transitions, start)`` (tag ids, numpy int32).
    """
    return _classes()(net, sparse)


def grads_from_torch(mirror) -> Dict[str, np.ndarray]:
    """The mirror's gradients by the tagger file's parameter names (bilstm_tagger.PARAMS), in
    fastnlp's layouts (dense, the conv filters as (F, width*char_dim))."""
    out = {}
    for name, p in zip(PARAMS, mirror.ordered_parameters()):
        g = p.grad
        g = g.to_dense() if g.is_sparse else g
        g = g.detach().numpy()
        if name == "conv_W":   # torch (F, char_dim, width) -> fastnlp (F, width * char_dim)
            g = g.transpose(0, 2, 1).reshape(g.shape[0], -1)
        out[name] = np.ascontiguousarray(g)
    return out


@functools.lru_cache(maxsize=None)
def _classes():
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    class TorchBiLSTMCRF(nn.Module):
        def __init__(self, net, sparse):
            super().__init__()
            s = net.sizes
            K, D, F = s["char_width"], s["char_dim"], s["char_filters"]
            self.words = nn.Embedding(s["num_words"], s["word_dim"], sparse=sparse)
            self.chars = nn.Embedding(s["num_chars"], s["char_dim"])
            self.conv = nn.Conv1d(D, F, K, padding=K - 1)   # wide: K - 1 zeros each side
            self.lstm = nn.LSTM(s["word_dim"] + F, s["hidden"], batch_first=True, bidirectional=True)
            self.output = nn.Linear(2 * s["hidden"], s["num_tags"])
            self.transitions = nn.Parameter(torch.zeros(s["num_tags"], s["num_tags"]))
            self.start = nn.Parameter(torch.zeros(s["num_tags"]))
            self.to(torch.float64 if net.dtype == np.float64 else torch.float32)  # before the copies: exact
            with torch.no_grad():
                for p, a in zip(self.ordered_parameters(), (q.value for q in net.parameters())):
                    if p is self.conv.weight:   # fastnlp (F, K*D) -> torch (F, D, K)
                        a = a.reshape(F, K, D).transpose(0, 2, 1)
                    p.copy_(_t(a))
            self.p = net.in_dropout.p
            self.width = K

        def ordered_parameters(self):
            """In BiLSTMCRF.parameters() order."""
            m = self.lstm
            return [self.words.weight, self.chars.weight, self.conv.weight, self.conv.bias,
                    m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0,
                    m.weight_ih_l0_reverse, m.weight_hh_l0_reverse, m.bias_ih_l0_reverse, m.bias_hh_l0_reverse,
                    self.output.weight, self.output.bias, self.transitions, self.start]

        def scores(self, batch: Batch):
            drop = functools.partial(nn.functional.dropout, p=self.p, training=self.training)
            chars = torch.from_numpy(batch.chars.astype(np.int64))
            lengths = torch.from_numpy(batch.char_lengths)
            C = chars.shape[1]
            pad = torch.arange(C)[None, :] >= lengths[:, None]
            ce = drop(self.chars(chars)).masked_fill(pad[:, :, None], 0.0)     # past a word: zeros
            y = self.conv(ce.transpose(1, 2))                                   # (N, F, C + K - 1)
            valid = torch.arange(y.shape[2])[None, :] < (lengths + self.width - 1)[:, None]
            cf = y.masked_fill(~valid[:, None, :], float("-inf")).amax(dim=2)
            x = drop(torch.cat([self.words(torch.from_numpy(batch.words.astype(np.int64))), cf], dim=1))
            S, T, index, sent_lengths = padding_index(batch.offsets)
            index = torch.from_numpy(index)
            xp = x.new_zeros((S * T, x.shape[1])).index_copy(0, index, x).view(S, T, -1)
            packed = pack_padded_sequence(xp, torch.from_numpy(sent_lengths), batch_first=True,
                                          enforce_sorted=False)
            out, _ = self.lstm(packed)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)
            h = drop(out.reshape(S * T, -1).index_select(0, index))
            return self.output(h)

        def _padded(self, scores, batch):
            S, T, index, lengths = padding_index(batch.offsets)
            K = scores.shape[1]
            sp = scores.new_zeros((S * T, K)).index_copy(0, torch.from_numpy(index), scores).view(S, T, K)
            mask = torch.arange(T)[None, :] < torch.from_numpy(lengths)[:, None]
            return sp, mask, index, T

        def nll(self, scores, batch, tags):
            """Sum over sentences of log Z - score(gold), the forward algorithm batched over sentences."""
            sp, mask, index, T = self._padded(scores, batch)
            S = sp.shape[0]
            if S == 0:
                return scores.sum() * 0
            tags_p = torch.zeros(S * T, dtype=torch.int64).index_copy(
                0, torch.from_numpy(index), torch.from_numpy(tags.astype(np.int64))).view(S, T)
            trans, start = self.transitions, self.start
            alpha = start[None, :] + sp[:, 0]
            gold = start[tags_p[:, 0]] + sp[:, 0].gather(1, tags_p[:, :1])[:, 0]
            for t in range(1, T):
                m = mask[:, t]
                nxt = torch.logsumexp(alpha[:, :, None] + trans[None], dim=1) + sp[:, t]
                alpha = torch.where(m[:, None], nxt, alpha)
                step = trans[tags_p[:, t - 1], tags_p[:, t]] + sp[:, t].gather(1, tags_p[:, t:t + 1])[:, 0]
                gold = gold + torch.where(m, step, torch.zeros_like(step))
            return (torch.logsumexp(alpha, dim=1) - gold).sum()

        @torch.no_grad()
        def viterbi(self, scores, batch, transitions=None, start=None):
            """Best tag ids (N,) int32 (the decode scores default to the model's own)."""
            trans = self.transitions if transitions is None else _t(transitions).to(scores.dtype)
            first = self.start if start is None else _t(start).to(scores.dtype)
            sp, mask, index, T = self._padded(scores, batch)
            S = sp.shape[0]
            if S == 0:
                return np.zeros(0, np.int32)
            delta = first[None, :] + sp[:, 0]
            back = []
            for t in range(1, T):
                best, arg = (delta[:, :, None] + trans[None]).max(dim=1)
                m = mask[:, t][:, None]
                delta = torch.where(m, best + sp[:, t], delta)
                back.append(torch.where(m, arg, torch.arange(sp.shape[2])[None, :].expand_as(arg)))
            path = torch.empty((S, T), dtype=torch.int64)
            cur = delta.argmax(dim=1)
            for t in range(T - 1, 0, -1):
                path[:, t] = cur
                cur = back[t - 1].gather(1, cur[:, None])[:, 0]
            path[:, 0] = cur
            return path.view(-1)[torch.from_numpy(index)].numpy().astype(np.int32)

    return TorchBiLSTMCRF
