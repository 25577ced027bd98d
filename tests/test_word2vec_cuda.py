"""The CUDA word2vec trainer against the CPU one, statistically: the same corpus and settings give
a similar loss and the same neighbourhood structure (exact equality is not expected: thousands
of warps update the vectors in a different order). Skips without a GPU.

Tolerances: final epoch loss within 20% of the CPU trainer's; topic neighbours >= 80% right (the
vocabulary is kept at 400 words so that thousands of concurrent warps rarely collide on a row).
"""

import numpy as np
import pytest

from fastnlp import Word2Vec
from conftest import shared_data

pytestmark = pytest.mark.gpu


GROUPS, PER_GROUP = 10, 40


def topic_corpus(n_sent=8000, groups=GROUPS, per_group=PER_GROUP, length=16, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_sent):
        g = int(rng.integers(groups))
        out.append([f"g{g}w{int(i)}" for i in rng.integers(0, per_group, size=length)])
    return out


def neighbour_accuracy(wv, groups=GROUPS, per_group=PER_GROUP):
    hits = 0
    for g in range(groups):
        for w in range(per_group):
            hits += sum(n.startswith(f"g{g}w") for n, _ in wv.most_similar(f"g{g}w{w}", topn=5))
    return hits / (groups * per_group * 5)


@pytest.mark.parametrize("sg", [1, 0])
@pytest.mark.parametrize("dim", [24, 100, 129])
def test_cuda_trainer_matches_cpu_statistically(tmp_path, sg, dim):
    sents = topic_corpus()
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


def test_cuda_trainer_streams_sentences_and_continues():
    sents = topic_corpus(n_sent=1000)
    m = Word2Vec(sents, vector_size=32, min_count=1, sg=1, epochs=2, device="cuda", progress=False)
    assert m.epochs_done == 2
    before = m.wv.vectors.copy()
    m.train(epochs=1)
    assert m.epochs_done == 3 and not np.array_equal(before, m.wv.vectors)
    m.train(epochs=1, device="cpu")  # the same model trains on either
    assert m.epochs_done == 4


def test_cuda_trainer_rejects_what_it_does_not_do():
    with pytest.raises(ValueError, match="negative sampling only"):
        Word2Vec([["a", "b"]] * 10, min_count=1, hs=1, negative=0, device="cuda", progress=False)


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
