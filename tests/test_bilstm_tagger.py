"""BiLSTM-CNN-CRF tagger (fastnlp.tagging.bilstm): the whole loss's gradient against float64 central
differences (dropout on, its masks repeated), padding / batch-mate invariance, bad input.

Tolerances: float64 central differences with eps 1e-6 agree to atol 1e-7 + rtol 1e-5; float32 runs of
one sentence alone vs in a batch agree to atol 1e-5 (the same products, summed in another blocking).
"""

import numpy as np
import pytest

from gradcheck import assert_grad_close

from fastnlp.tagging.bilstm import MAX_WORD_CHARS, PAD, UNK, BiLSTMCRF, Vocab, padding_index

WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog"]
CHARS = list("abcdefghijklmnopqrstuvwxyzTC.")
SENTENCES = [["The", "cat", "sat", "on", "the", "mat", "."], ["A", "dog"], [], ["Cat", "zzz", "", "dogs"],
             ["on"]]


def _net(dtype=np.float64, dropout=0.3, seed=1, num_tags=5):
    vocab = Vocab(WORDS, CHARS)
    net = BiLSTMCRF(vocab.num_words, vocab.num_chars, num_tags, word_dim=4, char_dim=3, char_filters=5,
                    char_width=3, hidden=3, dropout=dropout, seed=seed, dtype=dtype)
    rng = np.random.default_rng(seed)
    # Non-zero CRF parameters, so their gradients are not trivially symmetric.
    net.transitions.value[...] = rng.normal(0, 0.5, net.transitions.value.shape)
    net.start.value[...] = rng.normal(0, 0.5, net.start.value.shape)
    return vocab, net


def _tags(batch, K, seed=0):
    return np.random.default_rng(seed).integers(0, K, len(batch.words)).astype(np.int32)


def test_vocab_encode_layout():
    vocab = Vocab(WORDS, CHARS)
    batch = vocab.encode([["The", "Dogs", ""], [], ["x" * 100, "9"]])
    assert batch.offsets.tolist() == [0, 3, 3, 5]
    assert batch.words.tolist() == [2, UNK, UNK, UNK, UNK]           # "The" lower-cased is "the"
    assert batch.chars.shape == (5, MAX_WORD_CHARS)
    assert batch.chars[0, :3].tolist() == [2 + CHARS.index("T"), 2 + CHARS.index("h"), 2 + CHARS.index("e")]
    assert batch.chars[1, 1] == 2 + CHARS.index("o") and batch.chars[1, 0] == UNK   # "D" is not a known char
    assert (batch.chars[0, 3:] == PAD).all() and (batch.chars[2] == PAD).all()
    assert batch.char_lengths.tolist() == [3, 4, 1, MAX_WORD_CHARS, 1]
    assert (batch.chars[3] == 2 + CHARS.index("x")).all()
    odd = vocab.encode([["a\ud800b", "\U0001F600"]])        # a lone surrogate, a character beyond the BMP
    assert odd.chars[0, :3].tolist() == [2 + CHARS.index("a"), UNK, 2 + CHARS.index("b")]
    assert odd.char_lengths.tolist() == [3, 1] and odd.chars[1, 0] == UNK


def test_padding_index():
    S, T, index, lengths = padding_index(np.array([0, 2, 2, 5, 6]))
    assert (S, T) == (3, 3) and lengths.tolist() == [2, 3, 1]
    assert index.tolist() == [0, 1, 3, 4, 5, 6]


def test_gradient_float64_central_differences():
    vocab, net = _net()
    net.words.sparse = False                       # a dense word-table gradient, to compare entry by entry
    batch = vocab.encode(SENTENCES)
    tags = _tags(batch, 5)
    net.zero_grad()
    net.reseed_dropout(7)
    net.loss(batch, tags, train=True, scale=0.5)
    analytic = [p.grad.copy() for p in net.parameters()]

    def loss():
        net.reseed_dropout(7)                      # the same masks as the analytic run
        return 0.5 * net.loss(batch, tags, train=True, backward=False)

    for p, g in zip(net.parameters(), analytic):
        assert_grad_close(g, loss, p.value)


def test_dropout_is_used_in_training_only():
    vocab, net = _net(dtype=np.float32, dropout=0.5)
    batch = vocab.encode(SENTENCES)
    a = net.scores(batch, train=False)
    b = net.scores(batch, train=False)
    np.testing.assert_array_equal(a, b)
    net.reseed_dropout(1)
    c = net.scores(batch, train=True)
    assert not np.allclose(a, c)


