"""Pipeline.pipe(..., n_process=N) for N > 1: batches of texts annotated in worker processes.

Order-preserving and bounded: the input is read lazily and at most 2 * n_process batches are in
flight at once, each of batch_size texts or fewer (a batch also ends at Pipeline.pipe's character
limit), so memory follows the batch, not the input. Each worker gets the pipeline once
(inherited under fork; pickled by reference, i.e. reloaded from its model files, otherwise) and runs
fastnlp's kernels on one thread. A worker's exception is raised again here with its message; Ctrl-C
or a consumer that stops early ends the workers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Iterable, Iterator, List, Optional

import numpy as np

_worker_pipeline = None  # the pipeline of this worker process (set by _init_worker)


def _init_worker(pipeline) -> None:
    global _worker_pipeline
    # Ctrl-C goes to the whole process group: the parent handles it (and ends the workers); a
    # worker's own KeyboardInterrupt would only print a traceback per process.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from . import _device

    _device.set_num_threads(1)
    _worker_pipeline = pipeline


def _annotate_batch(texts: List[str]) -> tuple:
    return pack_docs(_worker_pipeline.pipe(texts, batch_size=len(texts), n_process=1))


def pack_docs(docs: Iterable[Any]) -> tuple:
    """A batch of Docs as a few flat arrays and lists, what a worker sends back: pickling Doc objects
    one by one (five small arrays each) cost about as much as annotating them."""
    docs = list(docs)
    texts = [d.text for d in docs]
    norms = [n for d in docs for n in d._norms]
    sizes = np.array([len(d._norms) for d in docs], dtype=np.int64)
    nbounds = np.array([len(d._sent_bounds) for d in docs], dtype=np.int64)
    cat = (lambda arrays, dtype: np.concatenate(arrays) if arrays else np.zeros(0, dtype))
    starts = cat([d._starts for d in docs], np.int64)
    ends = cat([d._ends for d in docs], np.int64)
    bounds = cat([d._sent_bounds for d in docs], np.int64)
    tasks = list(docs[0]._tags) if docs else []
    tags = {task: (docs[0]._tags[task][0], cat([d._tags[task][1] for d in docs], np.int32)) for task in tasks}
    return texts, norms, sizes, nbounds, starts, ends, bounds, tags


def unpack_docs(packed: tuple) -> List[Any]:
    """The Docs of pack_docs, each with its own arrays (a kept Doc does not keep its whole batch)."""
    from .pipeline import Doc

    texts, norms, sizes, nbounds, starts, ends, bounds, tags = packed
    tok = np.concatenate(([0], np.cumsum(sizes))).tolist()
    bnd = np.concatenate(([0], np.cumsum(nbounds))).tolist()
    docs = []
    for k, text in enumerate(texts):
        a, e = tok[k], tok[k + 1]
        doc_tags = {task: (names, ids[a:e].copy()) for task, (names, ids) in tags.items()}
        docs.append(Doc(text, norms[a:e], starts[a:e].copy(), ends[a:e].copy(), bounds[bnd[k]:bnd[k + 1]].copy(),
                        doc_tags))
    return docs


def _check_count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"pipe: {name} must be an int, got {type(value).__name__}")
    return value


def resolve_n_process(n_process: int) -> int:
    """n_process as a count of processes: -1 means one per core; ValueError for 0 or below -1."""
    n_process = _check_count("n_process", n_process)
    if n_process == -1:
        return os.cpu_count() or 1
    if n_process < 1:
        raise ValueError(f"pipe: n_process must be >= 1 or -1 (one per core), got {n_process}")
    return n_process


def _batches(texts: Iterable[str], batch_size: int, max_chars: int) -> Iterator[List[str]]:
    # As Pipeline.pipe's batches: batch_size texts, or fewer once they hold max_chars characters.
    batch, size = [], 0
    for text in texts:
        batch.append(text)
        size += len(text) if isinstance(text, str) else 0
        if len(batch) == batch_size or size >= max_chars:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def pipe_parallel(pipeline, texts: Iterable[str], batch_size: int, n_process: int,
                  start_method: Optional[str] = None) -> Iterator[Any]:
    """Annotates `texts` with `pipeline` in `n_process` worker processes, in input order.

    Parameters
    ----------
    pipeline : fastnlp.pipeline.Pipeline
        What each worker runs (its ``pipe(batch, batch_size, n_process=1)``); picklable by reference.
    texts : iterable of str
        Read lazily, ``batch_size`` at a time; may be a generator of any length.
    batch_size : int
        Texts per task sent to a worker (>= 1).
    n_process : int
        Worker processes (>= 1, or -1 for one per core).
    start_method : str, optional
        "fork", "spawn" or "forkserver"; default: multiprocessing's default for the platform.
        Under fork the workers inherit the pipeline; otherwise each one unpickles it once, which
        loads its models from their files.

    Returns
    -------
    Iterator of Doc
        The documents ``pipeline.pipe(texts)`` gives, in the same order.

    Raises
    ------
    TypeError
        texts is a str (not an iterable of texts), or batch_size / n_process not an int.
    ValueError
        batch_size < 1, n_process < 1 (other than -1), or an unknown start_method.
    Exception
        Whatever a worker raised, with its message (the worker's traceback is its __cause__);
        concurrent.futures.process.BrokenProcessPool when a worker died (killed, out of memory).
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError("pipe: texts must be an iterable of str (one document each), got a single "
                        f"{type(texts).__name__}")
    if _check_count("batch_size", batch_size) < 1:
        raise ValueError(f"pipe: batch_size must be >= 1, got {batch_size}")
    n_process = resolve_n_process(n_process)
    try:
        context = multiprocessing.get_context(start_method)
    except ValueError as e:
        raise ValueError(f"pipe: start_method {start_method!r}: {e}") from None
    return _run(pipeline, texts, batch_size, n_process, context)


def _run(pipeline, texts, batch_size, n_process, context) -> Iterator[Any]:
    executor = ProcessPoolExecutor(n_process, mp_context=context, initializer=_init_worker, initargs=(pipeline,))
    pending = deque()
    done = False
    try:
        from .pipeline import _BATCH_CHARS

        for batch in _batches(texts, batch_size, _BATCH_CHARS):
            pending.append(executor.submit(_annotate_batch, batch))
            if len(pending) >= 2 * n_process:
                yield from unpack_docs(pending.popleft().result())
        while pending:
            yield from unpack_docs(pending.popleft().result())
        done = True
    finally:
        if done:
            executor.shutdown(wait=True)
        else:  # an error, Ctrl-C or a consumer that stopped early: the workers' work is not wanted
            for future in pending:
                future.cancel()
            _terminate(executor)


def _terminate(executor: ProcessPoolExecutor) -> None:
    # Workers still on a batch would finish it first: stop them now. (Python 3.14 has
    # executor.terminate_workers(); older ones keep the processes in _processes.)
    terminate = getattr(executor, "terminate_workers", None)
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(executor, "_processes", None) or {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=5)
        if p.is_alive():  # SIGTERM caught (a handler inherited through fork) or ignored: SIGKILL
            p.kill()
            p.join(timeout=5)
