"""word2vec: one SGD step of each update against a NumPy transcription (injected window and
negatives), the noise / subsampling / Huffman tables against NumPy and heapq references, the
vocabulary counter, file splitting across workers, end-to-end training (loss goes down,
neighbours make sense, seeded single-thread runs repeat exactly), formats and bad input.

Tolerances: one step in float32 against float64 NumPy within atol 1e-6 + rtol 1e-5 (the dot
products are length D <= 100, fast_expf is within 2 ulp); losses within rtol 1e-5; the noise
table's realized distribution within rtol 1e-5 of count^0.75 / Z (32-bit slot and threshold
quantization); empirical draws within 5 standard errors.

Over 500 lines on purpose: one op family keeps one test file (README, Layout), so a reader finds
every check of the word2vec trainer in one place.
"""

import heapq
import os
import signal
import threading
import time
from collections import Counter

import numpy as np
import pytest

import fastnlp
from fastnlp import KeyedVectors, Word2Vec, _C
from conftest import shared_data

STEP_TOL = dict(rtol=1e-5, atol=1e-6)
SATURATED = 6.0  # |score| beyond which an output gets no update (gensim's rule); its loss counts


# ---------------------------------------------------------------------------------------------
# NumPy transcription of one step (float64).

def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _np_predict(xs, W, out, labels, alpha, dx):
    """xs (C, D) inputs as on entry; W updated in place; dx (C, D) accumulates. Returns the loss."""
    S = np.array([[x @ W[o] for o in out] for x in xs]).reshape(len(xs), len(out))
    G = np.zeros_like(S)
    loss = 0.0
    for m, y in enumerate(labels):
        if y < 0:
            continue
        G[:, m] = np.where(np.abs(S[:, m]) < SATURATED, alpha * (y - _sigmoid(S[:, m])), 0.0)  # saturated: no update
        loss += np.logaddexp(0, -S[:, m] if y else S[:, m]).sum()
    for m, y in enumerate(labels):
        if y < 0:
            continue
        dx += G[:, m, None] * W[out[m]][None, :]
        W[out[m]] += G[:, m] @ xs
    return loss


def np_step(syn0, syn1neg, syn1, centre, context, negatives, codes, points, alpha, sg, cbow_mean, shared):
    syn0 = syn0.astype(np.float64)
    syn1neg = None if syn1neg is None else syn1neg.astype(np.float64)
    syn1 = None if syn1 is None else syn1.astype(np.float64)
    D = syn0.shape[1]

    def outputs(x, negs, dx):
        loss = 0.0
        if negs is not None:
            out = [centre] + list(negs)
            labels = [1] + [-1 if n == centre else 0 for n in negs]
            loss += _np_predict(x, syn1neg, out, labels, alpha, dx)
        if codes is not None:
            loss += _np_predict(x, syn1, list(points), [1 - int(c) for c in codes], alpha, dx)
        return loss

    loss = 0.0
    if sg and shared:
        xs = syn0[context].copy()
        dx = np.zeros_like(xs)
        loss += outputs(xs, None if negatives is None else negatives[0], dx)
        for c, w in enumerate(context):
            syn0[w] += dx[c]
    elif sg:
        for c, w in enumerate(context):
            dx = np.zeros((1, D))
            loss += outputs(syn0[[w]].copy(), None if negatives is None else negatives[c], dx)
            syn0[w] += dx[0]
    else:
        h = syn0[context].sum(axis=0)
        if cbow_mean:
            h /= len(context)
        dx = np.zeros((1, D))
        loss += outputs(h[None, :], None if negatives is None else negatives[0], dx)
        for w in context:
            syn0[w] += dx[0]
    return syn0, syn1neg, syn1, loss


def _params(V, D, rng, scale=0.5):
    return tuple((rng.standard_normal((V, D)) * scale).astype(np.float32) for _ in range(3))


STEP_CASES = [
    # (sg, shared, cbow_mean, use_ns, use_hs)
    (True, False, True, True, False),   # skip-gram, negative sampling
    (False, False, True, True, False),  # CBOW mean, negative sampling
    (False, False, False, True, False), # CBOW sum
    (True, False, True, False, True),   # skip-gram, hierarchical softmax
    (False, False, True, False, True),  # CBOW, hierarchical softmax
    (True, False, True, True, True),    # both losses share the input gradient
    (True, True, True, True, False),    # skip-gram with negatives shared by the window
    (True, True, True, True, True),
]


@pytest.mark.parametrize("sg,shared,cbow_mean,use_ns,use_hs", STEP_CASES)
@pytest.mark.parametrize("D", [1, 3, 7, 16, 17, 33, 100])
def test_one_step_matches_numpy(sg, shared, cbow_mean, use_ns, use_hs, D, rng):
    V, K, alpha = 23, 5, 0.05
    syn0, syn1neg, syn1 = _params(V, D, rng)
    centre = 4
    context = np.array([7, 1, 7, 12], dtype=np.int32)  # a repeated context word
    rows = len(context) if (sg and not shared) else 1
    negatives = rng.integers(0, V, size=(rows, K)).astype(np.int32) if use_ns else None
    if use_ns:
        negatives[0, 1] = centre  # skipped, as in word2vec.c
        negatives[0, 3] = negatives[0, 2]  # a repeated noise word
    offsets, codes_all, points_all = _C.huffman_tree(rng.integers(1, 100, size=V))
    codes = codes_all[offsets[centre]:offsets[centre + 1]] if use_hs else None
    points = points_all[offsets[centre]:offsets[centre + 1]] if use_hs else None
    ref = np_step(syn0, syn1neg if use_ns else None, syn1 if use_hs else None, centre, context, negatives, codes,
                  points, alpha, sg, cbow_mean, shared)
    loss = _C.word2vec_step(syn0, syn1neg, syn1, centre, context, negatives, codes, points, alpha=alpha, sg=sg,
                            cbow_mean=cbow_mean, shared_negatives=shared, window=5)
    np.testing.assert_allclose(syn0, ref[0], **STEP_TOL)
    if use_ns:
        np.testing.assert_allclose(syn1neg, ref[1], **STEP_TOL)
    if use_hs:
        np.testing.assert_allclose(syn1, ref[2], **STEP_TOL)
    np.testing.assert_allclose(loss, ref[3], rtol=1e-5)