def test_sentence_result_independent_of_batch_mates():
    vocab, net = _net(dtype=np.float32)
    alone = [net.scores(vocab.encode([s]), train=False) for s in SENTENCES]
    together = net.scores(vocab.encode(SENTENCES), train=False)
    reordered = net.scores(vocab.encode(SENTENCES[::-1]), train=False)
    offsets = np.cumsum([0] + [len(s) for s in SENTENCES])
    back = np.cumsum([0] + [len(s) for s in SENTENCES[::-1]])
    for s, a in enumerate(alone):
        np.testing.assert_allclose(together[offsets[s]:offsets[s + 1]], a, atol=1e-5)
        r = len(SENTENCES) - 1 - s
        np.testing.assert_allclose(reordered[back[r]:back[r + 1]], a, atol=1e-5)
    pred_alone = np.concatenate([net.decode(vocab.encode([s])) for s in SENTENCES])
    np.testing.assert_array_equal(net.decode(vocab.encode(SENTENCES)), pred_alone)


def test_loss_gradient_of_a_sentence_alone_equals_its_share_in_a_batch():
    vocab, net = _net(dtype=np.float64, dropout=0.0)
    batch = vocab.encode(SENTENCES)
    tags = _tags(batch, 5)
    total = net.loss(batch, tags, train=False)
    parts = sum(net.loss(vocab.encode([s]), tags[o:o + len(s)], train=False)
                for s, o in zip(SENTENCES, np.cumsum([0] + [len(s) for s in SENTENCES])))
    assert total == pytest.approx(parts, rel=1e-12)


def test_bad_input_names_the_argument():
    vocab, net = _net(dtype=np.float32)
    batch = vocab.encode(SENTENCES)
    with pytest.raises(ValueError, match="tags must have shape"):
        net.loss(batch, np.zeros(3, np.int32))
    with pytest.raises(ValueError, match=r"tags must be in \[0, 5\)"):
        net.loss(batch, np.full(len(batch.words), 5, np.int32))
    with pytest.raises(TypeError, match=r"sentences\[1\] holds a int"):
        vocab.encode([["a"], ["b", 3]])
    with pytest.raises(TypeError, match=r"sentences\[0\] must be a list of str tokens"):
        vocab.encode(["a sentence as a string"])
    with pytest.raises(TypeError, match="sentences must be a list of token lists"):
        vocab.encode("text")
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        BiLSTMCRF(10, 10, 3, hidden=0)
    with pytest.raises(ValueError, match="Dropout: p must be a probability"):
        BiLSTMCRF(10, 10, 3, dropout=1.0)
    with pytest.raises(ValueError, match="chars must be distinct single characters"):
        Vocab(["a"], ["ab"])
    with pytest.raises(RuntimeError, match="call scores"):
        net.scores(batch, train=False)
        net.backward(np.zeros((len(batch.words), 5), np.float32))


# ---- the tagger: interface, file format, load_tagger dispatch -----------------------------------

from fastnlp.tagging import BiLSTMTagger, Tagger, load_tagger  # noqa: E402
from fastnlp.tagging.data import Sentence  # noqa: E402
from fastnlp.tagging.tasks import TaskData  # noqa: E402
from fastnlp.tagging.train_bilstm import train_bilstm  # noqa: E402

NER_TAGS = ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]
TINY = dict(word_dim=4, char_dim=3, char_filters=5, char_width=3, hidden=3, epochs=2, batch_sentences=2, min_count=1,
            char_min_count=1)


