"""BiLSTM-CNN-CRF tagger (fastnlp.tagging.bilstm): the whole loss's gradient against float64 central
differences (dropout on, its masks repeated), padding / batch-mate invariance, bad input.

Tolerances: float64 central differences with eps 1e-6 agree to atol 1e-7 + rtol 1e-5; float32 runs of
one sentence alone vs in a batch agree to atol 1e-5 (the same products, summed in another blocking).
"""

import numpy as np
import pytest

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


def _dense_grad(p):
    g = np.zeros_like(p.value) if p.grad is None else p.grad.copy()
    if p.sparse_grad is not None:
        ids, rows = p.sparse_grad
        np.add.at(g, ids, rows)
    return g


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


def test_padding_index():
    S, T, index, lengths = padding_index(np.array([0, 2, 2, 5, 6]))
    assert (S, T) == (3, 3) and lengths.tolist() == [2, 3, 1]
    assert index.tolist() == [0, 1, 3, 4, 5, 6]


def test_gradient_float64_central_differences():
    vocab, net = _net()
    batch = vocab.encode(SENTENCES)
    tags = _tags(batch, 5)
    net.zero_grad()
    net.reseed_dropout(7)
    net.loss(batch, tags, train=True, scale=0.5)
    analytic = [_dense_grad(p) for p in net.parameters()]

    def loss():
        net.reseed_dropout(7)                      # the same masks as the analytic run
        value = net.loss(batch, tags, train=True, scale=0.5)
        net.zero_grad()
        return 0.5 * value

    rng = np.random.default_rng(3)
    eps = 1e-6
    checked = 0
    for p, g in zip(net.parameters(), analytic):
        flat = p.value.reshape(-1)
        picks = rng.choice(flat.size, size=min(flat.size, 12), replace=False)
        if p is net.words.W:                       # the rows the batch uses, and one it does not
            picks = np.concatenate([np.unique(batch.words)[:4] * p.value.shape[1], [flat.size - 1]])
        for i in picks:
            old = flat[i]
            flat[i] = old + eps
            up = loss()
            flat[i] = old - eps
            down = loss()
            flat[i] = old
            numeric = (up - down) / (2 * eps)
            assert abs(numeric - g.reshape(-1)[i]) <= 1e-7 + 1e-5 * abs(numeric), (p.name, i, numeric,
                                                                                  g.reshape(-1)[i])
            checked += 1
    assert checked > 100


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
