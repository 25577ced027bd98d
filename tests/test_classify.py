"""Classifier: vocabulary and batching, the maxent / MLP baselines (minibatch and L-BFGS), save/load
and corrupted files, checkpoint + resume equal to uninterrupted training, and the `fastnlp classify`
command line end to end. The sequence-model paths run on a tiny stand-in network (mean of word
embeddings, dropout, softmax layer) that keeps the TextCNN / RNNAcceptor contract."""

import argparse
import io
import json
import os

import numpy as np
import pytest

from fastnlp import nn, ops, safeformat
from fastnlp.classify import Classifier, Dataset, Vocabulary, pad_batch
from fastnlp.classify import cli
from fastnlp.classify import networks as N
from fastnlp.classify.vocab import PAD, UNK, batches, bucketed_batches, embedding_table
from fastnlp.cli import main


class MeanEmbedding(nn.Module):
    """forward(ids (B,T) padded with 0, lengths (B,), train) -> logits: mean of the words' embeddings,
    inverted dropout drawn from the network's own Generator, then a Linear layer."""

    def __init__(self, vocab_size, n_classes, embed_dim=8, dropout=0.5, pretrained=None, seed=0):
        self.emb = nn.Embedding(vocab_size, embed_dim, seed=seed)
        if pretrained is not None:
            self.emb.W.value[...] = pretrained
        self.output = nn.Linear(embed_dim, n_classes, seed=seed + 1)
        self.p = dropout
        self.rng = np.random.default_rng(seed + 2)

    def forward(self, ids, lengths, train=False):
        e = self.emb.forward(ids)
        self._mask = (ids != 0)[:, :, None].astype(np.float32) / lengths[:, None, None].astype(np.float32)
        h = (e * self._mask).sum(1)
        self._drop = (self.rng.random(h.shape) >= self.p).astype(np.float32) / (1 - self.p) if train else None
        return self.output.forward(h if self._drop is None else h * self._drop)

    def backward(self, dlogits):
        dh = self.output.backward(dlogits)
        if self._drop is not None:
            dh = dh * self._drop
        self.emb.backward(np.ascontiguousarray(dh[:, None, :] * self._mask, np.float32))


def _tiny(config, n_inputs, n_classes, pretrained):
    return MeanEmbedding(n_inputs, n_classes, config["embed_dim"], config["dropout"], pretrained, config["seed"])


N.register("tiny", N.NetworkSpec("sequence", {"embed_dim": 8, "dropout": 0.5, "optimizer": "adagrad", "lr": 0.3,
                                              "epochs": 4, "batch_size": 8, "max_norm": 3.0}, _tiny))

SMALL = {"tiny": {}, "mlp": {"hidden": 5},
         "cnn": {"embed_dim": 6, "widths": [2, 3], "maps": 3, "batch_size": 8},                 # AdaDelta
         "lstm": {"embed_dim": 5, "hidden": 4, "lr": 0.01, "batch_size": 8, "epochs": 3},     # Adam
         "gru": {"embed_dim": 5, "hidden": 4, "optimizer": "sgd", "lr": 0.1, "batch_size": 8, "epochs": 3}}

POS = ["good", "great", "fine", "superb", "lovely", "fun"]
NEG = ["bad", "awful", "dull", "poor", "boring", "weak"]
FILL = ["the", "a", "film", "plot", "was", "is", "very", "quite"]


def toy(n, seed):
    """Sentences whose label is which sentiment word they carry, among filler words."""
    rng = np.random.default_rng(seed)
    sents, labels = [], []
    for i in range(n):
        label = "positive" if i % 2 else "negative"
        words = list(rng.choice(FILL, rng.integers(1, 6))) + [rng.choice(POS if i % 2 else NEG)]
        rng.shuffle(words)
        sents.append([str(w) for w in words])
        labels.append(label)
    return Dataset(sents, labels, "toy", ["negative", "positive"])


