"""Taggers across processes and threads: fork after the OpenMP pool exists, pickling by reference
(pretrained name, file path, arrays), spawn pools, concurrent tag_batch on one Tagger."""

import os
import pickle
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastnlp
from fastnlp.tagging import Tagger, load_tagger

SENTS = [["The", "cat", "sat", "on", "the", "mat", "."], ["Stocks", "fell", "3.5", "%", "in", "New", "York", "."],
         ["I", "'m", "not", "sure", "she", "reads", "it", "at", "all", "!"]] * 400


def run_script(code, timeout=120):
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_fork_pool_after_tagging_in_the_parent():
    # The parent runs an OpenMP team (2 threads, a batch big enough to split) before forking: libgomp's
    # pool then exists, and a child entering a parallel region would wait forever on its threads.
    out = run_script(f"""
        import multiprocessing as mp, os
        import fastnlp
        fastnlp.set_num_threads(2)
        SENTS = {SENTS[:3]!r} * 400
""" + """
        tagger = fastnlp.load_tagger("pos")
        parent = tagger.tag_batch(SENTS)

        def work(i):
            return os.getpid(), fastnlp.get_num_threads(), tagger.tag_batch(SENTS[i::2])

        with mp.get_context("fork").Pool(2) as pool:
            results = pool.map(work, range(2), chunksize=1)
        assert all(r[2] == parent[i::2] for i, r in enumerate(results)), "children tag differently"
        assert all(r[0] != os.getpid() for r in results), "the work did not run in the children"
        print("threads", sorted({r[1] for r in results}))
        print("parent", fastnlp.get_num_threads())
    """)
    assert "threads [1]" in out  # a child of a process that ran a team runs single-threaded
    assert "parent 2" in out     # the parent keeps its threads


def test_fork_before_any_team_keeps_the_thread_count():
    out = run_script("""
        import os, fastnlp
        fastnlp.set_num_threads(2)
        pid = os.fork()
        if pid == 0:
            os.write(1, f"child {fastnlp.get_num_threads()}\\n".encode())
            os._exit(0)
        os.waitpid(pid, 0)
    """, timeout=60)
    assert "child 2" in out


@pytest.fixture(scope="module")
def pos():
    return load_tagger("pos")


def test_pickle_pretrained_by_name(pos):
    data = pickle.dumps(pos)
    assert len(data) < 500 and b"_C" not in data  # a name, not weights or C++ state
    back = pickle.loads(data)
    assert back.tag_batch(SENTS[:30]) == pos.tag_batch(SENTS[:30])


def test_pickle_file_by_path(pos, tmp_path):
    path = tmp_path / "pos.npz"
    pos.save(path)
    tagger = load_tagger(str(path))
    data = pickle.dumps(tagger)
    assert len(data) < 1000 and str(path).encode() in data
    assert pickle.loads(data).tag_batch(SENTS[:30]) == pos.tag_batch(SENTS[:30])
    os.utime(path, ns=(0, 0))  # the file changes after pickling: refused, not silently different weights
    with pytest.raises(ValueError, match="changed since the tagger was pickled"):
        pickle.loads(data)
    os.remove(path)
    with pytest.raises(FileNotFoundError, match="cannot be read here"):
        pickle.loads(data)


def test_pickle_in_memory_tagger_as_arrays(pos):
    tagger = Tagger(pos.header, pos.lexicons, pos.tables, pos.W1, pos.b1, pos.W2, pos.b2, pos.transitions, pos.start)
    data = pickle.dumps(tagger)
    assert b"fastnlp._C" not in data
    back = pickle.loads(data)
    assert back.header == pos.header and back.lexicons == pos.lexicons
    for a, b in zip(back.tables + [back.W1, back.W2], pos.tables + [pos.W1, pos.W2]):
        np.testing.assert_array_equal(a, b)
    assert back.tag_batch(SENTS[:60]) == pos.tag_batch(SENTS[:60])
    assert pickle.loads(pickle.dumps(back)).tag(SENTS[1]) == pos.tag(SENTS[1])  # pickles again


def test_spawn_pool_gets_the_tagger_by_reference(pos):
    import multiprocessing as mp

    chunks = [SENTS[i::2] for i in range(2)]
    with mp.get_context("spawn").Pool(2) as pool:
        results = pool.map(pos.tag_batch, chunks)
    assert results == [pos.tag_batch(c) for c in chunks]


def test_two_threads_tag_one_tagger_at_once(pos):
    ner = load_tagger("ner")  # Viterbi decode too
    expected = {name: t.tag_batch(SENTS) for name, t in (("pos", pos), ("ner", ner))}
    got, errors = {}, []
    start = threading.Barrier(4)

    def work(key, tagger):
        try:
            start.wait()
            for _ in range(3):
                got.setdefault(key, []).append(tagger.tag_batch(SENTS))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(f"{name}{i}", t)) for i in range(2)
               for name, t in (("pos", pos), ("ner", ner))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for key, results in got.items():
        assert all(r == expected[key[:-1]] for r in results), key


def test_two_threads_share_one_pipeline():
    # What a Dask worker with several threads does with its cached pipeline (fastnlp.dask.get_pipeline).
    nlp = fastnlp.pipeline("pos,ner")
    texts = [" ".join(" ".join(s) for s in SENTS[i:i + 5]) + f" Item {i}." for i in range(0, 300, 5)]
    expected = [d.to_json() for d in nlp.pipe(texts, batch_size=8)]
    got, errors = [None, None], []

    def work(k):
        try:
            got[k] = [d.to_json() for d in nlp.pipe(texts, batch_size=8)]
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and got == [expected, expected]
