"""Corpora beyond one process or machine with Dask: annotate a bag of texts, count a word2vec vocabulary.

Needs the optional extra ``pip install fastnlp[dask]`` (dask[bag] and distributed). Each worker process
loads a pipeline once per set of tasks (a per-process cache shared by its threads; tagging is
thread-safe) and, inside a ``distributed`` worker, runs fastnlp's kernels on ``num_threads`` threads
(default 1: the worker processes share the cores).

    >>> from dask.distributed import Client, LocalCluster
    >>> import dask.bag as db, fastnlp.dask
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))
    >>> records = fastnlp.dask.annotate(db.from_sequence(texts, npartitions=8), tasks="pos,ner").compute()
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from typing import TYPE_CHECKING, Iterable, List, NamedTuple, Sequence, Tuple, Union

import numpy as np

try:
    import dask.bag as db
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("fastnlp.dask needs Dask: pip install 'fastnlp[dask]' (dask[bag] and distributed)") from e

if TYPE_CHECKING:
    from .pipeline import Pipeline

_pipelines = {}  # tasks -> Pipeline, one per process (workers keep it between tasks)
_pipelines_lock = threading.Lock()
_threads_set = False

# word2vec's tokens: runs of bytes other than ASCII whitespace (csrc/models/text_reader.h is_space_byte).
_TOKEN = re.compile(r"[^ \t\n\x0b\x0c\r]+")


def _check_tasks(tasks) -> str:
    if not isinstance(tasks, str) or not tasks.strip():
        raise ValueError(f"fastnlp.dask: tasks must be a non-empty str such as 'pos,ner', got {tasks!r}")
    return tasks


def _check_positive(op: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{op}: {name} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{op}: {name} must be >= 1, got {value}")


def _in_distributed_worker() -> bool:
    try:
        from distributed import get_worker
    except ImportError:
        return False
    try:
        get_worker()
    except ValueError:
        return False
    return True


def get_pipeline(tasks: str, num_threads: int = 1) -> "Pipeline":
    """This process's pipeline for `tasks`, loaded on first use and kept.

    Parameters
    ----------
    tasks : str
        Comma-separated tasks, as for fastnlp.pipeline.
    num_threads : int
        Threads for fastnlp's kernels, set once per process, only inside a distributed worker.

    Returns
    -------
    fastnlp.pipeline.Pipeline
    """
    global _threads_set
    with _pipelines_lock:
        if not _threads_set and _in_distributed_worker():
            from . import _device

            _device.set_num_threads(num_threads)
            _threads_set = True
        nlp = _pipelines.get(tasks)
        if nlp is None:
            from .pipeline import pipeline

            nlp = _pipelines[tasks] = pipeline(tasks)
    return nlp


def _annotate_partition(texts: Iterable[str], tasks: str, batch_size: int, num_threads: int) -> List[dict]:
    nlp = get_pipeline(tasks, num_threads)
    return [doc.to_json() for doc in nlp.pipe(texts, batch_size=batch_size)]


def annotate(bag: "db.Bag", tasks: str = "pos,ner", batch_size: int = 1000, num_threads: int = 1) -> "db.Bag":
    """Annotates a Dask bag of texts: a bag of ``Doc.to_json()`` records, in the bag's order.

    Parameters
    ----------
    bag : dask.bag.Bag
        Its items are str, one document each.
    tasks : str
        Comma-separated tasks for fastnlp.pipeline, e.g. "pos", "pos,chunk,ner".
    batch_size : int
        Texts per call of Pipeline.pipe inside a partition.
    num_threads : int
        fastnlp's kernel threads in each distributed worker process (1: the workers share the cores).

    Returns
    -------
    dask.bag.Bag
        Lazy; one dict per text (see Doc.to_json()).

    Raises
    ------
    TypeError
        bag is not a dask Bag, or batch_size / num_threads not an int.
    ValueError
        tasks empty or not a str, batch_size or num_threads < 1. Unknown task names raise when computed.
    """
    if not isinstance(bag, db.Bag):
        raise TypeError(f"annotate: bag must be a dask.bag.Bag of str, got {type(bag).__name__}")
    _check_tasks(tasks)
    _check_positive("annotate", "batch_size", batch_size)
    _check_positive("annotate", "num_threads", num_threads)
    return bag.map_partitions(_annotate_partition, tasks, batch_size, num_threads)


def _lines(paths: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]], blocksize, encoding: str) -> "db.Bag":
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("fastnlp.dask: paths is empty")
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"fastnlp.dask: paths: no such file: {p}")
    return db.read_text(paths, blocksize=blocksize, encoding=encoding)


def _strip_line(line: str) -> str:
    return line.rstrip("\r\n")


def annotate_files(paths: Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]], tasks: str = "pos,ner",
                   blocksize: Union[int, str, None] = None, batch_size: int = 1000, encoding: str = "utf-8",
                   num_threads: int = 1) -> "db.Bag":
    """Annotates text files: one record per non-blank line (the line without its line break).

    Parameters
    ----------
    paths : str, path or list of them
        Text files; Dask reads each in blocks of `blocksize` bytes (split at line breaks).
    tasks, batch_size, num_threads
        As for annotate.
    blocksize : int or str, optional
        Bytes per partition, e.g. "64MiB"; None: one partition per file.
    encoding : str
        Of the files (undecodable bytes raise UnicodeDecodeError when computed).

    Returns
    -------
    dask.bag.Bag
        One to_json() dict per non-blank line, in file and line order.

    Raises
    ------
    FileNotFoundError
        A path is not a file.
    ValueError
        paths empty; bad tasks / batch_size as for annotate.
    """
    lines = _lines(paths, blocksize, encoding).map(_strip_line).filter(bool)
    return annotate(lines, tasks, batch_size=batch_size, num_threads=num_threads)


class VocabCounts(NamedTuple):
    """Word counts of a corpus, ordered as Word2Vec.build_vocab orders its vocabulary."""

    words: List[str]  # count >= min_count, by descending count, ties by first appearance
    counts: np.ndarray  # int64, one per word
    total_words: int  # tokens in the corpus, words under min_count included


def _count_partition(lines: Iterable[str]) -> Tuple[Counter, int]:
    counts = Counter()  # insertion order: first appearance in the partition
    total = 0
    for line in lines:
        if not isinstance(line, str):
            raise TypeError(f"count_vocab: the bag's items must be str (lines of text), got {type(line).__name__}")
        tokens = _TOKEN.findall(line)
        counts.update(tokens)
        total += len(tokens)
    return counts, total


def _merge(parts: Iterable[Tuple[Counter, int]]) -> Tuple[Counter, int]:
    merged, total = Counter(), 0
    for counts, n in parts:  # in partition order, so insertion order stays first appearance
        merged.update(counts)
        total += n
    return merged, total


def count_vocab(bag_or_paths: Union["db.Bag", str, os.PathLike, Sequence[Union[str, os.PathLike]]], min_count: int = 5,
                blocksize: Union[int, str, None] = None, encoding: str = "utf-8") -> VocabCounts:
    """Counts the words of a corpus with Dask (per-partition counts, merged), as word2vec counts them.

    Tokens are runs of non-whitespace (ASCII whitespace separates, as in Word2Vec's corpus_file
    reader); each item or line is a sentence. The result equals the words and counts that
    ``Word2Vec(min_count=...).build_vocab(corpus_file=paths)`` keeps (its max_vocab_size pruning
    aside). Word2Vec has no entry that takes counts: use ``words`` / ``counts`` to choose a
    vocabulary, size a model or check a corpus before training.

    Parameters
    ----------
    bag_or_paths : dask.bag.Bag of str, or str / path / list of them
        Lines of text, or text files (read with dask.bag.read_text).
    min_count : int
        Words seen fewer times are left out (>= 1).
    blocksize, encoding
        For files, as in annotate_files.

    Returns
    -------
    VocabCounts
        words, counts (int64), total_words. Computed now, on the current Dask scheduler.

    Raises
    ------
    TypeError
        min_count not an int, or a bag item not a str.
    ValueError
        min_count < 1, or paths empty.
    FileNotFoundError
        A path is not a file.
    """
    _check_positive("count_vocab", "min_count", min_count)
    bag = bag_or_paths if isinstance(bag_or_paths, db.Bag) else _lines(bag_or_paths, blocksize, encoding)
    counts, total = bag.reduction(_count_partition, _merge).compute()
    kept = sorted((item for item in counts.items() if item[1] >= min_count), key=lambda wc: -wc[1])  # stable
    return VocabCounts([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64), int(total))