def test_vocabulary_and_padding():
    v = Vocabulary.build([["a", "b", "a"], ["c"]])
    assert v.index_to_word == ["<pad>", "<unk>", "a", "b", "c"] and len(v) == 5
    assert v.encode(["c", "zzz", "a"]) == [4, UNK, 2]
    assert Vocabulary.build([["a", "b", "a"]], min_count=2).index_to_word == ["<pad>", "<unk>", "a"]
    with pytest.raises(ValueError, match="min_count must be a positive integer, got 0"):
        Vocabulary.build([], min_count=0)
    ids, lengths = pad_batch([[5, 6, 7], [], [2]])
    assert ids.dtype == np.int32 and lengths.dtype == np.int32
    assert ids.tolist() == [[5, 6, 7], [PAD, 0, 0], [2, 0, 0]] and lengths.tolist() == [3, 1, 1]
    assert pad_batch([[1]], min_length=5)[0].shape == (1, 5)
    assert sorted(np.concatenate(batches(10, 3, np.random.default_rng(0))).tolist()) == list(range(10))
    with pytest.raises(ValueError, match="batch size must be a positive integer, got 0"):
        batches(10, 0)
    lengths = np.random.default_rng(1).integers(1, 60, 1003)
    got = bucketed_batches(lengths, 10, np.random.default_rng(2), pool=5)
    assert sorted(np.concatenate(got).tolist()) == list(range(1003))   # every example once per epoch
    assert max(len(b) for b in got) == 10
    spread = np.mean([np.ptp(lengths[b]) for b in got])   # batches hold similar lengths
    assert spread < 0.3 * np.mean([np.ptp(lengths[b]) for b in batches(1003, 10, np.random.default_rng(2))])
    again = bucketed_batches(lengths, 10, np.random.default_rng(2), pool=5)
    assert all(np.array_equal(a, b) for a, b in zip(got, again))


def test_embedding_table_pretrained_and_random():
    v = Vocabulary(["Good", "bad", "zzz"])
    vecs = {"good": np.full(4, 7.0), "bad": np.arange(4.0)}
    table, found = embedding_table(v, 4, vecs, seed=3)
    assert found == 2 and table.dtype == np.float32
    assert np.all(table[PAD] == 0) and np.all(table[UNK] == 0)
    assert np.all(table[2] == 7.0) and np.all(table[3] == np.arange(4.0))   # "Good" found lowercased
    assert np.all(np.abs(table[4]) <= 0.25) and np.any(table[4] != 0)
    with pytest.raises(ValueError, match="embed_dim is 3 but the pretrained vectors have 4 dimensions"):
        embedding_table(v, 3, vecs)
    with pytest.raises(ValueError, match="oov_scale must be a positive number or 'match'"):
        embedding_table(v, 4, vecs, oov_scale=0)


def test_embedding_table_random_part_and_oov_scale():
    v = Vocabulary(["good", "bad", "zzz", "qqq"])
    rng = np.random.default_rng(0)
    vecs = {"good": rng.standard_normal(4), "bad": rng.standard_normal(4)}
    # 3 random columns after the 4 pretrained ones: the found words keep their vectors, the random
    # part is the same draw as the table without vectors, and missing words are U[-0.25, 0.25]
    table, found = embedding_table(v, 7, vecs, seed=3)
    plain, _ = embedding_table(v, 7, None, seed=3)
    assert table.shape == (6, 7) and found == 2
    assert np.array_equal(table[2, :4], np.float32(vecs["good"])) and np.array_equal(table[3, :4], np.float32(vecs["bad"]))
    assert np.array_equal(table[:, 4:], plain[:, 4:]) and np.array_equal(table[4:], plain[4:])
    # "match": the missing words' pretrained columns get the found entries' variance, a = sqrt(3) * std
    a = np.sqrt(3) * np.float32(np.stack([vecs["good"], vecs["bad"]])).std()
    matched, _ = embedding_table(v, 7, vecs, seed=3, oov_scale="match")
    assert np.allclose(matched[4:, :4], plain[4:, :4] * (a / 0.25), rtol=1e-5)
    assert np.array_equal(matched[:, 4:], plain[:, 4:]) and np.array_equal(matched[:4], table[:4])
    assert np.abs(matched[4:, :4]).max() <= a and np.abs(matched[4:, :4]).max() > 0.25


