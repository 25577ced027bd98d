"""Word2Vec's settings and the checks of its arguments: the defaults, the names save() stores, the
corpus arguments (files, re-iterable sentences) and the device. The trainer's own ranges are
checked once, in C++ (check_word2vec_config, through _C.Word2VecConfig).
"""

import os

from typing import Sequence, Union

from .. import _C

# The start learning rate when none is given, per model: word2vec.c's (0.025 skip-gram, 0.05
# CBOW). CBOW at gensim's 0.025 scored lower in benchmarks/word2vec_schedule.py (README, word2vec).
# The Python API and the command line both take their defaults from here (test_word2vec_cli).
DEFAULT_ALPHA = {"sg": 0.025, "cbow": 0.05}
# The decay when none is given, per model, by the same experiment: 'global' (word2vec.c's, over the
# words of all workers) or 'per_worker' (gensim corpus_file's, each worker by its own words).
DEFAULT_ALPHA_SCHEDULE = {"sg": "global", "cbow": "per_worker"}

Corpus = Union[str, os.PathLike, Sequence[Union[str, os.PathLike]]]  # corpus_file: one path or several
_CONFIG_KEYS = ("vector_size", "window", "min_count", "max_vocab_size", "sample", "seed", "workers", "sg", "hs",
                "negative", "ns_exponent", "cbow_mean", "alpha", "min_alpha", "alpha_schedule", "epochs",
                "shared_negatives", "max_sentence")


def _pick(name_a, a, name_b, b, default):
    if a is not None and b is not None and a != b:
        raise ValueError(f"Word2Vec: {name_a}={a} and {name_b}={b} disagree (they are the same setting)")
    return a if a is not None else (b if b is not None else default)


def _setting(name, value, kind, bits=64):
    """value as int (fitting a signed `bits`-bit C++ integer) or float; ValueError naming the
    setting for anything else, so the C++ config check (the one place the ranges live) always gets
    a value it can hold."""
    try:
        v = kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"Word2Vec: {name} must be {'an integer' if kind is int else 'a number'}, "
                         f"got {value!r}") from None
    if kind is int and bits is not None and not -(1 << (bits - 1)) <= v < (1 << (bits - 1)):
        raise ValueError(f"Word2Vec: {name} must fit in int{bits}, got {v}")
    return v


def _paths(corpus_file):
    paths = [os.fspath(corpus_file)] if isinstance(corpus_file, (str, bytes, os.PathLike)) else \
        [os.fspath(p) for p in corpus_file]
    if not paths:
        raise ValueError("word2vec: corpus_file is an empty list")
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"word2vec: corpus file not found: {p}")
    return paths



def _check_device(device):
    if device not in ("cpu", "cuda", "emulated"):
        raise ValueError(f"Word2Vec: device must be 'cpu', 'cuda' or 'emulated', got {device!r}")
    if device == "cuda":
        if not _C.cuda_compiled:
            raise RuntimeError("Word2Vec: device='cuda' but fastnlp was built without CUDA "
                               "(rebuild with FASTNLP_CUDA=ON)")
        if _C.cuda_device_count() == 0:
            raise RuntimeError("Word2Vec: device='cuda' but no CUDA device is visible")



def _check_reiterable(sentences):
    if isinstance(sentences, (str, bytes)):
        raise TypeError("word2vec: sentences must be an iterable of token lists, got a str "
                        "(for a file use corpus_file=)")
    try:
        it = iter(sentences)
    except TypeError:
        raise TypeError(f"word2vec: sentences must be an iterable of token lists, got "
                        f"{type(sentences).__name__}") from None
    if it is sentences:
        raise TypeError("word2vec: sentences must be re-iterable (a list, or an object whose __iter__ starts "
                        "over), got a one-shot iterator or generator; for files use corpus_file=")

