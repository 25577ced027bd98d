"""RNNLanguageModel (fastnlp.lm): the whole LM loss against PyTorch (weights copied) and a float64
central-difference gradient check, state carried across segments, score / perplexity against
step-by-step log-probabilities, the log-uniform sampler's probabilities, readers, save / load /
resume, CLI. Tolerances: float64 1e-9 relative (+1e-11 absolute), float32 vs PyTorch 2e-4 relative
(+2e-6 absolute) on reductions of at most a few hundred terms."""

import json
import os

import numpy as np
import pytest

from fastnlp import ops
from fastnlp.lm import LogUniformSampler, RNNLanguageModel, Vocabulary, iter_sentences, read_tokens
from fastnlp.lm.model import CHECKPOINT_FORMAT

from gradcheck import numeric_grad

WORDS = ["<eos>", "the", "cat", "sat", "on", "mat", "<unk>", "a", "dog"]


def tiny(cell="lstm", tied=False, dropout=0.0, dtype=np.float64, hidden=5, layers=2, seed=3, init_scale=0.3):
    return RNNLanguageModel(WORDS, cell=cell, hidden=hidden, layers=layers, dropout=dropout, tied=tied,
                            init_scale=init_scale, seed=seed, dtype=dtype)


def dense_grad(p):
    g = np.zeros_like(p.value) if p.grad is None else p.grad.copy()
    if p.sparse_grad is not None:
        ids, rows = p.sparse_grad
        np.add.at(g, ids, rows)
    return g


def stream(n, seed=0):
    return np.random.default_rng(seed).integers(0, len(WORDS), n)


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_and_gradients_match_pytorch(cell, tied, dtype):
    torch = pytest.importorskip("torch")
    from fastnlp.lm.torch_mirror import torch_grads, torch_lm

    lm = tiny(cell, tied, dtype=dtype)
    m = torch_lm(lm)
    streams = stream(3 * 15, seed=1).reshape(3, 15)
    rtol, atol = (1e-9, 1e-11) if dtype == np.float64 else (2e-4, 2e-6)
    state, tstate = None, None
    for i in (0, 7):   # two segments, the state carried (and detached) in between
        x, y = streams[:, i:i + 7], streams[:, i + 1:i + 8]
        loss, state = lm.loss_and_grad(x, y, state, scale=7.0)
        m.zero_grad()
        logits, tstate = m(torch.from_numpy(x), tstate)
        tloss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y).reshape(-1))
        (tloss * 7.0).backward()
        tstate = tuple(None if s is None else s.detach() for s in tstate)
        np.testing.assert_allclose(loss, tloss.item(), rtol=rtol)
        for k, s in enumerate(state):
            if s is not None:
                np.testing.assert_allclose(s, tstate[k].numpy(), rtol=rtol, atol=atol)
        for p, g in zip(lm.parameters(), torch_grads(m, lm)):
            np.testing.assert_allclose(dense_grad(p), g, rtol=rtol, atol=atol, err_msg=p.name)


@pytest.mark.parametrize("cell,tied,dropout,sampled", [("lstm", False, 0.3, 0), ("gru", True, 0.2, 0),
                                                        ("elman", False, 0.0, 0), ("lstm", False, 0.3, 4),
                                                        ("lstm", True, 0.0, 4)])