def test_random_dims_widen_the_pretrained_table(tmp_path):
    vecs = {"good": np.full(6, 1.0, np.float32), "bad": np.full(6, -1.0, np.float32)}
    small = {k: v for k, v in SMALL["cnn"].items() if k != "embed_dim"}
    cnn = Classifier("cnn", **dict(small, random_dims=4, epochs=1)).fit(toy(40, 0), vectors=vecs, progress=None)
    W = cnn.network.embedding.W.value
    assert cnn.config["embed_dim"] == 10 and W.shape[1] == 10 and cnn.network.convs[0].in_dim == 10
    good = W[cnn.vocab.word_to_index["good"]]
    assert np.any(good[:6] != 1.0) and np.all(np.abs(good[:6] - 1.0) < 0.1)   # fine-tuned from the vector
    cnn.save(tmp_path / "c")
    assert np.array_equal(Classifier.load(tmp_path / "c").predict_proba(["good", "bad film"]),
                          cnn.predict_proba(["good", "bad film"]))
    with pytest.raises(ValueError, match="embed_dim is 8 but the pretrained vectors have 6 dimensions and "
                                         "random_dims is 4"):
        Classifier("cnn", **dict(SMALL["cnn"], embed_dim=8, random_dims=4)).fit(toy(40, 0), vectors=vecs,
                                                                               progress=None)
    # "fill": random columns up to embed_dim (given or the model's default), the same table as random_dims
    filled = Classifier("cnn", **dict(small, embed_dim=10, random_dims="fill", epochs=0)).fit(
        toy(40, 0), vectors=vecs, progress=None)
    plain = Classifier("cnn", **dict(small, random_dims=4, epochs=0)).fit(toy(40, 0), vectors=vecs, progress=None)
    assert filled.config["embed_dim"] == 10
    assert np.array_equal(filled.network.embedding.W.value, plain.network.embedding.W.value)
    # the TextCNN's default: "fill" to its 300 columns; the LSTM's: the vectors' size
    wide = Classifier("cnn", **dict(small, epochs=0)).fit(toy(40, 0), vectors=vecs, progress=None)
    assert wide.config["random_dims"] == "fill" and wide.config["embed_dim"] == 300
    lstm = Classifier("lstm", hidden=4, epochs=0).fit(toy(40, 0), vectors=vecs, progress=None)
    assert lstm.config["embed_dim"] == 6
    with pytest.raises(ValueError, match="embed_dim is 4 but the pretrained vectors have 6 dimensions"):
        Classifier("cnn", **dict(small, embed_dim=4, random_dims="fill")).fit(toy(40, 0), vectors=vecs, progress=None)
    with pytest.raises(ValueError, match="random_dims must be a non-negative integer or 'fill'"):
        Classifier("cnn", random_dims=-1)
    with pytest.raises(ValueError, match="oov_scale must be a positive number or 'match'"):
        Classifier("lstm", oov_scale="wide")


