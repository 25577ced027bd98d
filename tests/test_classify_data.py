"""The classification readers and tokenizer: tiny synthetic files (encodings, malformed lines, SST
trees) and, when ../shared/data is present, the real MR / SUBJ / CR / MPQA / TREC / SST files."""

import os

import numpy as np
import pytest

from fastnlp.classify import data as D

DATA = os.environ.get("FASTNLP_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
CLS = os.path.join(DATA, "classification")
needs_data = pytest.mark.skipif(not os.path.isdir(CLS), reason=f"classification data not found at {CLS}")


def rejects(f, text, read, pattern):
    """Writes text to f and checks that read(f) raises ValueError matching pattern."""
    f.write_text(text)
    with pytest.raises(ValueError, match=pattern):
        read(str(f))


def test_tokenize_follows_kims_clean_str():
    assert D.tokenize("It's a (good) film, isn't it?!") == \
        ["it", "'s", "a", "(", "good", ")", "film", ",", "is", "n't", "it", "?", "!"]
    assert D.tokenize("We'll see; you'd've known -- $5.") == ["we", "'ll", "see", "you", "'d", "'ve", "known", "5"]
    assert D.tokenize("What is NASA ?", lower=False) == ["What", "is", "NASA", "?"]
    assert D.tokenize("café ... ") == ["caf"]   # only letters, digits and ( ) , ! ? ' ` survive, as Kim's
    assert D.tokenize("") == []


def test_tokenize_of_joined_text_is_joined_tokens():
    # read_sst relies on this: a phrase's tokens are the concatenation of its leaves' tokens
    leaves = ["Do", "n't", "8 1\\/2", "(", "it's", "!!", "--"]
    assert D.tokenize(" ".join(leaves)) == [t for w in leaves for t in D.tokenize(w)]


def test_read_lines_latin1_and_utf8(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("na\xefve caf\xe9\nsecond\x85line\n".encode("latin-1"))
    assert D.read_lines(str(latin)) == ["na\xefve caf\xe9", "second\x85line"]   # \x85 is not a line break here
    utf = tmp_path / "utf.txt"
    utf.write_bytes("naïve\r\nzwei\n".encode("utf-8"))
    assert D.read_lines(str(utf)) == ["naïve", "zwei"]


def test_read_lines_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="classification data not found: .*nope.txt"):
        D.read_lines(str(tmp_path / "nope.txt"))
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"fine\nalso fine\nbad\x00line\n")
    with pytest.raises(ValueError, match=r"bin.txt:3: NUL byte"):
        D.read_lines(str(binary))


def test_read_labelled_lines_keeps_empty_sentences(tmp_path):
    pos, neg = tmp_path / "p", tmp_path / "n"
    pos.write_text("good !\n\nfine\n")
    neg.write_text("bad\n")
    ds = D.read_labelled_lines({"positive": str(pos), "negative": str(neg)}, name="x")
    assert ds.sentences == [["good", "!"], [], ["fine"], ["bad"]]
    assert ds.labels == ["positive"] * 3 + ["negative"]
    assert ds.label_names == ["positive", "negative"]


def test_read_trec_coarse_labels_and_errors(tmp_path):
    f = tmp_path / "trec"
    f.write_text("DESC:manner How did it develop ?\nNUM:date When was NASA founded ?\n")
    ds = D.read_trec(str(f))
    assert ds.labels == ["DESC", "NUM"]
    assert ds.sentences[1] == ["When", "was", "NASA", "founded", "?"]   # TREC keeps case
    rejects(f, "DESC:manner How ?\nFOO:bar What ?\n", D.read_trec,
            r"trec:2: expected 'COARSE:fine question'.*'FOO:bar What \?'")
    rejects(f, "no label here\n", D.read_trec, r"trec:1: expected 'COARSE:fine question'")
    rejects(f, "HUM:ind\n", D.read_trec, r"trec:1: no question after the label")


def test_parse_tree():
    label, words, phrases = D.parse_tree("(3 (2 a) (4 (2 8 1\\/2) (1 b)))")
    assert label == 3 and words == ["a", "8 1\\/2", "b"]
    assert phrases == [(2, ["a"]), (2, ["8 1\\/2"]), (1, ["b"]), (4, ["8 1\\/2", "b"]), (3, ["a", "8 1\\/2", "b"])]
    assert D.parse_tree("  (0 word)  ")[:2] == (0, ["word"])


@pytest.mark.parametrize("text, why", [
    ("(3 (2 a) (2 b)", "expected '\\)'"),
    ("(7 (2 a))", "label '7' is not one of 0-4"),
    ("(x (2 a))", "label 'x' is not one of 0-4"),
    ("(3 (2 a)) extra", "text after the closing"),
    ("(3 )", "expected a word"),
    ("word", "expected '\\(' and a label"),
])
def test_parse_tree_errors(text, why):
    with pytest.raises(ValueError, match=f"here.txt:5: {why}"):
        D.parse_tree(text, "here.txt:5")


