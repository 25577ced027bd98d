"""Decoders never output an ill-formed chunk sequence (e.g. I-PER after O in IOB2): the transition
masks of fastnlp.tagging.schemes, the Tagger's constrained Viterbi (word-level and sentence-level
models), and the shipped chunk / NER models on a large text none of them was trained on."""

import itertools

import numpy as np
import pytest
from conftest import shared_data

import fastnlp
from fastnlp.tagging import Tagger
from fastnlp.tagging import features as feat
from fastnlp.tagging.schemes import convert, split_tag, transition_constraints

TAGSETS = {"IOB2": ["O", "B-A", "I-A", "B-B", "I-B"], "IOB1": ["O", "B-A", "I-A", "B-B", "I-B"],
           "BIOES": ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"]}


def well_formed(tags, scheme):
    """Re-writing the chunks read from `tags` gives `tags` back (schemes.py repairs ill-formed input)."""
    return convert(tags, scheme, scheme) == list(tags)


def admitted(seq, allowed, start):
    return start[seq[0]] and all(allowed[a][b] for a, b in zip(seq, seq[1:]))


@pytest.mark.parametrize("scheme", sorted(TAGSETS))
def test_masks_admit_exactly_the_well_formed_sequences(scheme):
    tagset = TAGSETS[scheme]
    allowed, start = transition_constraints(tagset, scheme)
    for length in range(1, 5):
        for seq in itertools.product(range(len(tagset)), repeat=length):
            tags = [tagset[i] for i in seq]
            expected = well_formed(tags, scheme)
            got = admitted(seq, allowed, start)
            if scheme == "BIOES":  # the end (no B-X or I-X last) is beyond a [from, to] mask
                got = got and split_tag(tags[-1], scheme)[0] not in "BI"
            assert got == expected, (scheme, tags)


def _random_tagger(rng, tagset, sll, scheme="IOB2"):
    words = ["w%d" % i for i in range(20)]
    dim, window, hidden, K = 4, 3, 8, len(tagset)
    header = {"task": "test", "families": ["word"], "dims": [dim], "window": window, "tagset": tagset,
              "scheme": scheme}
    table = rng.normal(size=(feat.FIRST_ENTRY + len(words), dim)).astype(np.float32)
    arrays = [rng.normal(size=s).astype(np.float32) for s in ((hidden, window * dim), (hidden,), (K, hidden), (K,))]
    trans = start = None
    if sll:  # transitions that favour the ill-formed moves, so only the mask keeps them out
        trans = rng.normal(size=(K, K)).astype(np.float32)
        start = rng.normal(size=K).astype(np.float32)
        inside = [i for i, t in enumerate(tagset) if t.startswith("I-")]
        trans[:, inside] += 3.0
        start[inside] += 3.0
    return Tagger(header, [words], [table], *arrays, trans, start), words


def _best_well_formed(scores, tagset, trans, start, scheme):
    """Brute force: the highest-scoring well-formed sequence."""
    L, K = scores.shape
    trans = np.zeros((K, K)) if trans is None else trans
    start = np.zeros(K) if start is None else start
    best, best_seq = -np.inf, None
    for seq in itertools.product(range(K), repeat=L):
        if not well_formed([tagset[i] for i in seq], scheme):
            continue
        s = start[seq[0]] + sum(scores[t, y] for t, y in enumerate(seq))
        s += sum(trans[a, b] for a, b in zip(seq, seq[1:]))
        if s > best:
            best, best_seq = s, seq
    return [tagset[i] for i in best_seq]


@pytest.mark.parametrize("sll", [False, True])
@pytest.mark.parametrize("scheme", ["IOB2", "IOB1"])
def test_tagger_decodes_the_best_well_formed_sequence(rng, sll, scheme):
    tagset = TAGSETS[scheme]
    tagger, words = _random_tagger(rng, tagset, sll, scheme)
    sentences = [[words[i] for i in rng.integers(0, len(words), rng.integers(1, 5))] for _ in range(40)]
    out = tagger.tag_batch(sentences)
    for sentence, tags in zip(sentences, out):
        scores, _ = tagger.scores([sentence])
        assert tags == _best_well_formed(scores.astype(np.float64), tagset, tagger.transitions, tagger.start,
                                         scheme)
    long = [[words[i] for i in rng.integers(0, len(words), 300)] for _ in range(20)]
    assert all(well_formed(tags, scheme) for tags in tagger.tag_batch(long))


def test_model_file_scheme_is_checked(tmp_path, rng):
    tagger, _ = _random_tagger(rng, TAGSETS["IOB2"], sll=True)
    tagger.header["scheme"] = "IOB9"
    tagger.save(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="scheme must be null or one of IOB1, IOB2, BIOES, got 'IOB9'"):
        Tagger.load(tmp_path / "bad.npz")
    tagger.header["scheme"] = "BIOES"  # I- and B- tags are valid BIOES, so load it; a POS tag is not
    tagger.header["tagset"] = ["O", "NN", "B-A", "I-A", "B-B"]
    tagger.save(tmp_path / "pos.npz")
    with pytest.raises(ValueError, match="tag 'NN' is not valid in BIOES"):
        Tagger.load(tmp_path / "pos.npz")


@pytest.mark.parametrize("name", ["ner", "chunk", "ner-bilstm", "chunk-bilstm"])
def test_shipped_models_emit_only_well_formed_iob2_on_unseen_text(name):
    """WikiText-2 validation paragraphs (~210k tokens): before the decode-time constraints the shipped
    `ner` model emitted 499 ill-formed I- tags on them and `chunk` 340."""
    path = shared_data("lm", "wikitext2", "wiki.valid.tokens")
    with open(path, encoding="utf-8") as f:
        sentences = [line.split() for line in f if line.strip() and not line.lstrip().startswith("=")]
    tagger = fastnlp.load_tagger(name)
    out = tagger.tag_batch(sentences)
    assert sum(map(len, out)) > 200_000
    bad = [tags for tags in out if not well_formed(tags, "IOB2")]
    assert not bad, f"{len(bad)} ill-formed sentences, e.g. {bad[0][:30]}"