def test_one_step_saturated_scores_give_no_update_but_count_in_the_loss():
    # Scores of 960: no update (gensim's rule); the loss is the linear tail, without overflow.
    D, V = 8, 5
    syn0 = np.full((V, D), 10.0, np.float32)
    syn1neg = np.full((V, D), 12.0, np.float32)
    before = syn0.copy(), syn1neg.copy()
    ref = np_step(syn0, syn1neg, None, 0, np.array([1], np.int32), np.array([[2]], np.int32), None, None, 0.025,
                  True, True, False)
    loss = _C.word2vec_step(syn0, syn1neg, None, 0, np.array([1], np.int32), np.array([[2]], np.int32), alpha=0.025)
    np.testing.assert_array_equal(syn0, before[0])
    np.testing.assert_array_equal(syn1neg, before[1])
    np.testing.assert_allclose(loss, ref[3], rtol=1e-5)
    assert loss == pytest.approx(960.0, rel=1e-5)


def test_one_step_bad_input():
    syn0 = np.zeros((5, 4), np.float32)
    s1 = np.zeros((5, 4), np.float32)
    ctx = np.array([1], np.int32)
    with pytest.raises(TypeError, match="word2vec_step: syn0 must be float32, got float64"):
        _C.word2vec_step(syn0.astype(np.float64), s1, None, 0, ctx, np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError, match=r"word2vec_step: negatives must have shape \(1, \*\)"):
        _C.word2vec_step(syn0, s1, None, 0, ctx, np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match=r"word2vec_step: negatives must be in \[0, 5\)"):
        _C.word2vec_step(syn0, s1, None, 0, ctx, np.array([[1, 9]], np.int32))
    with pytest.raises(ValueError, match=r"word2vec_step: centre must be in \[0, 5\), got 5"):
        _C.word2vec_step(syn0, s1, None, 5, ctx, np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError, match="read-only"):
        ro = syn0.copy()
        ro.flags.writeable = False
        _C.word2vec_step(ro, s1, None, 0, ctx, np.zeros((1, 2), np.int32))
    with pytest.raises(ValueError, match="nothing to train"):
        _C.word2vec_step(syn0, s1, None, 0, ctx, None)


# ---------------------------------------------------------------------------------------------
# Tables: subsampling, noise distribution, Huffman codes.

def test_keep_probabilities_match_word2vec_formula(rng):
    counts = np.concatenate([[10**6, 10**5, 3000], rng.integers(1, 500, size=97)])
    for sample in (1e-3, 1e-4, 1e-5):
        t = sample * counts.sum()
        ref = np.minimum(1.0, (np.sqrt(counts / t) + 1) * t / counts)
        np.testing.assert_allclose(_C.w2v_keep_probabilities(counts, sample), ref, rtol=1e-12)
    np.testing.assert_array_equal(_C.w2v_keep_probabilities(counts, 0.0), np.ones(len(counts)))


@pytest.mark.parametrize("V", [1, 2, 3, 17, 1000])
@pytest.mark.parametrize("power", [0.75, 1.0, 0.0])
def test_noise_distribution_matches_numpy(V, power, rng):
    counts = rng.integers(1, 10_000, size=V)
    ref = counts.astype(np.float64) ** power
    ref /= ref.sum()
    np.testing.assert_allclose(_C.w2v_noise_probabilities(counts, power), ref, rtol=1e-5, atol=1e-12)


def test_noise_draws_follow_the_distribution_and_skip_zero_counts(rng):
    counts = rng.integers(1, 1000, size=37)
    counts[[3, 20]] = 0
    p = _C.w2v_noise_probabilities(counts, 0.75)
    assert p[3] == 0 and p[20] == 0
    n = 2_000_000
    draws = _C.w2v_noise_sample(counts, 0.75, n, 7)
    freq = np.bincount(draws, minlength=len(counts)) / n
    assert freq[3] == 0 and freq[20] == 0
    se = np.sqrt(p * (1 - p) / n) + 1e-12
    assert np.all(np.abs(freq - p) < 5 * se + 1e-9)
    np.testing.assert_array_equal(draws, _C.w2v_noise_sample(counts, 0.75, n, 7))  # seeded


def huffman_heapq(counts):
    """word2vec.c's tree via heapq: ties prefer inner nodes (oldest first), then the leaf with the
    larger id among equal counts of a descending-stable order; first popped gets bit 0."""
    V = len(counts)
    order = sorted(range(V), key=lambda w: -counts[w])  # stable
    heap = [(counts[w], 1, V - 1 - r, ("leaf", w)) for r, w in enumerate(order)]
    heapq.heapify(heap)
    parent, bit = {}, {}
    for a in range(V - 1):
        c1, _, _, n1 = heapq.heappop(heap)
        c2, _, _, n2 = heapq.heappop(heap)
        node = ("inner", a)
        parent[n1], parent[n2] = node, node
        bit[n1], bit[n2] = 0, 1
        heapq.heappush(heap, (c1 + c2, 0, a, node))
    codes, points = [], []
    for w in range(V):
        c, p = [], []
        n = ("leaf", w)
        while n in parent:
            c.append(bit[n])
            p.append(parent[n][1])
            n = parent[n]
        codes.append(c[::-1])
        points.append(p[::-1])
    return codes, points


def optimal_cost(counts):
    h = list(counts)
    heapq.heapify(h)
    cost = 0
    while len(h) > 1:
        a, b = heapq.heappop(h), heapq.heappop(h)
        cost += a + b
        heapq.heappush(h, a + b)
    return cost