def test_gradient_check_float64(cell, tied, dropout, sampled):
    """Central differences of the whole LM loss (dropout masks and samples held fixed) against
    the analytic gradients of every parameter."""
    lm = tiny(cell, tied, dropout, hidden=3)
    x = stream(8, seed=5).reshape(2, 4)
    y = stream(8, seed=6).reshape(2, 4)
    h0 = np.random.default_rng(7).uniform(-0.5, 0.5, (2, 2, 3))
    state = (h0, h0 * 0.5) if cell == "lstm" else (h0, None)
    rng_state = lm.rng.bit_generator.state
    samples = lm.sampler.sample(sampled, np.random.default_rng(9), np.float64) if sampled else None

    def loss():
        lm.rng.bit_generator.state = rng_state
        return lm.loss_and_grad(x, y, state, scale=2.0, sampled=sampled, samples=samples)[0] * 2.0

    loss()
    analytic = [dense_grad(p) for p in lm.parameters()]
    for p, g in zip(lm.parameters(), analytic):
        np.testing.assert_allclose(g, numeric_grad(loss, p.value), rtol=1e-5, atol=1e-8, err_msg=p.name)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_state_carried_across_segments_equals_one_sequence(cell):
    lm = tiny(cell, dropout=0.5)
    x = stream(2 * 12, seed=2).reshape(2, 12)
    whole, s_whole = lm.forward(x)
    parts, state = [], None
    for i in (0, 5, 9):
        top, state = lm.forward(x[:, i:{0: 5, 5: 9, 9: 12}[i]], state)
        parts.append(top.reshape(2, -1, top.shape[-1]))
    np.testing.assert_allclose(np.concatenate(parts, axis=1).reshape(whole.shape), whole, rtol=1e-12, atol=1e-14)
    for a, b in zip(state, s_whole):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def step_logprobs(lm, tokens):
    """log P of each token, predicted one step at a time from <eos> (the oracle)."""
    ids = lm.vocab.encode(tokens)
    top, state = lm.forward(np.array([[lm.vocab.eos]]))
    out = []
    for k in ids:
        logp = ops.log_softmax(lm._logits(top))[0]
        out.append(float(logp[k]))
        top, state = lm.forward(np.array([[k]]), state)
    return np.array(out)


def test_score_is_sum_of_token_logprobs():
    lm = tiny("lstm")
    sents = ["the cat sat on the mat", "a dog", "", "the zebra sat"]   # zebra is <unk>
    got = lm.score(sents, batch_size=3)
    want = [step_logprobs(lm, s.split() + ["<eos>"]).sum() for s in sents]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert got[1] == lm.score([["a", "dog"]])[0]


def test_perplexity_counts_every_token():
    lm = tiny("gru")
    tokens = [WORDS[i] for i in stream(23, seed=4)]
    lp = step_logprobs(lm, tokens)
    one = lm.perplexity(tokens, batch_size=1, bptt=4)
    assert one["tokens"] == 23
    np.testing.assert_allclose(one["perplexity"], np.exp(-lp.mean()), rtol=1e-10)
    # 3 streams of 7 tokens + 2 tokens continuing the last stream: every token predicted once,
    # the streams from their own start
    three = lm.perplexity(tokens, batch_size=3, bptt=5)
    ids = np.concatenate([[lm.vocab.eos], lm.vocab.encode(tokens)])
    total, state_last = 0.0, None
    for b in range(3):
        top, st = lm.forward(ids[None, b * 7:(b + 1) * 7])
        logp = ops.log_softmax(lm._logits(top))
        total += logp[np.arange(7), ids[b * 7 + 1:(b + 1) * 7 + 1]].sum()
        state_last = st
    top, _ = lm.forward(ids[None, 21:23], state_last)
    total += ops.log_softmax(lm._logits(top))[np.arange(2), ids[22:24]].sum()
    assert three["tokens"] == 23
    np.testing.assert_allclose(three["loss"], -total / 23, rtol=1e-10)


def test_log_uniform_sampler_probabilities():
    V = 50
    s = LogUniformSampler(V)
    p = s.probability(np.arange(V))
    np.testing.assert_allclose(p, (np.log(np.arange(V) + 2.0) - np.log(np.arange(V) + 1.0)) / np.log(V + 1.0),
                               rtol=1e-13)
    np.testing.assert_allclose(p.sum(), 1.0, rtol=1e-13)
    np.testing.assert_allclose(s.logq(np.array([0, 7]), 10), np.log(10 * p[[0, 7]]).astype(np.float32), rtol=1e-6)

    class Fixed:   # the inverse CDF at the middle of each id's interval of u gives that id
        def random(self, n):
            cdf = np.log(np.arange(V + 1) + 1.0) / np.log(V + 1.0)
            return ((cdf[:-1] + cdf[1:]) / 2)[:n]

    ids, _ = s.sample(V, Fixed())
    np.testing.assert_array_equal(ids, np.arange(V))
    ids, logq = s.sample(200_000, np.random.default_rng(0))
    assert ids.min() >= 0 and ids.max() < V
    freq = np.bincount(ids, minlength=V) / ids.size
    np.testing.assert_allclose(freq, p, atol=5 * np.sqrt(p * (1 - p) / ids.size).max())
    np.testing.assert_allclose(logq, np.log(200_000 * p[ids]), rtol=1e-5)
    with pytest.raises(ValueError, match="K must be a positive int"):
        s.sample(0, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"ids must be in \[0, 50\)"):
        s.probability([50])