def _tiny_data():
    train = [Sentence(["John", "lives", "in", "New", "York", "."], ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"]),
             Sentence(["Mary", "Smith", "sat"], ["B-PER", "I-PER", "O"]),
             Sentence(["Paris", "is", "big"], ["B-LOC", "O", "O"]),
             Sentence(["He", "met", "Ann", "in", "Rome"], ["O", "O", "B-PER", "O", "B-LOC"]),
             Sentence(["Bob", "left"], ["B-PER", "O"])]
    return TaskData(train, train[:3], train[3:], "dev", "heldout")


def _tiny_tagger(tmp_path=None, **overrides):
    tagger, best, history = train_bilstm("ner", _tiny_data(), dict(TINY, **overrides), progress=False,
                                         log=lambda m: None)
    tagger.header.update(training_data="five made-up sentences", license="CC0")
    return tagger


def test_tagger_interface_and_iob2_output():
    tagger = _tiny_tagger()
    assert tagger.tagset == NER_TAGS and tagger.scheme == "IOB2"
    sentences = [["John", "met", "Mary", "Smith", "in", "Paris", "."], [], ["Unseen", "Words", "ß"]] * 40
    out = tagger.tag_batch(sentences)
    assert [len(t) for t in out] == [len(s) for s in sentences]
    assert tagger.tag(sentences[0]) == out[0]
    for tags in out:                                  # never an I-X that does not continue X
        for prev, tag in zip(["O"] + tags, tags):
            if tag.startswith("I-"):
                assert prev[2:] == tag[2:], tags
    with pytest.raises(TypeError, match="tokenize it first"):
        tagger.tag("John met Mary")


def test_tag_batch_sorting_keeps_order(monkeypatch):
    import fastnlp.tagging.bilstm_tagger as bt

    tagger = _tiny_tagger()
    sentences = [["a"] * n for n in (5, 1, 9, 0, 3, 7, 2)] + [["John", "in", "Rome"]]
    want = [tagger.tag(s) for s in sentences]
    monkeypatch.setattr(bt, "BATCH_TOKENS", 6)       # several batches of similar lengths
    assert tagger.tag_batch(sentences) == want


def test_save_load_roundtrip_and_dispatch(tmp_path):
    tagger = _tiny_tagger()
    path = tmp_path / "ner-bilstm.safetensors"
    tagger.save(path)
    for loaded in (BiLSTMTagger.load(path), Tagger.load(path), load_tagger(str(path))):
        assert isinstance(loaded, BiLSTMTagger)
        assert loaded.header["license"] == "CC0" and loaded.header["architecture"] == "bilstm-cnn-crf"
        assert loaded.vocab.words == tagger.vocab.words and loaded.vocab.chars == tagger.vocab.chars
        for name, a in tagger.arrays().items():
            want = a.astype(np.float16).astype(np.float32) if name == "word_table" else a
            np.testing.assert_array_equal(loaded.arrays()[name], want)
    import pickle

    again = pickle.loads(pickle.dumps(load_tagger(str(path))))
    sentence = ["John", "lives", "in", "Paris"]
    assert again.tag(sentence) == BiLSTMTagger.load(path).tag(sentence)


def test_corrupted_files_are_rejected_naming_the_problem(tmp_path):
    from fastnlp import safeformat
    from fastnlp.tagging.tagger import FORMAT_NAME, FORMAT_VERSION

    tagger = _tiny_tagger()
    path = tmp_path / "t.safetensors"
    tagger.save(path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    bad = tmp_path / "flipped.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a valid fastnlp tagger file"):
        load_tagger(str(bad))
    header, arrays, _ = safeformat.load(path, FORMAT_NAME, FORMAT_VERSION, (), "x")
    cases = [({"dims": dict(header["dims"], hidden=0)}, {}, "dims must map"),
             ({}, {"out_W": np.zeros((2, 2), np.float32)}, r"out_W must be float32 \(5, 6\)"),
             ({}, {"conv_b": np.full(5, np.nan, np.float32)}, "conv_b holds NaN"),
             ({"tagset": ["O", "O"]}, {}, "tagset must be a list of distinct strings"),
             ({"scheme": "IOB2", "tagset": ["O", "X-PER", "B-PER", "I-PER", "B-LOC"]}, {}, "not valid in IOB2")]
    for change_header, change_arrays, message in cases:
        broken = tmp_path / "broken.safetensors"
        safeformat.save(broken, FORMAT_NAME, FORMAT_VERSION, {k: v for k, v in dict(header, **change_header).items()
                                                              if k not in ("format", "version")},
                        dict(arrays, **change_arrays))
        with pytest.raises(ValueError, match=message):
            load_tagger(str(broken))
    missing = {k: v for k, v in arrays.items() if k != "lstm_bw_W_hh"}
    safeformat.save(tmp_path / "m.safetensors", FORMAT_NAME, FORMAT_VERSION,
                    {k: v for k, v in header.items() if k not in ("format", "version")}, missing)
    with pytest.raises(ValueError, match="member 'lstm_bw_W_hh' is missing"):
        load_tagger(str(tmp_path / "m.safetensors"))


def test_load_tagger_names():
    from fastnlp.tagging.tagger import PRETRAINED_BILSTM, pretrained_path
    import os

    for name in PRETRAINED_BILSTM:
        if os.path.exists(pretrained_path(name)):
            tagger = load_tagger(name)
            assert isinstance(tagger, BiLSTMTagger) and tagger.task == name.split("-")[0]
            assert tagger.header["training_data"] and tagger.header["license"]
            assert len(tagger.tag(["The", "cat", "sat", "."])) == 4
        else:
            with pytest.raises(FileNotFoundError, match=f"train_bilstm {name.split('-')[0]}"):
                load_tagger(name)
    with pytest.raises(ValueError, match="ner-bilstm"):
        load_tagger("nonexistent-model")


# ---- the trainer: exact resume, bad config -------------------------------------------------------

def test_resume_continues_exactly(tmp_path):
    data = _tiny_data()
    straight, _, history = train_bilstm("ner", data, dict(TINY, epochs=3), progress=False, log=lambda m: None)
    ckpt = str(tmp_path / "ner.ckpt")
    train_bilstm("ner", data, dict(TINY, epochs=1), ckpt, progress=False, log=lambda m: None)
    resumed, _, history2 = train_bilstm("ner", data, dict(TINY, epochs=3), ckpt, resume=True, progress=False,
                                        log=lambda m: None)
    assert [h["loss"] for h in history2] == [h["loss"] for h in history]
    for name, a in straight.arrays().items():
        np.testing.assert_array_equal(resumed.arrays()[name], a, err_msg=name)
    with pytest.raises(ValueError, match="was written for seed"):
        train_bilstm("ner", data, dict(TINY, epochs=3), ckpt, resume=True, seed=5, progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_bilstm("ner", data, TINY, str(tmp_path / "none"), resume=True, progress=False)


def test_trainer_bad_config():
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        train_bilstm("ner", _tiny_data(), dict(TINY, hidden=-1), progress=False)
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        train_bilstm("ner", _tiny_data(), dict(TINY, optimizer="rmsprop"), progress=False)


# ---- the PyTorch mirror (benchmarks time against it): same loss, gradients, Viterbi --------------

def test_torch_mirror_matches_loss_gradients_and_viterbi():
    torch = pytest.importorskip("torch")
    from fastnlp.tagging.bilstm_tagger import PARAMS
    from fastnlp.tagging.bilstm_torch import grads_from_torch, to_torch
    from fastnlp.tagging.network import decode_scores

    vocab, net = _net(dtype=np.float64, dropout=0.0)
    net.words.sparse = False
    batch = vocab.encode(SENTENCES)
    tags = _tags(batch, 5)
    mirror = to_torch(net)
    mirror.train()
    net.zero_grad()
    loss = net.loss(batch, tags, train=True)
    scores_t = mirror.scores(batch)
    loss_t = mirror.nll(scores_t, batch, tags)
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-10)
    np.testing.assert_allclose(scores_t.detach().numpy(), net.scores(batch), rtol=1e-10, atol=1e-12)
    got = grads_from_torch(mirror)
    for name, p in zip(PARAMS, net.parameters()):
        np.testing.assert_allclose(p.grad, got[name], rtol=1e-8, atol=1e-10, err_msg=name)
    trans, start = decode_scores(NER_TAGS, "IOB2", net.transitions.value, net.start.value, np.float64)
    np.testing.assert_array_equal(mirror.viterbi(scores_t.detach(), batch, trans, start),
                                  net.decode(batch, trans, start))
    np.testing.assert_array_equal(mirror.viterbi(scores_t.detach(), batch), net.decode(batch))
    del torch


# The targets; upos-bilstm ships for beating the window upos model's held-out 94.70%.
BILSTM_HELDOUT_TARGETS = {"ner-bilstm": 91.0, "chunk-bilstm": 94.5, "pos-bilstm": 96.8, "upos-bilstm": 94.7}


@pytest.mark.skipif(__import__("os").environ.get("FASTNLP_SLOW_TESTS") != "1",
                    reason="tags whole held-out splits (a minute on 2 cores): set FASTNLP_SLOW_TESTS=1")
@pytest.mark.parametrize("name", sorted(BILSTM_HELDOUT_TARGETS))
def test_pretrained_bilstm_models_reach_the_heldout_targets(name):
    """Each shipped BiLSTM model on its held-out split (fastnlp.tagging.tasks; no model selection saw
    it): the score its header states is the one measured here, and it reaches the issue's target."""
    import os

    from conftest import shared_data
    from fastnlp.tagging.metrics import accuracy, conlleval
    from fastnlp.tagging.tagger import pretrained_path
    from fastnlp.tagging.tasks import load_task_data

    if not os.path.exists(pretrained_path(name)):
        pytest.skip(f"{name} is not shipped in this checkout")
    task = name.split("-")[0]
    if task in ("pos", "upos"):  # pos learns from UD English-EWT too, upos only from it
        pytest.importorskip("conllu", reason="conllu (pip install '.[peers]') is needed to read UD English-EWT")
    data = load_task_data(task, os.path.dirname(shared_data("tagging")))
    tagger = load_tagger(name)
    metric = "f1" if tagger.scheme else "accuracy"
    pred = tagger.tag_batch([s.tokens for s in data.heldout])
    gold = [s.tags for s in data.heldout]
    score = conlleval(gold, pred).f1 if metric == "f1" else accuracy(gold, pred)
    assert abs(score - tagger.header[f"heldout_{metric}"]) < 0.01, score
    assert tagger.header["heldout_set"] == data.heldout_name and tagger.header["dev_set"] == data.dev_name
    assert tagger.header["training_data"] and tagger.header["license"]
    assert os.path.getsize(pretrained_path(name)) < 8e6
    assert score >= BILSTM_HELDOUT_TARGETS[name]