@pytest.mark.parametrize("V", [1, 2, 3, 7, 16, 33, 500])
def test_huffman_codes_match_heapq_reference(V, rng):
    for counts in (np.sort(rng.integers(1, 1000, size=V))[::-1], rng.integers(1, 5, size=V)):  # ties galore
        offsets, codes, points = _C.huffman_tree(counts)
        ref_codes, ref_points = huffman_heapq(list(counts))
        for w in range(V):
            assert codes[offsets[w]:offsets[w + 1]].tolist() == ref_codes[w]
            assert points[offsets[w]:offsets[w + 1]].tolist() == ref_points[w]
        if V > 1:
            lengths = np.diff(offsets)
            assert (lengths * counts).sum() == optimal_cost(counts)  # an optimal prefix code
            assert np.all(points[offsets[:-1]] == V - 2)  # every path starts at the root
            words = {tuple(codes[offsets[w]:offsets[w + 1]]) for w in range(V)}
            assert len(words) == V
            for a in words:  # prefix-free
                for b in words:
                    assert a == b or a != b[:len(a)]


# ---------------------------------------------------------------------------------------------
# Vocabulary and corpus reading.

def _write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return str(path)


def test_vocab_counts_sorted_with_first_appearance_ties(tmp_path):
    sents = [["b", "a", "c", "a"], ["d", "c", "b", "a"], ["e"]]
    counter = _C.VocabCounter()
    counter.add_sentences(sents)
    words, counts = counter.finalize(1)
    assert words == ["a", "b", "c", "d", "e"] and counts.tolist() == [3, 2, 2, 1, 1]
    assert counter.total_words == 9 and counter.sentences == 3
    words, counts = counter.finalize(2)
    assert words == ["a", "b", "c"]
    f = _write(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents))
    fc = _C.VocabCounter()
    fc.count_file(f)
    assert fc.finalize(1)[0] == ["a", "b", "c", "d", "e"] and fc.sentences == 3


def test_vocab_file_counting_matches_python(tmp_path, rng):
    words = [f"w{i}" for i in range(300)] + ["ünï", "日本"]
    lines = []
    for _ in range(400):
        toks = rng.choice(words, size=rng.integers(0, 40), p=None)
        sep = rng.choice([" ", "  ", "\t", " \r"])
        lines.append(sep.join(toks))
    text = "\n".join(lines) + "\n\n  \n"
    f = _write(tmp_path / "c.txt", text, "w")
    counter = _C.VocabCounter()
    counter.count_file(f)
    ref = Counter(text.split())
    got_words, got_counts = counter.finalize(1)
    assert dict(zip(got_words, got_counts.tolist())) == dict(ref)
    assert counter.total_words == sum(ref.values())


def test_vocab_pruning_bounds_memory_like_gensim():
    rng = np.random.default_rng(5)
    toks = [f"w{int(x)}" for x in rng.zipf(1.3, size=20000) if x < 10**6]
    counter = _C.VocabCounter(max_vocab_size=50)
    counter.add_sentences([toks])
    # Python transcription of gensim's prune_vocab during counting.
    vocab, min_reduce = {}, 1
    for t in toks:
        vocab[t] = vocab.get(t, 0) + 1
        if len(vocab) > 50:
            vocab = {w: c for w, c in vocab.items() if c > min_reduce}
            min_reduce += 1
    words, counts = counter.finalize(1)
    assert dict(zip(words, counts.tolist())) == vocab
    assert counter.distinct <= 50


def test_long_lines_and_tokens_cross_the_read_buffer(tmp_path):
    # A 1.6 MB line (the reader's buffer is 1 MiB) and a 1.5 MB token.
    line = " ".join(f"t{i % 1000}" for i in range(300_000))
    big = "x" * 1_500_000
    f = _write(tmp_path / "long.txt", f"a b\n{line}\n{big} a\nb")
    counter = _C.VocabCounter()
    counter.count_file(f)
    words, counts = counter.finalize(1)
    d = dict(zip(words, counts.tolist()))
    assert counter.sentences == 4 and d["a"] == 2 and d["b"] == 2 and d[big] == 1 and d["t7"] == 300
    assert counter.total_words == 300_000 + 5


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
def test_workers_read_every_line_exactly_once(tmp_path, threads):
    # Byte ranges split lines anywhere; each line belongs to the range where it starts.
    rng = np.random.default_rng(threads)
    paths = []
    for k, tail in enumerate(["\n", "", "\n\n"]):
        lines = [" ".join(f"w{int(x)}" for x in rng.integers(0, 50, size=rng.integers(0, 30))) for _ in range(97)]
        paths.append(_write(tmp_path / f"f{k}.txt", "\n".join(lines) + tail))
    _write(tmp_path / "empty.txt", "")
    paths.append(str(tmp_path / "empty.txt"))
    m = Word2Vec(min_count=1, vector_size=8, epochs=2, workers=threads, progress=False, sample=0, seed=3)
    m.build_vocab(corpus_file=paths)
    m.train()
    for h in m.training_history:
        assert h["words"] == m.corpus_stats["vocab_words"]
        assert h["tokens"] == m.corpus_stats["tokens"]


def test_long_sentences_are_split_not_truncated(tmp_path):
    words = [f"w{i % 40}" for i in range(25_000)]
    f = _write(tmp_path / "one.txt", " ".join(words) + "\n")
    for kw in (dict(corpus_file=f), dict(sentences=[words])):
        m = Word2Vec(min_count=1, vector_size=8, epochs=1, workers=1, sample=0, max_sentence=1000, progress=False,
                     sg=0, window=2, **kw)
        h = m.training_history[0]
        assert h["words"] == 25_000
        # CBOW: every position of each 1000-word piece is a centre.
        assert h["examples"] == 25_000


# ---------------------------------------------------------------------------------------------
# End-to-end training.

def topic_corpus(n_sent=1500, groups=6, per_group=15, length=16, seed=0):
    """Sentences drawn from one of `groups` disjoint word groups: neighbours should share a group."""
    rng = np.random.default_rng(seed)
    sents = []
    for _ in range(n_sent):
        g = int(rng.integers(groups))
        sents.append([f"g{g}w{int(i)}" for i in rng.integers(0, per_group, size=length)])
    return sents


