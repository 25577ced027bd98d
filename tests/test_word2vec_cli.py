"""The word2vec command line: train in each output format, evaluate (JSON on stdout), errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from fastnlp import KeyedVectors, Word2Vec
from fastnlp.cli import build_parser, main, word2vec_kwargs
from fastnlp.word2vec import DEFAULT_ALPHA, DEFAULT_ALPHA_SCHEDULE
from fastnlp.keyedvectors import load_vectors


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(0)
    lines = []
    for _ in range(400):
        g = int(rng.integers(4))
        lines.append(" ".join(f"g{g}w{int(i)}" for i in rng.integers(0, 10, size=12)))
    p = tmp_path / "corpus.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.mark.parametrize("fmt", ["binary", "text", "fastnlp"])
def test_train_then_eval(tmp_path, corpus, capsys, fmt):
    out = tmp_path / f"vec.{fmt}"
    rc = main(["word2vec", "train", str(corpus), "-o", str(out), "--model", "sg", "--dim", "16", "--window", "3",
               "--negative", "3", "--hs", "--sample", "0", "--min-count", "1", "--epochs", "2", "--threads", "2",
               "--format", fmt, "--no-progress"])
    assert rc == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["vocab_size"] == 40 and summary["dim"] == 16 and summary["epochs"] == 2
    kv = load_vectors(str(out))
    assert len(kv) == 40 and kv.vector_size == 16
    if fmt == "fastnlp":
        m = Word2Vec.load(out)
        assert m.sg == 1 and m.hs == 1 and m.negative == 3 and m.epochs_done == 2
    q = tmp_path / "q.txt"
    q.write_text(": same\ng0w1 g0w2 g0w3 g0w4\ng1w1 g1w2 zzz g1w4\n")
    ws = tmp_path / "ws.tsv"
    ws.write_text("g0w1\tg0w2\t9\ng0w1\tg1w2\t1\ng2w1\tg2w5\t8\ng3w1\tzzz\t2\n")
    rc = main(["word2vec", "eval", str(out), "--analogies", str(q), "--similarity", str(ws)])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["analogies"]["total"]["total"] == 1 and res["analogies"]["oov_questions"] == 1
    assert res["similarity"]["pairs"] == 3 and res["similarity"]["oov"] == 1


def test_python_m_fastnlp_runs_the_cli(tmp_path, corpus):
    out = tmp_path / "v.txt"
    r = subprocess.run([sys.executable, "-m", "fastnlp", "word2vec", "train", str(corpus), "-o", str(out),
                        "--dim", "8", "--min-count", "1", "--epochs", "1", "--threads", "1", "--format", "text",
                        "--no-progress"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["format"] == "text"
    assert KeyedVectors.load_word2vec_format(out).vector_size == 8


def test_cli_errors(tmp_path, corpus, capsys):
    assert main(["word2vec", "train", str(tmp_path / "missing.txt"), "-o", str(tmp_path / "o")]) == 1
    assert "corpus file not found" in capsys.readouterr().err
    assert main(["word2vec", "train", str(corpus), "-o", str(tmp_path / "o"), "--min-count", "100000",
                 "--no-progress"]) == 1
    assert "removes every word" in capsys.readouterr().err
    # with neither --analogies nor --similarity, eval reads the data folder's; a missing one is named
    assert main(["word2vec", "eval", str(corpus), "--data-dir", str(tmp_path / "nodata")]) == 1
    assert "nodata does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["word2vec", "eval", str(bad), "--similarity", str(corpus)]) == 1
    assert "not a valid fastnlp word2vec file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["word2vec", "train", str(corpus), "-o", "x", "--model", "glove"])


@pytest.mark.parametrize("model", [None, "sg", "cbow"])
def test_cli_defaults_are_the_python_apis(model):
    # `fastnlp word2vec train` with no option given trains the model Word2Vec() does: every
    # setting (alpha per model, min_alpha, sample, window, threads, ...) agrees.
    argv = ["word2vec", "train", "c.txt", "-o", "v.bin"] + (["--model", model] if model else [])
    cli = Word2Vec(**word2vec_kwargs(build_parser().parse_args(argv)))
    api = Word2Vec() if model is None else Word2Vec(sg=int(model == "sg"))
    assert cli.config() == api.config()
    assert cli.alpha == DEFAULT_ALPHA["sg" if model == "sg" else "cbow"]
    assert cli.alpha_schedule == DEFAULT_ALPHA_SCHEDULE["sg" if model == "sg" else "cbow"]
    # An option given reaches the model.
    cli = Word2Vec(**word2vec_kwargs(build_parser().parse_args(argv + ["--alpha", "0.03", "--threads", "1"])))
    assert cli.alpha == 0.03 and cli.workers == 1 and cli.min_alpha == api.min_alpha
