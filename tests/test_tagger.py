"""Window taggers: the trainable network (window gather, float64 gradient check of every parameter for
word- and sentence-level log-likelihood), agreement of the training and inference paths, training on
small synthetic data, the safe model file (round trip, corruption), Tagger input handling, the shipped
pretrained models against the issue's development-set targets, and the `fastnlp tag` CLI."""

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import shared_data
from gradcheck import assert_grad_close

import fastnlp
from fastnlp import safeformat
from fastnlp.tagging import Tagger, load_tagger, tokenize
from fastnlp.tagging import _fast
from fastnlp.tagging import features as feat
from fastnlp.tagging.network import WindowNetwork, window_ids
from fastnlp.tagging.train import TaggerConfig, build_lexicons, check_tags, train_network

RTOL, ATOL = 1e-5, 1e-6  # float32 agreement of the C++ inference path with the NumPy-op training path


# Held-out scores the shipped models must reach (benchmarks/tagger_scores.py shows them in README).
HELDOUT_TARGETS = {"pos": 96.0, "chunk": 93.5, "ner": 91.0, "upos": 94.5}  # chunk: with Brown clusters


def ragged(lengths):
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def test_window_ids_against_a_loop(rng):
    lengths = [0, 1, 2, 5, 3, 0, 7]
    offsets = ragged(lengths)
    ids = rng.integers(2, 50, (offsets[-1], 3)).astype(np.int32)
    for window in (1, 3, 5, 7):
        got = window_ids(ids, offsets, window)
        for s in range(len(lengths)):
            for t in range(lengths[s]):
                for j in range(window):
                    u = t + j - window // 2
                    expected = ids[offsets[s] + u] if 0 <= u < lengths[s] else np.zeros(3, np.int32)
                    np.testing.assert_array_equal(got[:, offsets[s] + t, j], expected)


def _tiny_network(sll, rng, dtype=np.float64):
    net = WindowNetwork([9, feat.CAPS_SIZE], [4, 3], n_tags=5, window=3, hidden=6, sll=sll, seed=3, dtype=dtype)
    if sll:
        net.transitions.value[...] = rng.normal(size=(5, 5))
        net.start.value[...] = rng.normal(size=5)
    lengths = [3, 1, 4, 0, 2]
    offsets = ragged(lengths)
    ids = np.stack([rng.integers(0, 9, offsets[-1]), rng.integers(0, feat.CAPS_SIZE, offsets[-1])], 1).astype(np.int32)
    tags = rng.integers(0, 5, offsets[-1]).astype(np.int32)
    return net, ids, offsets, tags


@pytest.mark.parametrize("sll", [False, True])
def test_network_gradients_float64(sll, rng):
    net, ids, offsets, tags = _tiny_network(sll, rng)

    def loss():
        return net.loss(net.forward(ids, offsets), offsets, tags)[0]

    net.zero_grad()
    _, dscores = net.loss(net.forward(ids, offsets), offsets, tags)
    net.backward(dscores)
    params = net.parameters()
    assert len(params) == 6 + 2 * sll
    grads = []  # all taken first: with sll, loss() accumulates into the transition gradients
    for p in params:
        if p.sparse_grad is not None:  # embedding tables: scatter the coalesced rows into a dense grad
            grad = np.zeros_like(p.value)
            np.add.at(grad, p.sparse_grad[0], p.sparse_grad[1])
        else:
            grad = p.grad.copy()
        grads.append(grad)
    for p, grad in zip(params, grads):
        assert_grad_close(grad, loss, p.value, rtol=1e-5, atol=1e-7)


def test_sll_decode_is_the_best_path(rng):
    # (The word-level decode is scores.argmax(1) by definition; only the sentence-level one has
    # something to check.) Brute force over all paths of the 4-token sentence.
    net, ids, offsets, _ = _tiny_network(True, rng)
    scores = net.forward(ids, offsets)
    pred = net.decode(scores, offsets)
    s = slice(offsets[2], offsets[3])
    sc = scores[s]
    best = max(np.ndindex(*(5,) * len(sc)), key=lambda y: net.start.value[y[0]] + sc[0, y[0]] + sum(
        net.transitions.value[y[t - 1], y[t]] + sc[t, y[t]] for t in range(1, len(y))))
    np.testing.assert_array_equal(pred[s], best)