@pytest.mark.parametrize("sg,hs,negative,shared", [(1, 0, 5, False), (0, 0, 5, False), (1, 1, 0, False),
                                                    (0, 1, 0, False), (1, 0, 5, True)])
def test_training_learns_topic_neighbours(sg, hs, negative, shared):
    sents = topic_corpus()
    m = Word2Vec(sents, vector_size=24, window=4, min_count=1, sg=sg, hs=hs, negative=negative, sample=0,
                 epochs=6, workers=2, seed=1, progress=False, shared_negatives=shared, alpha=0.05 if not sg else 0.025)
    losses = [h["loss"] for h in m.training_history]
    assert len(losses) == 6 and all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    hits = 0
    for g in range(6):
        for w in range(0, 15, 5):
            word = f"g{g}w{w}"
            hits += sum(n.startswith(f"g{g}w") for n, _ in m.wv.most_similar(word, topn=5))
    assert hits / (6 * 3 * 5) > 0.9


def test_single_thread_seeded_runs_are_identical(tmp_path):
    sents = topic_corpus(n_sent=300)
    f = _write(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents))
    for sg in (0, 1):
        runs = [Word2Vec(corpus_file=f, vector_size=16, min_count=1, sg=sg, hs=1, epochs=2, workers=1, seed=9,
                         progress=False) for _ in range(2)]
        np.testing.assert_array_equal(runs[0].wv.vectors, runs[1].wv.vectors)
        np.testing.assert_array_equal(runs[0].syn1neg, runs[1].syn1neg)
        assert runs[0].training_history[-1]["loss_sum"] == runs[1].training_history[-1]["loss_sum"]
        other = Word2Vec(corpus_file=f, vector_size=16, min_count=1, sg=sg, hs=1, epochs=2, workers=1, seed=10,
                         progress=False)
        assert not np.array_equal(other.wv.vectors, runs[0].wv.vectors)
        streamed = [Word2Vec(sents, vector_size=16, min_count=1, sg=sg, epochs=2, workers=1, seed=9,
                             progress=False) for _ in range(2)]
        np.testing.assert_array_equal(streamed[0].wv.vectors, streamed[1].wv.vectors)


