"""Pipeline.pipe(n_process > 1) (fastnlp._multiprocess.pipe_parallel): the same Docs as one process, in
order; streaming input with a bounded number of batches in flight; worker errors raised in the parent;
Ctrl-C and early stops end the workers."""

import itertools
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import fastnlp
from fastnlp._multiprocess import pack_docs, pipe_parallel, unpack_docs

TEXTS = [
    "The cat sat on the mat. It was happy in New York.",
    "Stocks fell 3.5% on Monday, said John Smith of Goldman Sachs.",
    "",
    "i don't think so... maybe tomorrow? Visit https://example.com today!",
    "Paris is the capital of France.\n\nBerlin is in Germany.",
]


@pytest.fixture(scope="module")
def nlp():
    return fastnlp.pipeline("pos,ner")


def texts(n):
    return [f"{TEXTS[i % len(TEXTS)]} Item {i}." if i % 7 else TEXTS[i % len(TEXTS)] for i in range(n)]


def as_json(docs):
    return [d.to_json() for d in docs]


def test_pack_unpack_round_trip(nlp):
    docs = list(nlp.pipe(texts(23)))
    back = unpack_docs(pickle.loads(pickle.dumps(pack_docs(docs))))
    assert as_json(back) == as_json(docs)
    assert [d.tasks for d in back] == [d.tasks for d in docs] and [len(d.sents) for d in back] == [len(d.sents) for d in docs]
    assert unpack_docs(pack_docs([])) == []


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_two_processes_give_the_single_process_docs(nlp, start_method):
    data = texts(61)  # 9 batches of 7, the last one short
    expected = as_json(nlp.pipe(data, batch_size=7))
    got = as_json(pipe_parallel(nlp, iter(data), batch_size=7, n_process=2, start_method=start_method))
    assert got == expected
    assert not multiprocessing.active_children()


def test_pipe_n_process_goes_parallel(nlp):
    data = texts(30)
    assert as_json(nlp.pipe(data, batch_size=4, n_process=2)) == as_json(nlp.pipe(data, batch_size=4))


def test_streams_an_endless_input_with_bounded_batches_in_flight(nlp):
    taken = []

    def endless():
        for i in itertools.count():
            taken.append(i)
            yield TEXTS[i % len(TEXTS)]

    docs = nlp.pipe(endless(), batch_size=5, n_process=2)
    first = [next(docs) for _ in range(12)]
    assert as_json(first) == as_json(nlp.pipe(itertools.islice(itertools.cycle(TEXTS), 12)))
    # 2 * n_process batches in flight, one more being collected: never the whole (endless) input
    assert len(taken) <= (2 * 2 + 1) * 5 + 5
    docs.close()  # a consumer that stops early: the workers are ended
    _assert_workers_gone()


def _assert_workers_gone(seconds=10.0):
    """The workers are stopped and joined; a process the executor's own thread is still reaping may
    take a moment to leave active_children() (CI once saw one linger past the error)."""
    deadline = time.monotonic() + seconds
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not multiprocessing.active_children()


def test_worker_error_is_raised_with_its_message(nlp):
    data = texts(20)
    data[13] = 42  # not a str: the worker's Pipeline raises TypeError
    with pytest.raises(TypeError, match=r"Pipeline: text must be a str, got int \(item 3 of the batch\)"):
        list(nlp.pipe(data, batch_size=5, n_process=2))
    _assert_workers_gone()


def test_bad_arguments(nlp):
    with pytest.raises(TypeError, match="pipe: texts must be an iterable of str"):
        pipe_parallel(nlp, "one text", 10, 2)
    with pytest.raises(ValueError, match="pipe: batch_size must be >= 1, got 0"):
        pipe_parallel(nlp, TEXTS, 0, 2)
    with pytest.raises(ValueError, match="pipe: n_process must be >= 1 or -1"):
        pipe_parallel(nlp, TEXTS, 10, 0)
    with pytest.raises(ValueError, match="start_method 'threads'"):
        pipe_parallel(nlp, TEXTS, 10, 2, start_method="threads")


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads process states from /proc")
def test_ctrl_c_ends_the_parent_and_the_workers():
    code = textwrap.dedent("""
        import itertools, multiprocessing, sys, fastnlp
        nlp = fastnlp.pipeline("pos")
        docs = nlp.pipe(itertools.cycle(["The cat sat on the mat.", "Stocks fell."]), batch_size=50, n_process=2)
        next(docs)
        print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
        for _ in docs:
            pass
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    try:
        pids = [int(p) for p in proc.stdout.readline().split()]
        assert len(pids) == 2
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert err.count("Traceback") == 1, err  # the parent's only: the workers ignore SIGINT
    assert all(_state(p) in ("gone", "Z") for p in pids), [(p, _state(p)) for p in pids]


def test_cli_processes_2_prints_what_1_prints(monkeypatch):
    from test_cli_robustness import _tag_in_process

    data = ("\n".join(t for t in texts(40)) + "\n").encode()
    args = ["--task", "pos,ner", "--format", "jsonl", "--batch", "4", "--quiet"]
    one = _tag_in_process(monkeypatch, data, args)
    assert one.count("\n") >= 30
    assert _tag_in_process(monkeypatch, data, args + ["--processes", "2"]) == one
    assert not multiprocessing.active_children()