def _synthetic(rng, n_sentences):
    """Tag = a function of the word and its left neighbour, so the window matters."""
    words = ["the", "cat", "Dog", "runs", "fast", "NASA", "eats", "x1", "blue", "a"]
    sentences = []
    for _ in range(n_sentences):
        toks = [words[i] for i in rng.integers(0, len(words), rng.integers(1, 9))]
        tags = ["B-X" if (t[0].isupper() or (i > 0 and toks[i - 1] == "the")) else "O" for i, t in enumerate(toks)]
        sentences.append((toks, tags))
    return sentences


def _train_small(rng, sll, epochs=8, optimizer="adagrad", lr=0.1):
    data = _synthetic(rng, 300)
    train, dev = data[:250], data[250:]
    config = TaggerConfig(families=("word", "caps", "suffix2"), dims=(8, 3, 3), hidden=16, sll=sll, epochs=epochs,
                          lr=lr, min_count=1, feature_min_count=1, seed=1, patience=epochs, optimizer=optimizer)
    lexicons = build_lexicons(train, config.families, min_count=1, feature_min_count=1)
    tagset = ["B-X", "O"]
    featurizer = _fast.Featurizer(list(config.families), lexicons)

    def accuracy(gold, pred):
        return 100.0 * np.mean([g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)])

    net, best, history = train_network(config, train, dev, lexicons, tagset, featurizer.featurize, accuracy,
                                       log=lambda *a: None)
    header = {"task": "test", "families": list(config.families), "dims": list(config.dims), "window": 5,
              "tagset": tagset}
    tagger = Tagger(header, lexicons, [e.W.value for e in net.embeddings], net.hidden.W.value, net.hidden.b.value,
                    net.output.W.value, net.output.b.value, net.transitions.value if sll else None,
                    net.start.value if sll else None)
    return net, tagger, dev, best, history


@pytest.mark.parametrize("sll", [False, True])
def test_training_learns_a_window_rule_and_inference_agrees(sll, rng):
    net, tagger, dev, best, history = _train_small(rng, sll)
    assert history[-1]["loss"] < history[0]["loss"]
    assert best == 100.0, history
    sentences = [toks for toks, _ in dev]
    ids, offsets = tagger.featurize(sentences)
    np.testing.assert_allclose(tagger.scores(sentences)[0], net.forward(ids, offsets), rtol=RTOL, atol=ATOL)
    assert tagger.tag_batch(sentences) == [tags for _, tags in dev]


def test_training_with_sgd(rng):
    _, _, _, best, history = _train_small(rng, sll=True, epochs=10, optimizer="sgd", lr=0.02)
    assert history[-1]["loss"] < history[0]["loss"] and best == 100.0, history


def test_save_load_round_trip_and_corruption(tmp_path, rng):
    _, tagger, dev, _, _ = _train_small(rng, sll=True, epochs=3)
    path = tmp_path / "t.npz"
    tagger.save(path)
    loaded = Tagger.load(path)
    sentences = [toks for toks, _ in dev]
    assert loaded.tag_batch(sentences) == tagger.tag_batch(sentences)
    assert loaded.header["tagset"] == tagger.tagset and loaded.families == tagger.families
    header, members, _ = safeformat.load(path, "fastnlp.tagger", 1, (), "tagger")   # word table in float16
    assert members["table_0"].dtype == np.float16
    header = {k: v for k, v in header.items() if k not in ("format", "version")}

    raw = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="trunc.npz: not a valid fastnlp tagger file"):
        Tagger.load(tmp_path / "trunc.npz")

    def variant(name, format_name="fastnlp.tagger", **changes):
        arrays = dict(members)
        arrays.update(changes)
        for k in [k for k, v in changes.items() if v is None]:
            del arrays[k]
        safeformat.save(tmp_path / name, format_name, 1, header, arrays)
        return tmp_path / name

    with pytest.raises(ValueError, match="member 'W2' is missing"):
        Tagger.load(variant("nw2.npz", W2=None))
    with pytest.raises(ValueError, match=r"W1 must be float32"):
        Tagger.load(variant("w1.npz", W1=members["W1"][:, :-1]))
    bad = members["b2"].copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="b2 holds NaN"):
        Tagger.load(variant("nan.npz", b2=bad))
    with pytest.raises(ValueError, match=r"table_1 \(caps\) must be float"):
        Tagger.load(variant("caps.npz", table_1=members["table_1"][:3]))
    with pytest.raises(ValueError, match="expected 'fastnlp.tagger'"):
        Tagger.load(variant("hdr.npz", format_name="other"))
    with pytest.raises(FileNotFoundError):
        Tagger.load(tmp_path / "missing.npz")