def test_learning_rate_decays_over_the_words_of_all_workers(tmp_path):
    # word2vec.c's schedule, also gensim's iterable mode's: alpha falls linearly with the progress
    # of all workers together and reaches min_alpha at the end of the last epoch. (gensim's
    # corpus_file mode decays by each worker's own words over the whole corpus, so every epoch
    # ends 1/workers of the way along its span: with 2 workers a higher rate throughout.)
    sents = topic_corpus(n_sent=400)
    f = _write(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
    a, lo, E = 0.04, 0.001, 3
    want = [a - (a - lo) * (e + 1) / E for e in range(E)]
    for kw in (dict(corpus_file=f), dict(sentences=sents)):
        m = Word2Vec(vector_size=8, min_count=1, epochs=E, workers=2, alpha=a, min_alpha=lo, seed=1, progress=False,
                     alpha_schedule="global", **kw)
        np.testing.assert_allclose([h["alpha"] for h in m.training_history], want, rtol=1e-6)


def test_per_worker_learning_rate_decays_over_each_workers_own_words(tmp_path):
    # gensim corpus_file's schedule: each worker measures its own words (in file mode its own
    # bytes, exactly half with 2 workers) against the whole epoch, so epoch e ends at
    # alpha - (alpha - min_alpha) (e + 1/2) / E. With one worker it is the global schedule.
    sents = topic_corpus(n_sent=400)
    f = _write(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
    a, lo, E = 0.04, 0.001, 3
    m = Word2Vec(corpus_file=f, vector_size=8, min_count=1, epochs=E, workers=2, alpha=a, min_alpha=lo, seed=1,
                 progress=False, alpha_schedule="per_worker")
    np.testing.assert_allclose([h["alpha"] for h in m.training_history],
                               [a - (a - lo) * (e + 0.5) / E for e in range(E)], rtol=1e-6)
    one = [Word2Vec(corpus_file=f, vector_size=8, min_count=1, epochs=E, workers=1, seed=1, progress=False,
                    alpha_schedule=s) for s in ("global", "per_worker")]
    np.testing.assert_array_equal(one[0].wv.vectors, one[1].wv.vectors)
    with pytest.raises(ValueError, match="alpha_schedule must be 'global' or 'per_worker', got 'linear'"):
        Word2Vec(alpha_schedule="linear")


def _train_direct(vocab, f, epochs, **kw):
    """syn0, syn1neg after `epochs` epochs of a trainer on file f (fixed initial vectors)."""
    V = len(vocab)
    rng = np.random.default_rng(5)
    syn0 = ((rng.random((V, 12), dtype=np.float32) - 0.5) / 12).astype(np.float32)
    syn1neg = np.zeros((V, 12), np.float32)
    t = _C.Word2VecTrainer(vocab, syn0, syn1neg, None,
                           _C.Word2VecConfig(dim=12, window=3, negative=4, sample=0, seed=3, alpha=0.05, **kw))
    for e in range(epochs):
        t.start_files([f], e, epochs)
        assert t.wait()
    return syn0, syn1neg, t.progress()["loss"]


@pytest.mark.parametrize("sg", [0, 1])
def test_hot_row_copies_leave_a_lone_workers_training_unchanged(tmp_path, sg):
    # With several threads each worker trains its own copies of the syn1neg rows of the most
    # frequent words and merges them into the shared rows now and then. An element no other
    # worker changed meanwhile takes the worker's value as is, so with one worker (whichever rows
    # are copied, with 64 merges within each epoch and one at its end) training is unchanged bit
    # for bit.
    sents = topic_corpus(n_sent=3000, length=40)  # 120k tokens: a merge every 1875 centres
    f = _write(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
    counter = _C.VocabCounter()
    counter.count_file(f)
    vocab = _C.Vocab(*counter.finalize(1))
    ref = _train_direct(vocab, f, 2, sg=bool(sg), threads=1, hot_rows=0)
    for hot in (1, 17, len(vocab)):
        got = _train_direct(vocab, f, 2, sg=bool(sg), threads=1, hot_rows=hot)
        np.testing.assert_array_equal(got[0], ref[0])
        np.testing.assert_array_equal(got[1], ref[1])
        assert got[2] == ref[2]


def test_two_workers_with_hot_row_copies_learn_like_one(tmp_path):
    # The merged copies must carry every worker's updates: two workers (copies on, as by default)
    # end with a loss close to one worker's and the same neighbours.
    sents = topic_corpus(n_sent=3000, length=40)
    f = _write(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
    counter = _C.VocabCounter()
    counter.count_file(f)
    words, counts = counter.finalize(1)
    vocab = _C.Vocab(words, counts)
    one = _train_direct(vocab, f, 3, threads=1)
    for hot in (-1, len(vocab)):
        two = _train_direct(vocab, f, 3, threads=2, hot_rows=hot)
        assert abs(two[2] - one[2]) < 0.02 * one[2]  # 0.2-0.4% seen, with or without copies
        kv = KeyedVectors(words, two[0])
        hits = sum(n.startswith(w[:3]) for w in words[:30] for n, _ in kv.most_similar(w, topn=5))
        assert hits / 150 > 0.9


def test_corpus_slice_loss_decreases_and_neighbours_make_sense(tmp_path):
    src = shared_data("corpus", "en-corpus.txt")
    f = tmp_path / "slice.txt"
    with open(src, encoding="utf-8") as fin, open(f, "w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):  # ~1M tokens
            if i == 12000:
                break
            fout.write(line)
    m = Word2Vec(corpus_file=str(f), vector_size=50, window=5, min_count=5, sg=0, epochs=3, workers=2, seed=1,
                 progress=False)
    losses = [h["loss"] for h in m.training_history]
    assert losses[0] > losses[1] > losses[2]
    near = {w for w, _ in m.wv.most_similar("three", topn=10)}
    assert len({"two", "four", "five", "six", "seven", "eight"} & near) >= 3, near
    near = {w for w, _ in m.wv.most_similar("january", topn=10)}
    assert len({"february", "march", "april", "june", "july", "august", "september", "october", "november",
                "december"} & near) >= 5, near
    ws = m.wv.evaluate_similarity(shared_data("embeddings-eval", "wordsim353.tsv"))
    # Loose on purpose: on ~1M tokens rho was 0.12-0.17 across seeds 1-3 (265 pairs in vocabulary),
    # while rho over 265 unrelated pairs has a standard deviation of 1/sqrt(264) = 0.06, so WS-353
    # here only tells some signal from none; the neighbour checks above are the quality test.
    assert ws["pairs"] > 200 and ws["spearman"] > 0.05 and 0 < ws["oov_rate"] < 0.5


def test_epoch_callbacks_and_progress_bar(capsys):
    sents = topic_corpus(n_sent=200)
    seen = []

    class OnEnd:
        def __init__(self):
            self.n = 0

        def on_epoch_end(self, model):
            self.n += 1

    obj = OnEnd()
    m = Word2Vec(sents, vector_size=8, min_count=1, epochs=3, workers=1, progress=True,
                 callbacks=[lambda model, stats: seen.append(stats["epoch"]), obj])
    assert seen == [1, 2, 3] and obj.n == 3 and m.epochs_done == 3
    assert "word2vec" in capsys.readouterr().err  # the tqdm bar


def test_keyboard_interrupt_leaves_a_usable_model():
    sents = topic_corpus(n_sent=20000, length=30)
    m = Word2Vec(vector_size=32, min_count=1, sg=1, epochs=200, workers=2, progress=False, sample=0)
    m.build_vocab(sents)
    timer = threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    t0 = time.perf_counter()
    timer.start()
    try:
        m.train()
    finally:
        timer.cancel()
    assert time.perf_counter() - t0 < 20
    assert m.interrupted and m.epochs_done < 200
    assert not m.training_history[-1]["complete"]
    assert np.isfinite(m.wv.vectors).all()
    assert len(m.wv.most_similar("g0w0", topn=3)) == 3
    m.train(epochs=1)  # and it trains on afterwards
    assert not m.interrupted


def test_continue_training_from_saved_model(tmp_path):
    sents = topic_corpus(n_sent=300)
    f = _write(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents))
    m = Word2Vec(corpus_file=f, vector_size=16, min_count=1, sg=1, hs=1, epochs=2, workers=1, progress=False)
    path = tmp_path / "model.fnlp"
    m.save(path)
    m2 = Word2Vec.load(path)
    assert m2.epochs_done == 2 and m2.config() == m.config()
    np.testing.assert_array_equal(m2.wv.vectors, m.wv.vectors)
    np.testing.assert_array_equal(m2.syn1neg, m.syn1neg)
    np.testing.assert_array_equal(m2.syn1, m.syn1)
    np.testing.assert_array_equal(m2.counts, m.counts)
    before = m2.wv.vectors.copy()
    m2.train(corpus_file=f, epochs=1)
    assert m2.epochs_done == 3 and len(m2.training_history) == 3
    assert not np.array_equal(before, m2.wv.vectors)
    # Continuing on a new corpus: its unknown words are skipped.
    m2.train(sentences=[["g0w1", "unknown", "g0w2"]] * 50, epochs=1)
    assert m2.training_history[-1]["words"] == 100
    with pytest.raises(ValueError, match="a loaded model does not keep its corpus"):
        Word2Vec.load(path).train()


# ---------------------------------------------------------------------------------------------
# KeyedVectors: lookup, similarity, analogies, evaluations.

def _toy_kv():
    words = ["king", "queen", "man", "woman", "apple", "paris", "france", "rome", "italy"]
    rng = np.random.default_rng(0)
    v = rng.standard_normal((len(words), 6)).astype(np.float32)
    v[1] = v[0] - v[2] + v[3] + 0.01  # queen = king - man + woman
    v[7] = v[5] - v[6] + v[8] + 0.01  # rome = paris - france + italy
    return KeyedVectors(words, v)


def test_keyed_vectors_lookup_and_similarity():
    kv = _toy_kv()
    assert "king" in kv and "kong" not in kv and len(kv) == 9
    assert kv.get_index("man") == 2 and kv.index("man") == 2
    np.testing.assert_array_equal(kv["man"], kv.vectors[2])
    assert kv[["king", "man"]].shape == (2, 6)
    n = kv.vectors / np.linalg.norm(kv.vectors, axis=1, keepdims=True)
    assert kv.similarity("king", "man") == pytest.approx(float(n[0] @ n[2]), rel=1e-5)
    sims = n @ (n[0] + n[3] - n[2]) / np.linalg.norm(n[0] + n[3] - n[2])
    sims[[0, 2, 3]] = -np.inf
    top = kv.most_similar(positive=["king", "woman"], negative=["man"], topn=3)
    assert [w for w, _ in top] == [kv.index_to_key[i] for i in np.argsort(-sims)[:3]]
    assert top[0][0] == "queen"
    assert kv.analogy("man", "king", "woman")[0][0] == "queen"
    assert kv.analogy("man", "king", "woman", method="3cosmul")[0][0] == "queen"
    assert kv.most_similar(kv["king"], topn=1)[0][0] == "king"  # a vector is not excluded


def test_unknown_word_raises_key_error_naming_it():
    kv = _toy_kv()
    with pytest.raises(KeyError, match="'kong' not in vocabulary"):
        kv.most_similar("kong")
    with pytest.raises(KeyError, match="'kong' not in vocabulary"):
        kv.most_similar(positive=["king"], negative=["kong"])
    with pytest.raises(KeyError, match="'kong'"):
        kv["kong"]
    with pytest.raises(KeyError, match="'kong'"):
        kv.similarity("king", "kong")


def test_evaluate_analogies_and_similarity(tmp_path):
    kv = _toy_kv()
    q = _write(tmp_path / "q.txt", ": royal\nman king woman queen\nMan King Woman Apple\nman king zzz queen\n"
                                   ": capitals\nfrance paris italy rome\n")
    r = kv.evaluate_analogies(q, restrict_vocab=30000)
    assert [s["section"] for s in r["sections"]] == ["royal", "capitals"]
    assert r["sections"][0]["correct"] == 1 and r["sections"][0]["total"] == 2
    assert r["total"] == {"correct": 2, "total": 3, "accuracy": pytest.approx(2 / 3)}
    assert r["questions"] == 4 and r["oov_questions"] == 1
    r5 = kv.evaluate_analogies(q, restrict_vocab=5)  # paris, rome... outside the first 5 words
    assert r5["total"]["total"] == 2
    ws = _write(tmp_path / "ws.tsv", "# header\nking\tqueen\t9\nking\tapple\t1\nman\twoman\t8\nzzz\tking\t3\n")
    s = kv.evaluate_similarity(ws)
    assert s["pairs"] == 3 and s["oov"] == 1 and s["oov_rate"] == 0.25
    n = kv.get_normed_vectors()
    model = [n[0] @ n[1], n[0] @ n[4], n[2] @ n[3]]
    from fastnlp.keyedvectors import spearman
    assert s["spearman"] == pytest.approx(spearman([9, 1, 8], model))


def test_spearman_matches_scipy_with_ties(rng):
    scipy_stats = pytest.importorskip("scipy.stats")
    from fastnlp.keyedvectors import spearman
    a = rng.integers(0, 10, size=50).astype(float)
    b = a + rng.standard_normal(50)
    assert spearman(a, b) == pytest.approx(scipy_stats.spearmanr(a, b).statistic, rel=1e-12)


# ---------------------------------------------------------------------------------------------
# Formats.

@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_round_trip(tmp_path, binary):
    rng = np.random.default_rng(1)
    words = ["a", "bé", "日本", "x" * 30] + [f"w{i}" for i in range(40)]
    kv = KeyedVectors(words, (rng.standard_normal((len(words), 17)) * 10 ** rng.uniform(-8, 3, (len(words), 1)))
                      .astype(np.float32))
    p = tmp_path / ("v.bin" if binary else "v.txt")
    kv.save_word2vec_format(p, binary=binary)
    back = KeyedVectors.load_word2vec_format(p, binary=binary)
    assert back.index_to_key == words
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    assert KeyedVectors.load_word2vec_format(p, binary=binary, limit=3).index_to_key == words[:3]


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_format_gensim_both_ways(tmp_path, binary):
    gensim_kv = pytest.importorskip("gensim.models.keyedvectors")
    kv = _toy_kv()
    p = tmp_path / "ours"
    kv.save_word2vec_format(p, binary=binary)
    g = gensim_kv.KeyedVectors.load_word2vec_format(str(p), binary=binary)
    assert list(g.index_to_key) == kv.index_to_key
    np.testing.assert_allclose(g.vectors, kv.vectors, rtol=1e-6)
    q = tmp_path / "theirs"
    g.save_word2vec_format(str(q), binary=binary)
    back = KeyedVectors.load_word2vec_format(q, binary=binary)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_allclose(back.vectors, kv.vectors, rtol=1e-6)


def test_fastnlp_format_round_trip_and_no_pickle(tmp_path):
    kv = _toy_kv()
    p = tmp_path / "kv.fnlp"
    kv.save(p)
    back = KeyedVectors.load(p)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    safetensors = pytest.importorskip("safetensors")   # a safetensors file: plain arrays + a JSON header
    with safetensors.safe_open(str(p), framework="numpy") as z:
        assert {"vectors", "words_utf8", "word_offsets"} <= set(z.keys()) and "fastnlp" in z.metadata()
    assert not [n for n in os.listdir(tmp_path) if ".tmp." in n]  # the temporary file is gone


def test_corrupted_files_give_clear_errors(tmp_path):
    kv = _toy_kv()
    good = tmp_path / "kv.fnlp"
    kv.save(good)
    data = good.read_bytes()
    (tmp_path / "trunc.fnlp").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="trunc.fnlp: not a valid fastnlp word2vec file"):
        KeyedVectors.load(tmp_path / "trunc.fnlp")
    flipped = bytearray(data)
    flipped[-5] ^= 0xFF  # corrupt the last bytes of the payload: CRC mismatch
    (tmp_path / "crc.fnlp").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="not a valid fastnlp word2vec file"):
        KeyedVectors.load(tmp_path / "crc.fnlp")
    (tmp_path / "junk.fnlp").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(ValueError, match="not a valid fastnlp word2vec file"):
        KeyedVectors.load(tmp_path / "junk.fnlp")
    np.savez(tmp_path / "other.npz", vectors=np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="member 'header' is missing"):
        KeyedVectors.load(tmp_path / "other.npz")
    with pytest.raises(ValueError, match="holds 'keyedvectors', not a Word2Vec model"):
        Word2Vec.load(good)
    with pytest.raises(FileNotFoundError):
        KeyedVectors.load(tmp_path / "missing.fnlp")
    # word2vec formats
    (tmp_path / "bad.txt").write_text("2 3\na 1 2 3\nb 1 2\n")
    with pytest.raises(ValueError, match=r"bad.txt:3: expected a word and 3 numbers, got 3 fields"):
        KeyedVectors.load_word2vec_format(tmp_path / "bad.txt")
    (tmp_path / "head.txt").write_text("hello world\n")
    with pytest.raises(ValueError, match="the first line must be 'V D'"):
        KeyedVectors.load_word2vec_format(tmp_path / "head.txt")
    (tmp_path / "short.txt").write_text("3 2\na 1 2\n")
    with pytest.raises(ValueError, match=r"short\.txt: declares 3 words of 2 dimensions, at least 15 bytes"):
        KeyedVectors.load_word2vec_format(tmp_path / "short.txt")
    kv.save_word2vec_format(tmp_path / "v.bin", binary=True)
    b = (tmp_path / "v.bin").read_bytes()
    (tmp_path / "tb.bin").write_bytes(b[:-10])
    with pytest.raises(ValueError, match="truncated binary file"):
        KeyedVectors.load_word2vec_format(tmp_path / "tb.bin", binary=True)


# ---------------------------------------------------------------------------------------------
# Bad input.

def test_empty_corpus_and_min_count_removing_everything(tmp_path):
    empty = _write(tmp_path / "empty.txt", "\n  \n")
    with pytest.raises(ValueError, match="the corpus is empty: no tokens in"):
        Word2Vec(corpus_file=empty, progress=False)
    with pytest.raises(ValueError, match="the corpus is empty"):
        Word2Vec([[], []], progress=False)
    with pytest.raises(ValueError, match="min_count=5 removes every word: the corpus has 3 distinct words"):
        Word2Vec([["a", "b", "c", "a"]], min_count=5, progress=False)


def test_bad_corpus_and_parameters(tmp_path):
    with pytest.raises(FileNotFoundError, match="corpus file not found"):
        Word2Vec(corpus_file=str(tmp_path / "nope.txt"), progress=False)
    with pytest.raises(TypeError, match="re-iterable"):
        Word2Vec((s for s in [["a", "b"]]), progress=False)
    with pytest.raises(TypeError, match="got a str"):
        Word2Vec("a b c", progress=False)
    with pytest.raises(TypeError, match="each sentence must be a list of str tokens, got a str at sentence 1"):
        Word2Vec([["a"], "b c"], min_count=1, progress=False)
    with pytest.raises(TypeError, match="tokens must be str, got int in sentence 0"):
        Word2Vec([["a", 3]], min_count=1, progress=False)
    with pytest.raises(ValueError, match="nothing to train"):
        Word2Vec(negative=0, hs=0)
    with pytest.raises(ValueError, match=r"window must be in \[1, 1048576\], got 0"):
        Word2Vec(window=0)
    # The trainer's settings are checked by the C++ config, already when the model is made.
    with pytest.raises(ValueError, match=r"word2vec: min_alpha must be in \[0, alpha = 0.01\], got 0.02"):
        Word2Vec(alpha=0.01, min_alpha=0.02)
    with pytest.raises(ValueError, match=r"word2vec: threads must be in \[1, 1024\], got 0"):
        Word2Vec(workers=0)
    with pytest.raises(ValueError, match="word2vec: alpha must be a finite number > 0, got -1"):
        Word2Vec([["a", "b"]] * 3, min_count=1, epochs=1, workers=1, progress=False).train(alpha=-1.0)
    with pytest.raises(ValueError, match="vector_size=10 and dim=20 disagree"):
        Word2Vec(vector_size=10, dim=20)
    with pytest.raises(ValueError, match="build the vocabulary first"):
        Word2Vec().train()
    m = Word2Vec(dim=12, threads=1)
    assert m.vector_size == 12 and m.workers == 1


def test_trainer_checks_its_arrays():
    vocab = _C.Vocab(["a", "b"], np.array([3, 2]))
    cfg = _C.Word2VecConfig(dim=4)
    with pytest.raises(ValueError, match=r"Word2VecTrainer: syn0 must have shape \(2, 4\)"):
        _C.Word2VecTrainer(vocab, np.zeros((3, 4), np.float32), np.zeros((3, 4), np.float32), None, cfg)
    with pytest.raises(ValueError, match=r"Word2VecTrainer: syn0 must have shape \(2, 4\)"):
        _C.Word2VecTrainer(vocab, np.zeros((2, 5), np.float32), np.zeros((2, 5), np.float32), None, cfg)
    with pytest.raises(TypeError, match="Word2VecTrainer: syn1neg must be float32, got float64"):
        _C.Word2VecTrainer(vocab, np.zeros((2, 4), np.float32), np.zeros((2, 4)), None, cfg)
    with pytest.raises(ValueError, match="negative > 0 needs syn1neg"):
        _C.Word2VecTrainer(vocab, np.zeros((2, 4), np.float32), None, None, cfg)
    with pytest.raises(ValueError, match=r"hot_rows must be in \[-1, 2\^31 - 1\] \(-1: automatic, 0: off\), got -2"):
        _C.Word2VecConfig(dim=4, hot_rows=-2)
    with pytest.raises(ValueError, match="duplicate word 'a'"):
        _C.Vocab(["a", "a"], np.array([1, 1]))


# ---------------------------------------------------------------------------------------------
# The device path (what the CUDA trainer is fed), run on the CPU by the emulated device.

@pytest.mark.parametrize("sg", [0, 1])
def test_emulated_device_reads_everything_and_learns(tmp_path, sg):
    sents = topic_corpus()
    f = _write(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
    for kw in (dict(corpus_file=f), dict(sentences=sents)):
        m = Word2Vec(vector_size=24, window=4, min_count=1, sg=sg, sample=0, epochs=5, workers=2, seed=1,
                     progress=False, device="emulated", alpha=0.05 if not sg else 0.025, **kw)
        for h in m.training_history:
            assert h["words"] == m.corpus_stats["vocab_words"] and h["examples"] > 0
        losses = [h["loss"] for h in m.training_history]
        assert losses[-1] < losses[0]
        hits = sum(n.startswith("g0w") for n, _ in m.wv.most_similar("g0w0", topn=10))
        assert hits >= 9


def test_emulated_device_matches_cpu_statistically_and_repeats(tmp_path):
    sents = topic_corpus(n_sent=800)
    f = _write(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents))
    kw = dict(corpus_file=f, vector_size=16, window=3, min_count=1, sg=1, epochs=3, workers=1, seed=4, progress=False)
    cpu = Word2Vec(**kw)
    dev = [Word2Vec(device="emulated", **kw) for _ in range(2)]
    np.testing.assert_array_equal(dev[0].wv.vectors, dev[1].wv.vectors)  # one reader thread: deterministic
    assert dev[0].training_history[-1]["loss"] == pytest.approx(cpu.training_history[-1]["loss"], rel=0.1)


def test_device_argument_is_checked():
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'emulated', got 'tpu'"):
        Word2Vec(device="tpu")
    if not _C.cuda_compiled:
        with pytest.raises(RuntimeError, match="built without CUDA"):
            Word2Vec(device="cuda")

# ---------------------------------------------------------------------------------------------
# The CUDA trainer against the CPU one, statistically (marked gpu: skipped without a GPU): the same
# corpus and settings give a similar loss and the same neighbourhood structure (exact equality is
# not expected: thousands of warps update the vectors in a different order). Tolerances: final
# epoch loss within 20% of the CPU trainer's; topic neighbours >= 80% right (the vocabulary is kept
# at 400 words so that thousands of concurrent warps rarely collide on a row).

GPU_GROUPS, GPU_PER_GROUP = 10, 40


def neighbour_accuracy(wv, groups=GPU_GROUPS, per_group=GPU_PER_GROUP):
    hits = 0
    for g in range(groups):
        for w in range(per_group):
            hits += sum(n.startswith(f"g{g}w") for n, _ in wv.most_similar(f"g{g}w{w}", topn=5))
    return hits / (groups * per_group * 5)


@pytest.mark.gpu
@pytest.mark.parametrize("sg", [1, 0])
@pytest.mark.parametrize("dim", [24, 100, 129])
def test_cuda_trainer_matches_cpu_statistically(tmp_path, sg, dim):
    sents = topic_corpus(n_sent=8000, groups=GPU_GROUPS, per_group=GPU_PER_GROUP)
    f = tmp_path / "c.txt"
    f.write_text("\n".join(" ".join(s) for s in sents) + "\n")
    kw = dict(corpus_file=str(f), vector_size=dim, window=4, min_count=1, sg=sg, sample=0, epochs=5, seed=1,
              progress=False, alpha=0.025 if sg else 0.05)
    cpu = Word2Vec(workers=2, **kw)
    gpu = Word2Vec(device="cuda", **kw)
    for h in gpu.training_history:
        assert h["words"] == gpu.corpus_stats["vocab_words"]
    assert np.isfinite(gpu.wv.vectors).all()
    assert gpu.training_history[-1]["loss"] == pytest.approx(cpu.training_history[-1]["loss"], rel=0.2)
    assert neighbour_accuracy(cpu.wv) >= 0.8
    assert neighbour_accuracy(gpu.wv) >= 0.8


@pytest.mark.gpu
def test_cuda_trainer_streams_sentences_and_continues():
    sents = topic_corpus(n_sent=1000, groups=GPU_GROUPS, per_group=GPU_PER_GROUP)
    m = Word2Vec(sents, vector_size=32, min_count=1, sg=1, epochs=2, device="cuda", progress=False)
    assert m.epochs_done == 2
    before = m.wv.vectors.copy()
    m.train(epochs=1)
    assert m.epochs_done == 3 and not np.array_equal(before, m.wv.vectors)
    m.train(epochs=1, device="cpu")  # the same model trains on either
    assert m.epochs_done == 4


@pytest.mark.gpu
def test_cuda_trainer_rejects_what_it_does_not_do():
    with pytest.raises(ValueError, match="negative sampling only"):
        Word2Vec([["a", "b"]] * 10, min_count=1, hs=1, negative=0, device="cuda", progress=False)


@pytest.mark.gpu
def test_cuda_corpus_slice_analogies_close_to_cpu(tmp_path):
    src = shared_data("corpus", "en-corpus.txt")
    f = tmp_path / "slice.txt"
    with open(src, encoding="utf-8") as fin, open(f, "w", encoding="utf-8") as fout:
        for i, line in enumerate(fin):
            if i == 20000:
                break
            fout.write(line)
    q = shared_data("embeddings-eval", "questions-words.txt")
    kw = dict(corpus_file=str(f), vector_size=100, min_count=5, sg=1, epochs=3, seed=1, progress=False)
    cpu = Word2Vec(workers=2, **kw).wv.evaluate_analogies(q)["total"]["accuracy"]
    gpu = Word2Vec(device="cuda", **kw).wv.evaluate_analogies(q)["total"]["accuracy"]
    assert gpu > cpu - 0.02
