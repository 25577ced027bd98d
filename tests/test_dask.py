"""fastnlp.dask on a distributed.LocalCluster of 2 process workers: annotations and vocabulary counts
equal to the ones computed locally (skips without dask / distributed)."""

import os

import numpy as np
import pytest

db = pytest.importorskip("dask.bag")
distributed = pytest.importorskip("distributed")

import fastnlp  # noqa: E402
import fastnlp.dask as fdask  # noqa: E402

TEXTS = [
    "The cat sat on the mat. It was happy in New York.",
    "Stocks fell 3.5% on Monday, said John Smith of Goldman Sachs.",
    "i don't think so... maybe tomorrow?",
    "Visit https://example.com or mail me at jo@example.org today.",
    "",
    "Paris is the capital of France. Berlin is in Germany!",
] * 5
CORPUS = ["the cat sat on the mat", "the dog sat\ton a log  ", "", "a cat and a dog\x0bmet", "dog  eat dog world",
          "caf\u00e9 na\u00efve caf\u00e9 \u3000 the"] * 7


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def local_records(tasks, texts):
    nlp = fastnlp.pipeline(tasks)
    return [doc.to_json() for doc in nlp.pipe(texts)]


def test_annotate_equals_local(client):
    records = fdask.annotate(db.from_sequence(TEXTS, npartitions=4), tasks="pos,ner", batch_size=3).compute()
    assert records == local_records("pos,ner", TEXTS)
    # the work ran in the worker processes, each loading its pipeline once into its own cache
    cached = client.run(lambda: sorted(fdask._pipelines))
    assert any(v == ["pos,ner"] for v in cached.values()), cached
    assert client.run(fastnlp.get_num_threads) == {w: 1 for w in cached}


def test_annotate_files_one_record_per_non_blank_line(client, tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("\n".join(TEXTS[:6]) + "\n\n", encoding="utf-8")
    b.write_bytes("\r\n".join(TEXTS[6:12]).encode())
    records = fdask.annotate_files([str(a), str(b)], tasks="pos", blocksize=100).compute()
    lines = [t for t in TEXTS[:12] if t]
    assert records == local_records("pos", lines)


def test_count_vocab_equals_word2vec_build_vocab(client, tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    model = fastnlp.Word2Vec(min_count=3, vector_size=8, workers=1, progress=False).build_vocab(corpus_file=str(path))
    for got in (fdask.count_vocab(str(path), min_count=3, blocksize=64),
                fdask.count_vocab(db.from_sequence(CORPUS, npartitions=5), min_count=3)):
        assert got.words == model.wv.index_to_key
        np.testing.assert_array_equal(got.counts, model.wv.counts)
        assert got.total_words == model.corpus_stats["tokens"]


def test_bad_arguments():
    bag = db.from_sequence(["a b"])
    with pytest.raises(TypeError, match="annotate: bag must be a dask.bag.Bag"):
        fdask.annotate(["a text"])
    with pytest.raises(ValueError, match="tasks must be a non-empty str"):
        fdask.annotate(bag, tasks="")
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        fdask.annotate(bag, batch_size=0)
    with pytest.raises(ValueError, match="min_count must be >= 1, got 0"):
        fdask.count_vocab(bag, min_count=0)
    with pytest.raises(FileNotFoundError, match="no such file"):
        fdask.annotate_files([os.path.join("/nonexistent", "x.txt")])
    with pytest.raises(TypeError, match="items must be str"):
        fdask.count_vocab(db.from_sequence([1, 2]), min_count=1)