def test_tag_batch_input_handling(rng):
    _, tagger, _, _, _ = _train_small(rng, sll=True, epochs=1)
    assert tagger.tag_batch([]) == []
    assert tagger.tag_batch([[]]) == [[]]
    assert tagger.tag([]) == []
    assert len(tagger.tag(["", "\u00fcber", "\U0001F600", "x" * 10_000])) == 4
    long = ["the", "cat"] * 20_000
    assert len(tagger.tag(long)) == 40_000
    assert tagger.tag_batch([["the", "cat"], [], ["Dog"]])[1] == []
    with pytest.raises(TypeError, match="sentence 0 must be a list of str tokens, got str .tokenize raw text"):
        tagger.tag_batch(["the cat"])
    with pytest.raises(TypeError, match="token 1 of sentence 0 must be str, got int"):
        tagger.tag(["the", 3])
    with pytest.raises(TypeError, match="sentences must be a list of token lists"):
        tagger.tag_batch("the cat")


def test_training_rejects_tags_outside_the_scheme():
    check_tags([(["a", "b"], ["B-NP", "I-NP"])], "IOB2")
    with pytest.raises(ValueError, match=r"train: sentence 1: schemes: tag 'X-NP' is not valid in IOB2"):
        check_tags([(["a"], ["O"]), (["b"], ["X-NP"])], "IOB2")


def test_cuda_refused_clearly_without_a_gpu():
    if fastnlp.cuda_available():
        pytest.skip("a GPU is present: test_gpu_tags_match_cpu covers Tagger.cuda()")
    with pytest.raises(RuntimeError, match=r"Tagger.cuda: no usable GPU"):
        load_tagger("pos").cuda()


def test_load_tagger_errors():
    with pytest.raises(ValueError, match=r"load_tagger: expected one of \['pos', 'chunk', 'ner', 'upos'\]"):
        load_tagger("sentiment")


# ---- the shipped models ------------------------------------------------------------------------

def test_pretrained_models_ship_and_describe_their_data():
    for name in ("pos", "chunk", "ner", "upos"):
        tagger = load_tagger(name)
        assert tagger.task == name
        assert tagger.header["training_data"] and tagger.header["license"]
        size = os.path.getsize(os.path.join(os.path.dirname(fastnlp.tagging.__file__), "pretrained",
                                            f"{name}.safetensors"))
        assert size < 8e6, f"{name} model is {size / 1e6:.1f} MB"
    assert "Reuters" in load_tagger("ner").header["license"]
    assert load_tagger("pos").tag(tokenize("The cat sat on the mat.")) == ["DT", "NN", "VBD", "IN", "DT", "NN", "."]
    assert load_tagger("ner").tag(["John", "Smith", "visited", "Paris", "."]) == ["B-PER", "I-PER", "O", "B-LOC", "O"]


def _task_data(task):
    from fastnlp.tagging.tasks import load_task_data

    return load_task_data(task, os.path.dirname(shared_data("tagging")))


@pytest.mark.parametrize("task,target", [("pos", HELDOUT_TARGETS["pos"]), ("chunk", HELDOUT_TARGETS["chunk"]),
                                         ("ner", HELDOUT_TARGETS["ner"]), ("upos", HELDOUT_TARGETS["upos"])])
