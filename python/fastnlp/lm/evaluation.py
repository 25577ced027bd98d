"""Evaluation of RNNLanguageModel (fastnlp.lm.model): perplexity under the full softmax, per-sentence
log-probabilities (score) and sampling (generate)."""

import math

from typing import List, Optional, Sequence, Union

import numpy as np

from .. import ops
from .network import Data, _positive_int

_EVAL_BATCH, _EVAL_BPTT = 10, 50


class LMEvaluation:
    """perplexity(), score() and generate() (a mixin of RNNLanguageModel)."""

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
        # fused: each vocabulary block's logits are reduced right after their GEMM, never stored
        return ops.linear_cross_entropy(top, self.W_out.value, self.b_out.value, targets) * len(targets)

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
            _, losses = ops.linear_cross_entropy(top, self.W_out.value, self.b_out.value, y.reshape(-1),
                                                 return_losses=True)
            picked = -losses.reshape(len(chunk), T).astype(np.float64)
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
