"""fastnlp.plots and the trainers' training curves and progress bars: figures are rendered off-screen
(Agg) to PNG files in tmp_path and checked to be real PNGs of the expected pixel size; skipped
where matplotlib is not installed."""

import io
import struct
import sys

import numpy as np
import pytest

from fastnlp import Word2Vec
from fastnlp.classify.data import Dataset
from fastnlp.classify.model import Classifier
from fastnlp.keyedvectors import KeyedVectors
from fastnlp.plots import plot_training_curve, project_2d


def png_size(path):
    """(width, height) from the IHDR chunk of a PNG file; fails on anything else."""
    with open(path, "rb") as f:
        head = f.read(33)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG: {head[:8]!r}"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.fixture
def mpl():
    return pytest.importorskip("matplotlib")


def _kv(n=12, d=9, seed=0):
    rng = np.random.default_rng(seed)
    return KeyedVectors([f"w{i}" for i in range(n)], rng.normal(size=(n, d)).astype(np.float32))


def test_plot_training_curve_png(mpl, tmp_path):
    history = [{"epoch": 1, "loss": 1.2, "dev": 80.0}, {"epoch": 2, "loss": 0.7, "dev": 85.5},
               {"epoch": 3, "loss": float("nan"), "dev": None}, {"epoch": 4, "loss": 0.5, "dev": 86.0}]
    out = plot_training_curve(history, tmp_path / "curve.png", title="t")
    assert png_size(out) == (640, 400)
    assert png_size(plot_training_curve([{"loss": 1.0}], tmp_path / "one.png", figsize=(3, 2), dpi=50)) == (150, 100)
    with pytest.raises(ValueError, match="history is empty"):
        plot_training_curve([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="no epoch of the history records a finite 'loss'"):
        plot_training_curve([{"epoch": 1, "loss": None}], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"history\[1\] must be a dict"):
        plot_training_curve([{"loss": 1.0}, 2.0], tmp_path / "x.png")


def test_word2vec_history_curve_and_progress(mpl, tmp_path, capsys):
    rng = np.random.default_rng(1)
    words = [f"a{i}" for i in range(30)]
    sents = [[words[i] for i in rng.integers(0, 30, 8)] for _ in range(200)]
    m = Word2Vec(vector_size=8, min_count=1, epochs=3, workers=1, progress=True)
    with pytest.raises(ValueError, match="Word2Vec.save_training_curve: no training history yet"):
        m.save_training_curve(tmp_path / "w.png")
    m.build_vocab(sents)
    m.train()
    assert "word2vec" in capsys.readouterr().err  # the bar, on stderr
    assert [h["epoch"] for h in m.training_history] == [1, 2, 3]
    assert png_size(m.save_training_curve(tmp_path / "w.png")) == (640, 400)
    Word2Vec(sents, vector_size=8, min_count=1, epochs=1, workers=1, progress=False)
    assert capsys.readouterr().err == ""


def test_classifier_history_curve_and_progress_bar(mpl, tmp_path):
    rng = np.random.default_rng(2)
    sents = [[str(w) for w in rng.choice(["good", "bad", "film", "plot", "the"], 4)] for _ in range(80)]
    labels = ["pos" if "good" in s else "neg" for s in sents]
    out = io.StringIO()
    clf = Classifier("maxent", epochs=3).fit(Dataset(sents, labels, "toy", ["neg", "pos"]), progress=out)
    text = out.getvalue()
    assert "sent/s" in text and "ETA" in text and "epoch 3/3" in text
    assert clf.training_history is clf.history and len(clf.training_history) == 3
    assert all(h["selection_accuracy"] is not None for h in clf.training_history)
    assert png_size(clf.save_training_curve(tmp_path / "c.png")) == (640, 400)
    with pytest.raises(ValueError, match="Classifier.save_training_curve: no training history yet"):
        Classifier("maxent").save_training_curve(tmp_path / "c2.png")


def test_tagger_training_progress_and_curve(mpl, tmp_path, capsys):
    from fastnlp.tagging import _fast
    from fastnlp.tagging.tagger import Tagger
    from fastnlp.tagging.train import TaggerConfig, build_lexicons, train_network

    rng = np.random.default_rng(3)
    vocab = ["the", "cat", "Dog", "runs", "NASA", "a"]
    data = []
    for _ in range(60):
        toks = [vocab[i] for i in rng.integers(0, len(vocab), 5)]
        data.append((toks, ["B-X" if t[0].isupper() else "O" for t in toks]))
    config = TaggerConfig(families=("word", "caps"), dims=(4, 2), hidden=8, epochs=3, min_count=1,
                          feature_min_count=1, patience=3)
    lexicons = build_lexicons(data[:50], config.families, min_count=1, feature_min_count=1)
    feat = _fast.Featurizer(list(config.families), lexicons)
    lines = []

    def accuracy(gold, pred):
        return 100.0 * np.mean([g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps)])

    net, best, history = train_network(config, data[:50], data[50:], lexicons, ["B-X", "O"], feat.featurize,
                                       accuracy, log=lines.append)
    err = capsys.readouterr().err
    assert "tagger epoch" in err and "150/150" in err  # 3 epochs x 50 sentences
    assert len(lines) == 3 and [h["epoch"] for h in history] == [1, 2, 3] and all("dev" in h for h in history)
    train_network(config, data[:50], None, lexicons, ["B-X", "O"], feat.featurize, accuracy, log=lines.append,
                  progress=False)
    assert capsys.readouterr().err == ""
    header = {"task": "toy", "families": list(config.families), "window": 5, "tagset": ["B-X", "O"],
              "history": history}
    tagger = Tagger(header, lexicons, [e.W.value for e in net.embeddings], net.hidden.W.value, net.hidden.b.value,
                    net.output.W.value, net.output.b.value)
    assert tagger.training_history == history
    assert png_size(tagger.save_training_curve(tmp_path / "t.png")) == (640, 400)


