"""fastnlp.classify's networks (TextCNN, RNNAcceptor): float64 gradient checks of every parameter
through forward/backward (dropout included, its masks replayed), padding invariance and ragged
batches, short sentences, seeds, static / multichannel embeddings, bad input, a model that learns,
the RNN's inference through its distinct-id projection equal to the plain route, and logits and
gradients equal to the same network in PyTorch (when torch is installed).

Tolerances: float64 gradients rtol 1e-5 / atol 1e-7 (central differences, eps 1e-6); float32
padding / batch invariance atol 1e-5; float32 against PyTorch, and the RNN's projected inference
against its plain route (the same sums through another GEMM), atol 1e-5 + rtol 1e-4.
"""

import numpy as np
import pytest

from fastnlp import ops, optim
from fastnlp.classify import RNNAcceptor, TextCNN
from fastnlp.classify.torch_mirror import grads_from_torch, named_gradients, to_torch
from fastnlp.nn import SoftmaxCrossEntropy
from gradcheck import assert_grad_close

V, E = 11, 4


def _batch(rng, lengths, T=None, pad_id=0):
    lengths = np.asarray(lengths, np.int64)
    T = int(lengths.max()) if T is None else T
    ids = rng.integers(1, V, (len(lengths), T)).astype(np.int32)
    ids[np.arange(T)[None, :] >= lengths[:, None]] = pad_id
    return ids, lengths


def _dense_embedding_grad(p):
    G = np.zeros_like(p.value)
    np.add.at(G, p.sparse_grad[0], p.sparse_grad[1])
    return G


def _gradcheck(net, ids, lengths, rng):
    R = rng.standard_normal((ids.shape[0], net.n_classes))

    def loss():
        net._drop_rng = np.random.default_rng(7)  # the same dropout mask on every evaluation
        return float((net.forward(ids, lengths, train=True) * R).sum())

    net.zero_grad()
    loss()
    net.backward(R)
    checked = 0
    for p in net.parameters():
        if p is net.embedding.W and not net.static:
            assert_grad_close(_dense_embedding_grad(p), loss, p.value)
        elif p.grad is not None:
            assert_grad_close(p.grad, loss, p.value)
        else:
            assert p.sparse_grad is None
            continue
        checked += 1
    return checked


CNN_CASES = [dict(pooling="max"), dict(pooling="avg"), dict(pooling="max", dropout=0.0),
             dict(pooling="max", static=True), dict(pooling="avg", multichannel=True)]