@pytest.mark.parametrize("model", ["maxent", "mlp"])
def test_bag_models_learn_the_toy_task(model):
    train, dev = toy(300, 0), toy(100, 1)
    clf = Classifier(model, epochs=5, lr=0.2).fit(train, dev, progress=None)
    assert clf.evaluate(dev) >= 0.95
    proba = clf.predict_proba(dev.sentences)
    assert proba.shape == (100, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert clf.predict(["the film was great", "a dull plot"]) == ["positive", "negative"]
    assert len(clf.history) == 5


def test_lbfgs_maxent():
    pytest.importorskip("scipy")
    train = toy(200, 0)
    clf = Classifier("maxent", optimizer="lbfgs", max_iter=50, weight_decay=1e-3).fit(train, progress=None)
    assert clf.evaluate(toy(100, 1)) >= 0.95
    assert clf.history[-1]["lbfgs_iterations"] >= 1


def test_lbfgs_gradient_matches_finite_differences(monkeypatch):
    """The full-batch objective's gradient (sparse rows included) against central differences."""
    pytest.importorskip("scipy")
    import scipy.optimize

    captured = {}

    def fake_minimize(fg, theta0, **kw):
        captured["fg"], captured["theta0"] = fg, theta0
        return scipy.optimize.OptimizeResult(x=theta0, nit=0, fun=0.0, message="captured")

    monkeypatch.setattr(scipy.optimize, "minimize", fake_minimize)
    Classifier("mlp", hidden=3, optimizer="lbfgs", weight_decay=0.1).fit(toy(30, 0), progress=None)
    fg, theta = captured["fg"], captured["theta0"] + 0.05
    _, g = fg(theta)
    rng = np.random.default_rng(0)
    for k in rng.choice(len(theta), 25, replace=False):
        e = np.zeros_like(theta)
        e[k] = 1e-2
        num = (fg(theta + e)[0] - fg(theta - e)[0]) / 2e-2
        assert abs(num - g[k]) <= 2e-3 + 2e-2 * abs(num), k


def test_lbfgs_without_scipy(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(ImportError, match=r"optimizer 'lbfgs' needs SciPy: pip install 'fastnlp\[lbfgs\]'"):
        Classifier("maxent", optimizer="lbfgs").fit(toy(30, 0), progress=None)


def test_bad_options():
    with pytest.raises(ValueError, match=r"model must be one of .*got 'bert'"):
        Classifier("bert")
    with pytest.raises(ValueError, match=r"unknown option\(s\) hiden"):
        Classifier("mlp", hiden=3)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        Classifier("maxent", optimizer="rmsprop")
    with pytest.raises(ValueError, match="optimizer 'lbfgs' trains the full-batch maxent / mlp models only"):
        Classifier("tiny", optimizer="lbfgs")
    with pytest.raises(ValueError, match="epochs must be a non-negative integer, got 1.5"):
        Classifier("maxent", epochs=1.5)
    with pytest.raises(ValueError, match="bucket must be a non-negative integer, got -1"):
        Classifier("cnn", bucket=-1)
    with pytest.raises(ValueError, match=r"call fit\(\) or Classifier.load\(\) first"):
        Classifier("maxent").predict(["x"])
    clf = Classifier("maxent", epochs=1).fit(toy(40, 0), progress=None)
    with pytest.raises(ValueError, match=r"evaluate: label 'neutral' is not one of the model's labels"):
        clf.evaluate(([["x"]], ["neutral"]))
    with pytest.raises(TypeError, match="train must be a Dataset or a \\(sentences, labels\\) pair"):
        Classifier("maxent").fit([["x"]])


def test_sequence_model_learns_and_max_norm_holds():
    train, dev = toy(400, 0), toy(100, 1)
    clf = Classifier("tiny", max_norm=0.5).fit(train, dev, progress=None)
    assert clf.evaluate(dev) >= 0.9
    norms = np.sqrt((clf.network.output.W.value ** 2).sum(1))
    assert np.all(norms <= 0.5 + 1e-5)


@pytest.mark.parametrize("model", ["cnn", "lstm"])
def test_unseen_words_read_as_zero_vectors(model):
    # min_count=1: no training word maps to UNK, so its row stays the zero it starts as, and an
    # unseen word is a zero vector at prediction time
    clf = Classifier(model, **dict(SMALL[model], epochs=1)).fit(toy(60, 0), progress=None)
    W = clf.network.embedding.W.value
    assert np.all(W[UNK] == 0) and np.all(np.abs(W[2:]).sum(1) > 0)
    # min_count=2: words seen once are UNK in training, and its row learns from zero
    train = toy(60, 0)
    train.sentences = [s + [f"once{i}"] for i, s in enumerate(train.sentences)]
    clf = Classifier(model, **dict(SMALL[model], epochs=1), min_count=2).fit(train, progress=None)
    assert np.any(clf.network.embedding.W.value[UNK] != 0)


@pytest.mark.parametrize("model", ["cnn", "lstm"])
def test_padding_row_stays_zero(model):
    # Kim resets the padding row to zero after every update; an empty sentence (CR has a few) is read
    # as one padding position, and would otherwise train that row as an 'empty' word
    train = toy(60, 0)
    train.sentences = [[] if i % 5 == 0 else s for i, s in enumerate(train.sentences)]
    clf = Classifier(model, **dict(SMALL[model], epochs=2)).fit(train, progress=None)
    W = clf.network.embedding.W.value
    assert np.all(W[PAD] == 0) and np.all(np.abs(W[2:]).sum(1) > 0)


def test_pretrained_vectors_reach_the_network(tmp_path):
    from fastnlp import KeyedVectors

    kv = KeyedVectors(["good", "bad"], np.array([[1.0] * 6, [-1.0] * 6], np.float32))
    path = str(tmp_path / "v.txt")
    kv.save_word2vec_format(path, binary=False)
    clf = Classifier("tiny", epochs=0).fit(toy(40, 0), vectors=path, progress=None)
    assert clf.config["embed_dim"] == 6 and clf.config["vectors"] == path
    W = clf.network.emb.W.value
    assert np.all(W[clf.vocab.word_to_index["good"]] == 1.0) and np.all(W[PAD] == 0)
    assert clf.training_data["pretrained_found"] == 2
    clf.save(tmp_path / "m")   # a model trained with vectors loads without them
    assert np.array_equal(Classifier.load(tmp_path / "m").network.emb.W.value, W)
    # TextCNN with a static and a fine-tuned channel: the static one keeps the vectors, through save/load
    cnn = Classifier("cnn", **dict(SMALL["cnn"], embed_dim=6, multichannel=True, epochs=1))
    cnn.fit(toy(40, 0), vectors=path, progress=None)
    static = cnn.network.static_embedding.W.value
    assert np.all(static[cnn.vocab.word_to_index["good"]] == 1.0)
    cnn.save(tmp_path / "c")
    back = Classifier.load(tmp_path / "c")
    assert np.array_equal(back.network.static_embedding.W.value, static)
    assert np.array_equal(back.predict_proba(["good film", "bad"]), cnn.predict_proba(["good film", "bad"]))


@pytest.mark.parametrize("model", ["maxent", "mlp", "tiny", "cnn", "lstm"])
def test_save_load_round_trip(tmp_path, model):
    train, dev = toy(200, 0), toy(60, 1)
    clf = Classifier(model, **dict(SMALL.get(model, {}), epochs=2)).fit(train, progress=None)
    path = tmp_path / "model.fnlp"
    clf.save(path)
    back = Classifier.load(path)
    assert back.model == model and back.labels == clf.labels and back.config == clf.config
    assert np.array_equal(back.predict_proba(dev.sentences), clf.predict_proba(dev.sentences))
    assert back.training_data["examples"] == clf.training_data["examples"]
    with open(path, "rb") as f:
        assert safeformat.is_safe_file(f.read(16))   # fastnlp's safetensors container (no code runs on load)


def test_corrupted_model_files(tmp_path):
    clf = Classifier("maxent", epochs=1).fit(toy(60, 0), progress=None)
    path = str(tmp_path / "m")
    clf.save(path)
    raw = open(path, "rb").read()
    cut = tmp_path / "cut"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut: not a valid classifier"):
        Classifier.load(str(cut))
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF
    (tmp_path / "flip").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"flip: not a valid classifier"):
        Classifier.load(str(tmp_path / "flip"))
    (tmp_path / "text").write_text("hello")
    with pytest.raises(ValueError, match=r"text: not a valid classifier"):
        Classifier.load(str(tmp_path / "text"))
    with pytest.raises(FileNotFoundError):
        Classifier.load(str(tmp_path / "missing"))
    # a valid container of another kind, and one whose parameters do not fit the header
    from fastnlp import safeformat

    header, arrays, _ = safeformat.load(path, "fastnlp-classifier", 1, (), "classifier")
    safeformat.save(str(tmp_path / "other"), "fastnlp-tagger", 1, header, arrays)
    with pytest.raises(ValueError, match=r"other: not a valid classifier .*expected 'fastnlp-classifier'"):
        Classifier.load(str(tmp_path / "other"))
    arrays["param.0"] = arrays["param.0"][:-1]
    safeformat.save(str(tmp_path / "shape"), "fastnlp-classifier", 1, header, arrays)
    with pytest.raises(ValueError, match=r"shape: not a valid classifier \(parameter 0 \(W\) should be"):
        Classifier.load(str(tmp_path / "shape"))


@pytest.mark.parametrize("model, interrupt_at", [("tiny", 23), ("tiny", 31), ("mlp", 7), ("cnn", 19), ("lstm", 26), ("gru", 12)])
def test_resume_equals_uninterrupted(tmp_path, monkeypatch, model, interrupt_at):
    """An interrupted run continued from its checkpoint ends with exactly the uninterrupted run's
    parameters (optimizer state, shuffling and dropout streams restored)."""
    _check_resume(tmp_path, monkeypatch, model, interrupt_at, dict({"epochs": 3}, **SMALL[model]))


def test_resume_with_word_and_input_dropout_and_clipping(tmp_path, monkeypatch):
    """The same with the RNN's word and input dropout (drawn from the network's stream) and
    gradient clipping on."""
    config = dict(SMALL["lstm"], epochs=3, word_dropout=0.3, input_dropout=0.4, clip_norm=0.5)
    _check_resume(tmp_path, monkeypatch, "lstm", 17, config)


def _check_resume(tmp_path, monkeypatch, model, interrupt_at, config):
    train = toy(120, 0)
    full = Classifier(model, **config).fit(train, progress=None)
    ckpt = str(tmp_path / "run.ckpt")
    cls = type(full.network)
    real, count = cls.forward, {"n": 0}

    def forward(self, *args, **kwargs):   # a Ctrl-C in the middle of the interrupt_at-th forward
        count["n"] += 1
        if count["n"] == interrupt_at:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(cls, "forward", forward)
    with pytest.raises(KeyboardInterrupt):
        Classifier(model, **config).fit(train, checkpoint=ckpt, checkpoint_every=0, progress=None)
    monkeypatch.setattr(cls, "forward", real)
    assert os.path.exists(ckpt)
    resumed = Classifier(model, **config).fit(train, checkpoint=ckpt, resume=True, progress=None)
    for a, b in zip(full.network.parameters(), resumed.network.parameters()):
        assert np.array_equal(a.value, b.value)
    assert [h["loss"] for h in resumed.history] == [h["loss"] for h in full.history]
    with pytest.raises(ValueError, match="checkpoint was made on other training data"):
        Classifier(model, **config).fit(toy(121, 0), checkpoint=ckpt, resume=True, progress=None)
    with pytest.raises(ValueError, match="checkpoint was made with other settings"):
        Classifier(model, **dict(config, epochs=4)).fit(train, checkpoint=ckpt, resume=True, progress=None)


def test_progress_line():
    out = io.StringIO()
    Classifier("maxent", epochs=2).fit(toy(100, 0), progress=out)
    text = out.getvalue()
    assert "epoch 1/2" in text and "epoch 2/2" in text and "selection acc" in text
    assert "sent/s" in text and "ETA" in text


@pytest.fixture
def mr_dir(tmp_path):
    d = tmp_path / "classification" / "mr"
    d.mkdir(parents=True)
    data = toy(200, 5)
    for label, name in (("positive", "rt-polarity.pos"), ("negative", "rt-polarity.neg")):
        lines = [" ".join(s) for s, y in zip(data.sentences, data.labels) if y == label]
        (d / name).write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return str(tmp_path / "classification")


def test_cli_train_predict(tmp_path, mr_dir, capsys):
    model = str(tmp_path / "mr.maxent")
    assert main(["classify", "train", "--task", "mr", "--model", "maxent", "--data-dir", mr_dir, "--fold", "3",
                 "--seed", "1", "--no-progress", "-o", model]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "mr" and out["fold"] == 3 and out["train_examples"] + out["dev_examples"] == 200
    assert out["dev_accuracy"] >= 0.9
    assert os.path.exists(model) and not os.path.exists(model + ".ckpt")
    inp = tmp_path / "in.txt"
    inp.write_text("a great film\n\nthe plot was dull\n")
    assert main(["classify", "predict", model, str(inp)]) == 0
    assert capsys.readouterr().out.splitlines() == ["positive", Classifier.load(model).predict([""])[0], "negative"]


def test_cli_errors(tmp_path, mr_dir, capsys):
    model = str(tmp_path / "m")
    assert main(["classify", "train", "--task", "mr", "--model", "maxent", "--data-dir", mr_dir, "--resume",
                 "-o", model]) == 1
    assert "fastnlp classify: error: --resume: no checkpoint" in capsys.readouterr().err
    assert main(["classify", "train", "--task", "mr", "--model", "maxent", "--data-dir", str(tmp_path / "none"),
                 "-o", model]) == 1
    assert "classification data not found" in capsys.readouterr().err
    (tmp_path / "bad").write_text("junk")
    assert main(["classify", "predict", str(tmp_path / "bad"), "-"]) == 1
    assert "not a valid classifier" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["classify", "train", "--task", "imdb", "--model", "cnn", "-o", model])


def test_task_defaults_cut_the_textcnn_epochs_on_sst_only(monkeypatch, tmp_path):
    """SST's phrase-level training data gets the TextCNN 10 epochs (README's rule); other tasks and
    models keep the model's defaults, and --epochs still wins on the command line."""
    assert N.task_defaults("cnn", "sst2") == N.task_defaults("cnn", "sst5") == {"epochs": 10}
    assert N.task_defaults("cnn", "mr") == {} and N.task_defaults("lstm", "sst2") == {}
    seen = []

    def fake_fit(self, train, **kwargs):
        seen.append(self.config["epochs"])
        raise KeyboardInterrupt

    monkeypatch.setattr(Classifier, "fit", fake_fit)
    monkeypatch.setattr(cli, "load_task", lambda *a, **k: ([], []))
    for epochs in (None, 3):
        args = argparse.Namespace(task="sst2", model="cnn", data_dir=str(tmp_path), fold=0, seed=0, epochs=epochs,
                                  threads=None, vectors=None, output=str(tmp_path / "m"), resume=False,
                                  no_progress=True)
        with pytest.raises(KeyboardInterrupt):
            cli._train(args)
    assert seen == [10, 3]


def test_textcnn_kims_dense_adadelta_and_zero_output_options():
    """Kim's two options (not the defaults: they lost on the selection splits): the output layer starts
    at zero and fitting moves it off zero; AdaDelta's sparse embedding steps follow the dense update
    (decay_skipped_rows). Other optimizers ignore the setting."""
    train = Dataset([["good", "film"], ["bad", "film"], ["great", "plot"], ["awful", "plot"]] * 5,
                    ["pos", "neg", "pos", "neg"] * 5)
    assert not N.defaults("cnn")["decay_skipped_rows"] and N.defaults("cnn")["output_init"] == "uniform"
    kim = dict(embed_dim=8, maps=4, epochs=1, batch_size=20, valid_fraction=0.0, decay_skipped_rows=True,
               output_init="zeros")
    net = N.NETWORKS["cnn"].build(dict(N.defaults("cnn"), **kim), 10, 2, None)
    assert not net.output.W.value.any()
    clf = Classifier("cnn", **kim).fit(train, progress=None)
    assert np.abs(clf.network.output.W.value).max() > 0
    assert clf._optimizer(clf.network.parameters()).decay_skipped_rows
    adam = Classifier("cnn", optimizer="adam", decay_skipped_rows=True)
    assert not hasattr(adam._optimizer(clf.network.parameters()), "decay_skipped_rows")


def test_clip_grad_norm_rescales_dense_and_sparse_gradients_together(rng):
    """The Classifier's clip_norm goes through ops.clip_grad_norm with the Parameters: dense
    gradients and an embedding's sparse rows in one norm."""
    clip_grad_norm = ops.clip_grad_norm

    a, b, c = nn.Parameter(np.zeros((3, 4), np.float32)), nn.Parameter(np.zeros(5, np.float64)), \
        nn.Parameter(np.zeros((10, 2), np.float32))
    a.grad = rng.standard_normal((3, 4)).astype(np.float32)
    b.grad = rng.standard_normal(5)
    c.sparse_grad = (np.array([1, 7]), rng.standard_normal((2, 2)).astype(np.float32))
    grads = [a.grad.copy(), b.grad.copy(), c.sparse_grad[1].copy()]
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    assert clip_grad_norm([a, b, c], 2 * norm) == pytest.approx(norm, rel=1e-6)   # under the bound: untouched
    np.testing.assert_array_equal(a.grad, grads[0])
    assert clip_grad_norm([a, b, c], norm / 4) == pytest.approx(norm, rel=1e-6)
    for got, before in zip((a.grad, b.grad, c.sparse_grad[1]), grads):   # same direction, a quarter as long
        np.testing.assert_allclose(got, before / 4, rtol=1e-5)
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    assert clip_grad_norm([a, b, c], 1.0) == pytest.approx(norm / 4, rel=1e-5)
    assert clip_grad_norm([nn.Parameter(np.zeros(3))], 1.0) == 0.0   # no gradient at all
    with pytest.raises(ValueError, match=r"clip_grad_norm: max_norm must be positive, got 0.0"):
        clip_grad_norm([a], 0.0)
    # Arrays over several of the norm's 64k-element slices (the last one partial), float32 and
    # float64, one of them a strided view that is scaled in place.
    big = rng.standard_normal((700, 300)).astype(np.float32) * 3
    base = rng.standard_normal((400, 400))
    view = base[:, ::2]
    want = np.sqrt((big.astype(np.float64) ** 2).sum() + (view ** 2).sum())
    before = view.copy()
    assert clip_grad_norm([big, view], want / 2) == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(view, before / 2, rtol=1e-6)
    assert np.sqrt((big.astype(np.float64) ** 2).sum() + (view ** 2).sum()) == pytest.approx(want / 2, rel=1e-5)
    with pytest.raises(ValueError, match="clip_norm must be > 0 or None, got -1"):
        Classifier("lstm", clip_norm=-1)
    with pytest.raises(ValueError, match="word_dropout must be a probability in \\[0, 1\\), got 1.0"):
        Classifier("lstm", word_dropout=1.0).fit(toy(40, 0), progress=None)


def test_rnn_regularizers_train_the_unknown_word_and_still_learn():
    """With word dropout the unknown word's vector trains (dropped words read it), the acceptor
    still learns the toy task with clipping on."""
    train, dev = toy(300, 0), toy(100, 1)
    config = dict(SMALL["lstm"], epochs=6, word_dropout=0.2, input_dropout=0.2, clip_norm=1.0)
    clf = Classifier("lstm", **config).fit(train, dev, progress=None)
    assert np.any(clf.network.embedding.W.value[UNK] != 0)
    assert clf.evaluate(dev) >= 0.9
    plain = Classifier("lstm", **dict(SMALL["lstm"], epochs=1)).fit(train, progress=None)
    assert np.all(plain.network.embedding.W.value[UNK] == 0)   # without it UNK is never read in training
