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


def corpus(n_lines=40, seed=0):
    rng = np.random.default_rng(seed)
    return [" ".join(WORDS[i] for i in rng.integers(1, len(WORDS), rng.integers(1, 8))) for _ in range(n_lines)]


def write(path, lines):
    path.write_text("".join(s + "\n" for s in lines), encoding="utf-8")
    return str(path)


def test_save_load_round_trip(tmp_path):
    lm = tiny("gru", tied=True, dtype=np.float32)
    lm.fit(read_tokens(write(tmp_path / "t.txt", corpus())), epochs=1, batch_size=3, bptt=4, progress=None)
    lm.save(tmp_path / "m.lm")
    back = RNNLanguageModel.load(tmp_path / "m.lm")
    assert back.config == lm.config and back.vocab.index_to_word == lm.vocab.index_to_word
    assert back.history == lm.history and back.W_out is back.embedding
    for p, q in zip(lm.parameters(), back.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    np.testing.assert_array_equal(back.score(["the cat", "a dog sat"]), lm.score(["the cat", "a dog sat"]))
    (tmp_path / "bad.lm").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a valid language model"):
        RNNLanguageModel.load(tmp_path / "bad.lm")


@pytest.mark.parametrize("sampled", [0, 3])
def test_resume_continues_exactly(tmp_path, sampled):
    tokens = read_tokens(write(tmp_path / "t.txt", corpus()))
    opts = dict(batch_size=3, bptt=5, lr=0.5, decay_after=1, sampled=sampled, progress=None)
    straight = tiny(dropout=0.3, dtype=np.float32).fit(tokens, valid=tokens[:50], epochs=3,
                                                       checkpoint=str(tmp_path / "a.ckpt"), **opts)
    first = tiny(dropout=0.3, dtype=np.float32).fit(tokens, valid=tokens[:50], epochs=1,
                                                    checkpoint=str(tmp_path / "b.ckpt"), **opts)
    resumed = tiny(dropout=0.3, dtype=np.float32).fit(tokens, valid=tokens[:50], epochs=3, resume=True,
                                                      checkpoint=str(tmp_path / "b.ckpt"), **opts)
    assert len(first.history) == 1 and [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert [h["lr"] for h in resumed.history] == [0.5, 0.25, 0.125]
    for p, q in zip(straight.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.value, q.value)
    assert [h["valid_perplexity"] for h in straight.history] == [h["valid_perplexity"] for h in resumed.history]
    with pytest.raises(ValueError, match="other training settings"):
        tiny(dropout=0.3, dtype=np.float32).fit(tokens, checkpoint=str(tmp_path / "b.ckpt"), resume=True,
                                                **dict(opts, bptt=6))
    with pytest.raises(ValueError, match="other training data"):
        tiny(dropout=0.3, dtype=np.float32).fit(tokens[:-10], checkpoint=str(tmp_path / "b.ckpt"), resume=True,
                                                **opts)
    from fastnlp import safeformat
    assert safeformat.load(tmp_path / "b.ckpt", CHECKPOINT_FORMAT, 1, (), "x")[0]["epoch"] == 3
    from_checkpoint = RNNLanguageModel.load(tmp_path / "b.ckpt")   # the model of a checkpoint loads too
    assert from_checkpoint.history == resumed.history
    for p, q in zip(from_checkpoint.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


def test_training_lowers_perplexity(tmp_path):
    """A few epochs on a text that repeats two sentences: the perplexity must fall from the uniform
    model's (8 words) to near 1 (every word but a sentence's first is determined by its context)."""
    lines = ["the cat sat on the mat", "a dog sat on a mat"] * 30
    lm = RNNLanguageModel(Vocabulary.build(read_tokens(write(tmp_path / "t.txt", lines))), hidden=16, seed=1,
                          init_scale=0.5)
    before = lm.perplexity(read_tokens(str(tmp_path / "t.txt")))["perplexity"]
    lm.fit(str(tmp_path / "t.txt"), epochs=4, batch_size=4, bptt=6, progress=None)
    after = lm.perplexity(str(tmp_path / "t.txt"))["perplexity"]
    assert before > 7 and after < 1.6, (before, after)


def test_training_history_and_curve(tmp_path):
    """The house training-curve API: one dict per epoch in training_history (history is the same
    list), with "loss" (= the mean training loss) and "valid_perplexity"; save_training_curve draws
    them; a file whose history predates "loss" gets it from "train_loss"."""
    tokens = read_tokens(write(tmp_path / "t.txt", corpus()))
    lm = tiny(dtype=np.float32).fit(tokens, valid=tokens[:40], epochs=2, batch_size=3, bptt=4, progress=None)
    assert lm.history is lm.training_history and [h["epoch"] for h in lm.training_history] == [1, 2]
    for h in lm.training_history:
        assert h["loss"] == h["train_loss"] and np.isclose(np.exp(h["loss"]), h["train_perplexity"])
    assert lm.training_history[-1]["valid_perplexity"] == lm.perplexity(tokens[:40])["perplexity"]
    pytest.importorskip("matplotlib")
    png = lm.save_training_curve(tmp_path / "curve.png")
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(png) > 1000
    lm.history = [{k: v for k, v in h.items() if k != "loss"} for h in lm.training_history]   # an older file
    lm.save(tmp_path / "old.lm")
    back = RNNLanguageModel.load(tmp_path / "old.lm")
    assert [h["loss"] for h in back.training_history] == [h["train_loss"] for h in lm.training_history]
    with pytest.raises(ValueError, match="no training history"):
        tiny().save_training_curve(tmp_path / "none.png")


def test_readers(tmp_path):
    p = write(tmp_path / "w.tokens", [" ", " = Title = ", " ", " a b , c ", "", " d "])
    assert list(iter_sentences(p, "wikitext")) == [["=", "Title", "="], ["a", "b", ",", "c"], ["d"]]
    assert read_tokens(p, "ptb") == ["<eos>", "=", "Title", "=", "<eos>", "<eos>", "a", "b", ",", "c", "<eos>",
                                     "<eos>", "d", "<eos>"]
    v = Vocabulary.build(["b", "a", "b", "<unk>"])
    assert v.index_to_word == ["b", "<unk>", "a", "<eos>"]   # by count, ties by string; <eos> always in
    assert list(v.encode(["a", "zzz"])) == [2, 1]
    with pytest.raises(ValueError, match="word 'zzz' is not in the vocabulary"):
        Vocabulary(["<eos>", "a"]).encode(["a", "zzz"], "data")
    with pytest.raises(ValueError, match="format must be one of"):
        list(iter_sentences(p, "conll"))


def test_generate_is_seeded():
    lm = tiny("lstm", dtype=np.float32)
    a = lm.generate(12, temperature=0.8, seed=5)
    assert len(a) == 12 and set(a) <= set(WORDS)
    assert a == lm.generate(12, temperature=0.8, seed=5)
    assert a != lm.generate(12, temperature=0.8, seed=6)
    cold = lm.generate(5, temperature=1e-3, seed=1, context="the cat")
    assert cold == lm.generate(5, temperature=1e-3, seed=2, context="the cat")   # greedy in the limit


@pytest.mark.parametrize("kwargs,match", [(dict(cell="lst"), "cell must be one of"),
                                          (dict(tied=True, embed_dim=4), r"tied: embed_dim \(4\) must equal"),
                                          (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
                                          (dict(hidden=0), "hidden must be a positive int"),
                                          (dict(init_scale=-1), "init_scale must be positive"),
                                          (dict(fmt="csv"), "fmt must be one of")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RNNLanguageModel(WORDS, **kwargs)


def test_bad_call_arguments():
    lm = tiny()
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        lm.generate(3, temperature=0)
    with pytest.raises(ValueError, match="n_words must be an int"):
        lm.generate(-1)
    with pytest.raises(ValueError, match="unknown options"):
        lm.fit(["the"] * 50, epoch=3)
    with pytest.raises(ValueError, match="batch_size: 30 streams"):
        lm.fit(["the"] * 50, batch_size=30, progress=None)
    with pytest.raises(TypeError, match="one str"):
        lm.score("the cat")
    with pytest.raises(ValueError, match="ids must be 2-D"):
        lm.forward(np.zeros(3, np.int64))


def test_cli_train_eval_generate(tmp_path, capsys):
    from fastnlp.cli import main

    (tmp_path / "ptb").mkdir()
    write(tmp_path / "ptb" / "ptb.train.txt", corpus(60))
    valid = write(tmp_path / "ptb" / "ptb.valid.txt", corpus(10, seed=1))
    model = str(tmp_path / "m.lm")
    args = ["lm", "train", "--task", "ptb", "--data-dir", str(tmp_path), "-o", model, "--epochs", "1",
            "--no-progress", "--sampled", "4"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["vocab_size"] == len(WORDS) and len(out["history"]) == 1
    assert not os.path.exists(model + ".ckpt")
    assert main(["lm", "eval", model, valid]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["tokens"] == len(read_tokens(valid)) and res["perplexity"] == pytest.approx(
        out["valid_perplexity"], rel=1e-9)
    assert main(["lm", "generate", model, "--words", "7", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert len(text.split()) <= 7 and text == (main(["lm", "generate", model, "--words", "7", "--seed", "3"]) or
                                               capsys.readouterr().out)
    assert main(["lm", "train", "--task", "ptb", "--data-dir", str(tmp_path / "none"), "-o", model]) == 1
    assert "no ptb file" in capsys.readouterr().err
    assert main(["lm", "eval", model, str(tmp_path / "missing.txt")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(args + ["--resume"]) == 1
    assert "--resume: no checkpoint" in capsys.readouterr().err


def test_cli_resume_continues_a_stopped_run(tmp_path, capsys):
    """A run stopped after its first epoch (its checkpoint left behind) and resumed by the CLI ends
    with the model of an uninterrupted run."""
    from fastnlp.cli import main

    (tmp_path / "ptb").mkdir()
    write(tmp_path / "ptb" / "ptb.train.txt", corpus(60))
    write(tmp_path / "ptb" / "ptb.valid.txt", corpus(10, seed=1))
    base = ["lm", "train", "--task", "ptb", "--data-dir", str(tmp_path), "--no-progress", "--sampled", "4",
            "--epochs", "2"]
    assert main(base + ["-o", str(tmp_path / "a.lm")]) == 0
    whole = json.loads(capsys.readouterr().out)
    tokens = read_tokens(str(tmp_path / "ptb" / "ptb.train.txt"))
    first = RNNLanguageModel(Vocabulary.build(tokens), hidden=200, layers=2, init_scale=0.1, seed=0)
    first.fit(tokens, valid=str(tmp_path / "ptb" / "ptb.valid.txt"), checkpoint=str(tmp_path / "b.lm.ckpt"),
              progress=None, epochs=1, sampled=4)
    assert main(base + ["-o", str(tmp_path / "b.lm"), "--resume"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    for key in ("epoch", "lr", "train_loss", "valid_perplexity"):   # times differ, nothing else
        assert [h[key] for h in resumed["history"]] == [h[key] for h in whole["history"]]
    a, b = RNNLanguageModel.load(tmp_path / "a.lm"), RNNLanguageModel.load(tmp_path / "b.lm")
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.value, q.value)


def test_cli_size_medium_on_a_tiny_slice(tmp_path, capsys):
    """--size medium is Zaremba's medium LSTM (2 x 650, dropout 0.5, init 0.05; BPTT 35, 39 epochs,
    lr 1 divided by 1.2 per epoch after the 6th); one epoch over a tiny slice trains and saves it."""
    from fastnlp.cli import main
    from fastnlp.lm import SIZES

    medium = SIZES["medium"]
    assert (medium["hidden"], medium["layers"], medium["dropout"], medium["init_scale"]) == (650, 2, 0.5, 0.05)
    c = medium["train"]
    assert (c["epochs"], c["batch_size"], c["bptt"], c["max_grad_norm"]) == (39, 20, 35, 5.0)
    lrs = [RNNLanguageModel.learning_rate(e, c["lr"], c["lr_decay"], c["decay_after"]) for e in range(8)]
    np.testing.assert_allclose(lrs, [1.0] * 6 + [1 / 1.2, 1 / 1.44], rtol=1e-12)
    (tmp_path / "ptb").mkdir()
    write(tmp_path / "ptb" / "ptb.train.txt", corpus(120))
    write(tmp_path / "ptb" / "ptb.valid.txt", corpus(5, seed=1))
    model = str(tmp_path / "m.lm")
    assert main(["lm", "train", "--task", "ptb", "--size", "medium", "--data-dir", str(tmp_path), "-o", model,
                 "--epochs", "1", "--no-progress", "--sampled", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["size"] == "medium" and len(out["history"]) == 1 and np.isfinite(out["valid_perplexity"])
    lm = RNNLanguageModel.load(model)
    assert {k: lm.config[k] for k in ("hidden", "layers", "dropout", "init_scale")} == \
        {"hidden": 650, "layers": 2, "dropout": 0.5, "init_scale": 0.05}
    assert lm.rnn[0][0].value.shape == lm.rnn[1][0].value.shape == (4 * 650, 650)
