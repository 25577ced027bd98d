"""The word2vec trainer end to end: on a topic corpus neighbours share a topic for every loss, seeded
single-thread runs repeat exactly, the learning rate decays over all workers' words (or each
worker's own), hot-row copies, a corpus slice's loss goes down and its neighbours make sense,
callbacks, interrupts and continued training; bad corpora and parameters; the device path run on
the CPU by the emulated device; the CUDA trainer against the CPU one (marked gpu).

The step math is in test_word2vec_step.py, the vocabulary and its tables in test_word2vec_vocab.py,
KeyedVectors and the formats in test_keyedvectors.py.
"""

import os
import signal
import threading
import time

import numpy as np
import pytest

from fastnlp import KeyedVectors, Word2Vec, _C
from conftest import shared_data
from textfiles import write_file


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
    f = write_file(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents))
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
    f = write_file(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
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
    f = write_file(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
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
    f = write_file(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
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
    f = write_file(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
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
    f = write_file(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents))
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
# Bad input.

def test_empty_corpus_and_min_count_removing_everything(tmp_path):
    empty = write_file(tmp_path / "empty.txt", "\n  \n")
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
    f = write_file(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents) + "\n")
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
    f = write_file(tmp_path / "c.txt", "\n".join(" ".join(s) for s in sents))
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