def test_project_2d_pca_is_the_top_principal_plane():
    x = np.random.default_rng(4).normal(size=(15, 6)) * np.array([5, 3, 1, 0.5, 0.2, 0.1])
    xy = project_2d(x, "pca")
    centred = x - x.mean(axis=0)
    w, v = np.linalg.eigh(centred.T @ centred)
    ref = centred @ v[:, ::-1][:, :2]
    for k in range(2):  # each component up to its sign
        sign = np.sign(xy[:, k] @ ref[:, k])
        np.testing.assert_allclose(xy[:, k], sign * ref[:, k], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(project_2d(x[:2], "pca")[:, 1], 0, atol=1e-12)  # 2 points: one axis
    with pytest.raises(ValueError, match="n >= 2"):
        project_2d(x[:1])
    with pytest.raises(ValueError, match="method must be 'pca' or 'tsne', got 'umap'"):
        project_2d(x, "umap")


def test_keyedvectors_plot_embedding(mpl, tmp_path, monkeypatch):
    kv = _kv()
    words = kv.index_to_key[:8]
    assert png_size(kv.plot_embedding(words, tmp_path / "pca.png")) == (640, 640)
    with pytest.raises(KeyError, match="'nope' not in vocabulary"):
        kv.plot_embedding(["w1", "nope"], tmp_path / "x.png")
    with pytest.raises(ValueError, match="n >= 2"):
        kv.plot_embedding(["w1"], tmp_path / "x.png")
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.manifold", None)
    with pytest.raises(ImportError, match="method='tsne' needs scikit-learn"):
        kv.plot_embedding(words, tmp_path / "x.png", method="tsne")


def test_keyedvectors_plot_embedding_tsne(mpl, tmp_path):
    pytest.importorskip("sklearn.manifold")
    kv = _kv()
    assert png_size(kv.plot_embedding(kv.index_to_key, tmp_path / "tsne.png", method="tsne")) == (640, 640)


def test_plots_need_matplotlib(tmp_path, monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'fastnlp\[plots\]'"):
        plot_training_curve([{"loss": 1.0}], tmp_path / "x.png")