def test_pretrained_models_reach_the_heldout_targets(task, target):
    """Each shipped model on its held-out split (fastnlp.tagging.tasks; no model selection saw it): the
    score its header states is the one measured here. (The header's dev score is that of the
    early-stopped network that chose the number of epochs; the shipped one was refit on train + dev.)"""
    from fastnlp.tagging.metrics import accuracy, conlleval

    if task in ("pos", "upos"):  # pos learns from UD English-EWT too, upos only from it
        pytest.importorskip("conllu", reason="conllu (pip install '.[peers]') is needed to read UD English-EWT")
    data = _task_data(task)
    tagger = load_tagger(task)
    metric = "f1" if task in ("chunk", "ner") else "accuracy"
    pred = tagger.tag_batch([s.tokens for s in data.heldout])
    gold = [s.tags for s in data.heldout]
    score = conlleval(gold, pred).f1 if metric == "f1" else accuracy(gold, pred)
    assert abs(score - tagger.header[f"heldout_{metric}"]) < 0.01, score
    assert tagger.header["heldout_set"] == data.heldout_name and tagger.header["dev_set"] == data.dev_name
    assert 0 < tagger.header[f"dev_{metric}"] <= 100 and "retrained on train + dev" in tagger.header["selection"]
    assert score >= target


def _cli(args, stdin):
    return subprocess.run([sys.executable, "-m", "fastnlp", "tag", *args], input=stdin, capture_output=True,
                          timeout=120)


def test_tag_cli(tmp_path):
    out = _cli(["--tokenized"], b"The cat sat .\n\nJohn runs\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().split("\n")[:3] == ["The/DT cat/NN sat/VBD ./.", "", "John/NNP runs/VBZ"]
    out = _cli(["--task", "pos,ner"], "Mr. Smith went to Paris. He liked it.\n".encode())
    assert out.returncode == 0, out.stderr
    line = out.stdout.decode().strip()
    assert line.startswith("Mr./NNP/O Smith/NNP/B-PER went/VBD/O"), line
    assert "Paris/NNP/B-LOC ././O He/PRP/O" in line  # two sentences on one line, both tagged
    path = tmp_path / "bad.txt"
    path.write_bytes(b"caf\xe9 au lait\n")  # Latin-1, not UTF-8: an error naming the place, or replaced on request
    out = subprocess.run([sys.executable, "-m", "fastnlp", "tag", "--tokenized", str(path)], capture_output=True,
                         timeout=120)
    assert out.returncode == 1 and b"bad.txt: line 1, byte offset 3: cannot decode" in out.stderr, out.stderr
    out = subprocess.run([sys.executable, "-m", "fastnlp", "tag", "--tokenized", "--errors", "replace", str(path)],
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode().startswith("caf\ufffd/")
    out = _cli(["--task", "nope"], b"x\n")
    assert out.returncode == 1 and b"fastnlp tag: error: load_tagger: expected one of" in out.stderr


def test_config_checks():
    with pytest.raises(ValueError, match="TaggerConfig: epochs must be an int >= 1, got 0"):
        TaggerConfig(epochs=0)
    with pytest.raises(ValueError, match="TaggerConfig: window must be an odd int >= 1, got 4"):
        TaggerConfig(window=4)
    with pytest.raises(ValueError, match="TaggerConfig: the first family must be 'word'"):
        TaggerConfig(families=("caps", "word"), dims=(5, 50))
    with pytest.raises(ValueError, match="features: unknown feature family 'shape'"):
        TaggerConfig(families=("word", "shape"), dims=(50, 5))


# ---- GPU: the taggers' CUDA inference path (GpuWindowNetwork) against the CPU path (marked gpu) ----
# The same tags for the shipped models, scores within float32 tolerance.

GPU_SENTENCES = [["The", "cat", "sat", "on", "the", "mat", "."], [], ["John", "Smith", "visited", "Paris", "."],
                 ["x"], ["Acme", "Corp.", "bought", "300", "shares", "of", "IBM", "in", "New", "York"] * 7]


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["pos", "chunk", "ner", "upos"])
def test_gpu_tags_match_cpu(name, cp):
    from fastnlp.tagging.gpu import GpuWindowNetwork

    cpu = load_tagger(name)
    gpu = GpuWindowNetwork(cpu)
    ids, offsets = cpu.featurize(GPU_SENTENCES)
    np.testing.assert_allclose(cp.asnumpy(gpu.scores(ids, offsets)), cpu.scores(GPU_SENTENCES)[0], rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_array_equal(gpu.predict_ids(ids, offsets), cpu.predict_ids(GPU_SENTENCES)[0])
    assert gpu.predict_ids(*cpu.featurize([[]])).shape == (0,)
    tags = cpu.tag_batch(GPU_SENTENCES)
    assert load_tagger(name).cuda().tag_batch(GPU_SENTENCES) == tags