def test_sst_selection_split_holds_out_whole_trees(tmp_path):
    (tmp_path / "sst").mkdir()
    # tree i: (label (2 wI) (label okI)), so every phrase names its tree
    trees = [f"({4 if i % 2 else 0} (2 w{i}) ({4 if i % 2 else 0} ok{i}))" for i in range(20)]
    (tmp_path / "sst" / "train.txt").write_text("\n".join(trees) + "\n")
    train, sel = D.sst_selection_split(str(tmp_path), fraction=0.2)
    held = {s[0][1:] for s in sel.sentences}                       # the held-out trees' numbers
    assert len(sel) == 4 and all(len(s) == 2 for s in sel.sentences)   # whole sentences only
    seen = {w.replace("ok", "").replace("w", "") for s in train.sentences for w in s}
    assert len(seen) == 16 and not seen & held                     # no phrase of a held-out tree
    assert D.sst_selection_split(str(tmp_path), fraction=0.2)[1].sentences == sel.sentences   # fixed draw
    with pytest.raises(ValueError, match="fraction must be in"):
        D.sst_selection_split(str(tmp_path), fraction=1.0)


def test_read_sst_binary_fine_and_phrases(tmp_path):
    f = tmp_path / "trees.txt"
    f.write_text("(4 (3 (2 a) (3 good)) (2 film))\n(1 (2 a) (0 bad))\n(2 (2 meh) (2 film))\n")
    s2 = D.read_sst(str(f))
    assert s2.sentences == [["a", "good", "film"], ["a", "bad"]] and s2.labels == ["positive", "negative"]
    s5 = D.read_sst(str(f), fine=True)
    assert s5.labels == ["4", "1", "2"] and s5.label_names == ["0", "1", "2", "3", "4"]
    ph = D.read_sst(str(f), phrases=True)   # every non-neutral node, each distinct phrase once
    assert list(zip(ph.sentences, ph.labels)) == [(["good"], "positive"), (["a", "good"], "positive"),
                                                  (["a", "good", "film"], "positive"), (["bad"], "negative"),
                                                  (["a", "bad"], "negative")]
    rejects(f, "(4 (2 a) (2 b))\n\n", D.read_sst, r"trees.txt:2: blank line")
    rejects(f, "(4 (2 a) (2 b))\n(4 (2 a) (5 b))\n", D.read_sst, r"trees.txt:2: label '5'")


def test_folds_fixed_and_balanced():
    f = D.folds(103)
    assert np.array_equal(f, D.folds(103))
    assert np.bincount(f).tolist() == [11, 11, 11] + [10] * 7
    ds = D.Dataset([[str(i)] for i in range(103)], ["a"] * 103)
    tr, te = D.cv_split(ds, 4)
    assert len(tr) + len(te) == 103 and not {s[0] for s in tr.sentences} & {s[0] for s in te.sentences}
    with pytest.raises(ValueError, match=r"fold must be in 0..9, got 10"):
        D.cv_split(ds, 10)
    with pytest.raises(ValueError, match=r"task must be one of"):
        D.load_task("imdb", "/nonexistent")


@needs_data
def test_real_cv_sets():
    sizes = {"mr": (5331, 5331), "subj": (5000, 5000), "cr": (1368, 2407), "mpqa": (7294, 3312)}
    for task, (a, b) in sizes.items():
        ds = D.load_cv(task, CLS)
        names = D.CV_TASKS[task][1]
        counts = [ds.labels.count(name) for name in names]
        assert counts == [a, b], task
        tr, te = D.cv_split(ds, 0)
        assert len(tr) + len(te) == a + b and abs(len(te) - (a + b) / 10) < 1
    # MR is Latin-1: its accents decode as such, not as replacement characters
    lines = D.read_lines(os.path.join(CLS, "mr", "rt-polarity.neg"))
    assert len(lines) == 5331 and any("é" in line for line in lines) and not any("\ufffd" in x for x in lines)


@needs_data
def test_real_trec_and_sst():
    tr, dev = D.load_task("trec", CLS)
    assert len(tr) + len(dev) == 5452 and len(dev) == 545
    assert set(tr.labels) == set(D.TREC_COARSE)
    dev2 = D.read_sst(os.path.join(CLS, "sst", "dev.txt"))
    assert len(dev2) == 872 and set(dev2.labels) == {"negative", "positive"}
    dev5 = D.read_sst(os.path.join(CLS, "sst", "dev.txt"), fine=True)
    assert len(dev5) == 1101