@pytest.mark.parametrize("kw", CNN_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_textcnn_gradients(kw, rng):
    kw = dict(kw)
    if kw.get("static") or kw.get("multichannel"):
        kw["pretrained"] = rng.standard_normal((V, E))
    net = TextCNN(V, 3, embed_dim=E, widths=(1, 2, 4), maps=3, seed=3, dtype=np.float64, **kw)
    ids, lengths = _batch(rng, [1, 3, 6, 2], T=7)  # lengths 1 and 2 are shorter than the widest filter
    n = _gradcheck(net, ids, lengths, rng)
    assert n == 2 * 3 + 2 + (0 if kw.get("static") else 1)
    if kw.get("multichannel"):
        assert net.static_embedding.W.grad is None and net.static_embedding.W.sparse_grad is None


RNN_CASES = [dict(cell=c, pooling=p) for c in ("lstm", "gru", "elman") for p in ("last", "max", "mean")]
RNN_CASES += [dict(cell="lstm", bidirectional=True), dict(cell="gru", bidirectional=True, pooling="max"),
              dict(cell="lstm", layers=2), dict(cell="elman", layers=2, bidirectional=True, pooling="mean"),
              dict(cell="lstm", input_dropout=0.3, word_dropout=0.3),
              dict(cell="gru", bidirectional=True, pooling="mean", input_dropout=0.5)]


@pytest.mark.parametrize("kw", RNN_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_rnn_acceptor_gradients(kw, rng):
    net = RNNAcceptor(V, 3, embed_dim=E, hidden=3, seed=4, dtype=np.float64, **kw)
    ids, lengths = _batch(rng, [1, 4, 2], T=5)
    n = _gradcheck(net, ids, lengths, rng)
    dirs = 2 if kw.get("bidirectional") else 1
    assert n == 4 * dirs * kw.get("layers", 1) + 2 + 1



@pytest.mark.parametrize("kw", RNN_CASES, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_inference_projecting_distinct_ids_equals_the_plain_route(kw, rng, monkeypatch):
    """CPU inference projects each distinct id of a batch once (ops.rnn_projected): the logits of
    the plain route (project_distinct False), for ragged lengths with garbage in the padding, ids
    repeated many times (the vocabulary's unknown-word id 1 at every id above 6), a batch of one
    and a single word."""
    calls = []
    projected = ops.rnn_projected
    monkeypatch.setattr(ops, "rnn_projected", lambda *a, **k: calls.append(1) or projected(*a, **k))
    net = RNNAcceptor(V, 3, embed_dim=E, hidden=6, seed=3, **kw)
    ids, lengths = _batch(rng, [1, 9, 4, 2, 7, 9], T=11, pad_id=5)
    ids[(ids > 6) & (np.arange(11)[None, :] < lengths[:, None])] = 1
    for i, n in ((ids, lengths), (ids[2:3], lengths[2:3]), (ids[0:1, :1], lengths[0:1])):
        net.project_distinct = False
        plain = net.forward(i, n)
        net.project_distinct = True
        before = len(calls)
        got = net.forward(i, n)
        assert len(calls) - before == (2 if kw.get("bidirectional") else 1)
        np.testing.assert_allclose(got, plain, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match=r"ids must be in \[0, 11\)"):
        net.forward(np.array([[1, V]], np.int64), np.array([2]))
    with pytest.raises(ValueError, match=r"ids must be in \[0, 11\)"):
        net.forward(np.array([[-1, 2]], np.int32), np.array([2]))

def test_word_and_input_dropout_in_training_only(rng, monkeypatch):
    """word_dropout turns about that share of the sentences' words (never the padding) into the
    unknown word (id 1) and leaves the others; input_dropout zeroes about that share of the
    recurrence's inputs and scales the rest by 1 / (1 - p); inference uses neither (the same logits
    as the same network without them)."""
    net = RNNAcceptor(V, 2, embed_dim=E, hidden=5, seed=1, word_dropout=0.4, input_dropout=0.25)
    ids, lengths = _batch(rng, rng.integers(1, 40, 30), T=45)
    ids[ids == 1] = 2   # no unknown word before dropout
    seen = {}
    embed, recur = net._embed, net.rnn.forward
    monkeypatch.setattr(net, "_embed", lambda i: (seen.__setitem__("ids", i.copy()), embed(i))[1])
    monkeypatch.setattr(net.rnn, "forward", lambda x, n: (seen.__setitem__("x", x.copy()), recur(x, n))[1])
    net.forward(ids, lengths, train=True)
    got, T = seen["ids"], seen["ids"].shape[1]
    inside = np.arange(T)[None, :] < lengths[:, None]
    dropped = got != ids[:, :T]
    assert np.all(got[dropped] == 1) and not dropped[~inside].any()
    assert 0.33 < dropped.sum() / inside.sum() < 0.47
    kept = net._input_mask.astype(bool)
    assert 0.70 < kept.mean() < 0.80
    np.testing.assert_allclose(seen["x"], np.where(kept, net.embedding.W.value[got] / 0.75, 0), rtol=1e-6)
    plain = RNNAcceptor(V, 2, embed_dim=E, hidden=5, seed=1)
    for project in (True, False):
        net.project_distinct = plain.project_distinct = project
        np.testing.assert_array_equal(net.forward(ids, lengths), plain.forward(ids, lengths))
    assert net._input_mask is None


def _nets(**kw):
    return [TextCNN(V, 2, embed_dim=E, widths=(2, 3, 5), maps=4, seed=1, **kw),
            TextCNN(V, 2, embed_dim=E, widths=(3,), maps=4, pooling="avg", seed=1, **kw),
            RNNAcceptor(V, 2, embed_dim=E, hidden=5, seed=1, **kw),
            RNNAcceptor(V, 2, embed_dim=E, hidden=5, cell="gru", bidirectional=True, pooling="max", seed=1, **kw),
            RNNAcceptor(V, 2, embed_dim=E, hidden=5, cell="elman", pooling="mean", seed=1, **kw)]


@pytest.mark.parametrize("k", range(5))
def test_padding_and_batch_invariance(k, rng):
    """A sentence's logits depend on its own tokens only: not on how far the batch is padded, on
    what ids sit in the padding, nor on the other sentences of the batch."""
    net = _nets()[k]
    ids, lengths = _batch(rng, [1, 5, 3, 2, 8])
    base = net.forward(ids, lengths)
    assert base.shape == (5, 2) and base.dtype == np.float32 and np.isfinite(base).all()
    wide, _ = _batch(rng, lengths, T=13)
    wide[:, :ids.shape[1]] = ids
    garbage = wide.copy()
    garbage[np.arange(13)[None, :] >= lengths[:, None]] = rng.integers(1, V, size=int((13 - lengths).sum()))
    for padded in (wide, garbage, wide.astype(np.int64)):
        np.testing.assert_allclose(net.forward(padded, lengths), base, atol=1e-5, rtol=0)
    for b in range(5):
        alone = net.forward(ids[b:b + 1, :lengths[b]], lengths[b:b + 1])
        np.testing.assert_allclose(alone[0], base[b], atol=1e-5, rtol=0)


def test_textcnn_matches_kims_zero_padding_on_short_sentences(rng):
    """Each sentence, however short (one token under the widest filter of 5), is convolved with
    width - 1 zero vectors on each side and every window touching a word is pooled, as in a plain
    NumPy loop over the explicitly zero-padded sentence."""
    net = TextCNN(V, 3, embed_dim=E, widths=(3, 4, 5), maps=4, seed=2, dtype=np.float64)
    ids, lengths = _batch(rng, [1, 2, 7, 3], T=9)
    E_ = net.embedding.W.value
    want = []
    for b, L in enumerate(lengths):
        feats = []
        for conv in net.convs:
            w = conv.width
            x = np.vstack([np.zeros((w - 1, E)), E_[ids[b, :L]], np.zeros((w - 1, E))])
            windows = [np.maximum(conv.W.value @ x[t:t + w].ravel() + conv.b.value, 0) for t in range(L + w - 1)]
            feats.append(np.max(windows, axis=0))
        want.append(net.output.W.value @ np.concatenate(feats) + net.output.b.value)
    np.testing.assert_allclose(net.forward(ids, lengths), np.array(want), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", range(5))
def test_padding_does_not_change_gradients(k, rng):
    a, b = _nets()[k], _nets()[k]
    ids, lengths = _batch(rng, [2, 1, 4])
    wide = np.zeros((3, 9), np.int32)
    wide[:, :ids.shape[1]] = ids
    R = rng.standard_normal((3, 2)).astype(np.float32)
    for net, x in ((a, ids), (b, wide)):
        net.forward(x, lengths, train=True)
        net.backward(R)
    ga, gb = named_gradients(a), named_gradients(b)
    for name in ga:
        np.testing.assert_allclose(ga[name], gb[name], atol=1e-6, rtol=0, err_msg=name)


def test_seeds_fix_initialization_and_dropout(rng):
    ids, lengths = _batch(rng, [3, 4])
    for make in (lambda s: TextCNN(V, 2, embed_dim=E, maps=3, seed=s), lambda s: RNNAcceptor(V, 2, embed_dim=E, hidden=3, seed=s)):
        a, b, c = make(5), make(5), make(6)
        for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
            np.testing.assert_array_equal(pa.value, pb.value)
        assert any(not np.array_equal(pa.value, pc.value) for pa, pc in zip(a.parameters(), c.parameters()))
        ya, yb = a.forward(ids, lengths, train=True), b.forward(ids, lengths, train=True)
        np.testing.assert_array_equal(ya, yb)
        np.testing.assert_array_equal(a._mask, b._mask)
        assert not np.array_equal(a.forward(ids, lengths, train=True), ya)  # a new mask each step
        np.testing.assert_array_equal(a.forward(ids, lengths), b.forward(ids, lengths))  # no dropout


def test_static_and_multichannel_embeddings_after_a_step(rng):
    pre = rng.standard_normal((V, E)).astype(np.float32)
    ids, lengths = _batch(rng, [3, 5, 2])
    y = np.array([0, 1, 0])
    for kw, moves in ((dict(static=True), False), (dict(), True), (dict(multichannel=True), True)):
        net = TextCNN(V, 2, embed_dim=E, maps=3, pretrained=pre, seed=0, **kw)
        np.testing.assert_array_equal(net.embedding.W.value, pre)
        opt = optim.SGD(net.parameters(), lr=0.5)
        loss = SoftmaxCrossEntropy()
        loss.forward(net.forward(ids, lengths, train=True), y)
        net.backward(loss.backward())
        opt.step()
        assert (not np.array_equal(net.embedding.W.value, pre)) == moves
        used = np.unique(ids[np.arange(ids.shape[1])[None, :] < lengths[:, None]])
        untouched = np.setdiff1d(np.arange(V), np.append(used, 0))
        np.testing.assert_array_equal(net.embedding.W.value[untouched], pre[untouched])
        if kw.get("multichannel"):
            np.testing.assert_array_equal(net.static_embedding.W.value, pre)


@pytest.mark.parametrize("make", [lambda: TextCNN(V, 2, embed_dim=8, maps=6, seed=0, dropout=0.2),
                                  lambda: RNNAcceptor(V, 2, embed_dim=8, hidden=8, seed=0, dropout=0.2)],
                         ids=["cnn", "lstm"])
def test_learns_which_word_decides(make):
    """Label 1 iff the sentence holds word 1 somewhere among distractors 3..V-1: after a few epochs
    of AdaGrad both networks classify held-out sentences."""
    rng = np.random.default_rng(0)

    def data(n):
        lengths = rng.integers(1, 9, n)
        ids, lengths = _batch(rng, lengths)
        ids[ids <= 2] = 3
        ids[np.arange(ids.shape[1])[None, :] >= lengths[:, None]] = 0
        y = rng.integers(0, 2, n)
        pos = (rng.random(n) * lengths).astype(int)
        ids[np.arange(n), pos] = np.where(y == 1, 1, 2)
        return ids, lengths, y

    net = make()
    opt = optim.AdaGrad(net.parameters(), lr=0.1)
    loss = SoftmaxCrossEntropy()
    ids, lengths, y = data(400)
    for _ in range(8):
        for s in range(0, 400, 20):
            opt.zero_grad()
            loss.forward(net.forward(ids[s:s + 20], lengths[s:s + 20], train=True), y[s:s + 20])
            net.backward(loss.backward())
            opt.step()
            net.apply_max_norm(3.0)
    assert (np.linalg.norm(net.output.W.value, axis=1) <= 3.0 + 1e-5).all()
    ids, lengths, y = data(200)
    assert (net.forward(ids, lengths).argmax(1) == y).mean() >= 0.95


def test_bad_input_names_the_argument(rng):
    net = TextCNN(V, 2, embed_dim=E, maps=3)
    ids, lengths = _batch(rng, [2, 3])
    with pytest.raises(ValueError, match="ids must be a 2-D integer array"):
        net.forward(ids.astype(np.float32), lengths)
    with pytest.raises(ValueError, match="ids must be a 2-D integer array"):
        net.forward(ids[0], lengths)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T=3\], got min 0"):
        net.forward(ids, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T=3\], got min 2 max 4"):
        net.forward(ids, np.array([2, 4]))
    with pytest.raises(ValueError, match="lengths must be a 1-D integer array of B=2"):
        net.forward(ids, np.array([2]))
    with pytest.raises(ValueError, match="ids"):
        net.forward(np.array([[1, V]], np.int32), np.array([2]))
    with pytest.raises(ValueError, match="pretrained must be a float array of shape"):
        TextCNN(V, 2, embed_dim=E, pretrained=np.zeros((V, E + 1), np.float32))
    with pytest.raises(ValueError, match="static=True and multichannel=True need pretrained"):
        TextCNN(V, 2, embed_dim=E, static=True)
    with pytest.raises(ValueError, match="pooling must be 'max' or 'avg'"):
        TextCNN(V, 2, pooling="min")
    with pytest.raises(ValueError, match="widths must be a positive integer"):
        TextCNN(V, 2, widths=(3, 0))
    with pytest.raises(ValueError, match="dropout must be a probability"):
        TextCNN(V, 2, dropout=1.0)
    with pytest.raises(ValueError, match="cell must be 'lstm', 'gru' or 'elman'"):
        RNNAcceptor(V, 2, cell="tree")
    with pytest.raises(ValueError, match="pooling must be 'last', 'max' or 'mean'"):
        RNNAcceptor(V, 2, pooling="first")
    with pytest.raises(ValueError, match="hidden must be a positive integer"):
        RNNAcceptor(V, 2, hidden=0)
    with pytest.raises(ValueError, match=r"input_dropout must be a probability in \[0, 1\), got 1.0"):
        RNNAcceptor(V, 2, input_dropout=1.0)
    with pytest.raises(ValueError, match=r"word_dropout must be a probability in \[0, 1\), got -0.1"):
        RNNAcceptor(V, 2, word_dropout=-0.1)
    with pytest.raises(ValueError, match="s must be positive"):
        net.apply_max_norm(0)
    for model in (net, RNNAcceptor(V, 2, embed_dim=E, hidden=3)):
        model.forward(ids, lengths)
        with pytest.raises(RuntimeError, match=r"call forward\(ids, lengths, train=True\) first"):
            model.backward(np.ones((2, 2), np.float32))


TORCH_CASES = [("cnn", dict()), ("cnn", dict(pooling="avg", multichannel=True)), ("cnn", dict(static=True)),
               ("rnn", dict()), ("rnn", dict(cell="gru", bidirectional=True, pooling="max")),
               ("rnn", dict(cell="elman", layers=2, pooling="mean"))]


@pytest.mark.parametrize("kind,kw", TORCH_CASES)
def test_same_logits_and_gradients_as_pytorch(kind, kw, rng):
    torch = pytest.importorskip("torch")
    if kw.get("static") or kw.get("multichannel"):
        kw = dict(kw, pretrained=rng.standard_normal((V, 6)).astype(np.float32))
    if kind == "cnn":
        net = TextCNN(V, 3, embed_dim=6, widths=(2, 3, 5), maps=5, dropout=0.0, seed=2, **kw)
    else:
        net = RNNAcceptor(V, 3, embed_dim=6, hidden=7, dropout=0.0, seed=2, **kw)
    mirror = to_torch(net).eval()
    ids, lengths = _batch(rng, [1, 7, 4, 2, 3], T=9)
    y = np.array([0, 2, 1, 1, 0])
    inference = net.forward(ids, lengths)  # the RNN's projects each distinct id once
    if kind == "rnn":
        net.project_distinct = False  # the plain route: exactly the training forward without dropout
    np.testing.assert_array_equal(net.forward(ids, lengths, train=True), net.forward(ids, lengths))
    logits = net.forward(ids, lengths, train=True)
    loss = SoftmaxCrossEntropy()
    loss.forward(logits, y)
    net.backward(loss.backward())
    t_logits = mirror(torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(lengths))
    torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(y)).backward()
    np.testing.assert_allclose(logits, t_logits.detach().numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(inference, t_logits.detach().numpy(), atol=1e-5, rtol=1e-4)
    ours, theirs = named_gradients(net), grads_from_torch(net, mirror)
    assert ours.keys() == theirs.keys()
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], atol=1e-5, rtol=1e-4, err_msg=name)
