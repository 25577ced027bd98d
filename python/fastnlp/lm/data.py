"""Token streams and the vocabulary of the RNN language model: the readers for Penn Treebank
(Mikolov's ptb.*.txt) and WikiText, a frequency-ordered Vocabulary, and the layout of one stream as
B parallel streams for truncated BPTT."""

import hashlib
import os
from collections import Counter
from typing import Iterable, Iterator, List, Optional, Sequence, Tuple

import numpy as np

EOS, UNK = "<eos>", "<unk>"
FORMATS = ("ptb", "wikitext")
TASKS = {"ptb": ("ptb", "ptb/ptb.train.txt", "ptb/ptb.valid.txt"),
         "wikitext2": ("wikitext", "wikitext2/wiki.train.tokens", "wikitext2/wiki.valid.tokens")}


def default_data_dir() -> str:
    """$FASTNLP_DATA/lm, else ../shared/data/lm from the working directory (as classify's)."""
    root = os.environ.get("FASTNLP_DATA")
    if root:
        return os.path.join(root, "lm")
    return os.path.join(os.getcwd(), "..", "shared", "data", "lm")


def task_files(task: str, data_dir: Optional[str] = None) -> Tuple[str, str, str]:
    """(format, train path, valid path) of a task ("ptb" or "wikitext2") under data_dir.

    Parameters
    ----------
    task : str
        "ptb" or "wikitext2".
    data_dir : str, optional
        The folder holding ``ptb/`` and ``wikitext2/`` (default: default_data_dir()).

    Returns
    -------
    (str, str, str)
        The format for iter_sentences ("ptb" or "wikitext"), the training file and the validation file.

    Raises
    ------
    ValueError
        task is not one of TASKS.
    FileNotFoundError
        a file of the task is missing under data_dir.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    data_dir = data_dir or default_data_dir()
    fmt, train, valid = TASKS[task]
    paths = [os.path.join(data_dir, train), os.path.join(data_dir, valid)]
    for p in paths:
        if not os.path.isfile(p):
            raise FileNotFoundError(f"--data-dir: no {task} file {p}")
    return fmt, paths[0], paths[1]


def iter_sentences(path: str, fmt: str = "ptb") -> Iterator[List[str]]:
    """The token lists of a file, one per line, without the end-of-sentence token.

    ``ptb``: every line is one sentence (an empty line is an empty sentence: the stream gets its
    <eos> alone), as Mikolov's and PyTorch's word_language_model readers do.
    ``wikitext``: every non-empty line (a paragraph or a `` = Heading = `` line) is one sequence;
    whitespace-only lines are skipped, so the stream has no runs of bare <eos> between paragraphs.

    Parameters
    ----------
    path : str
        A UTF-8 text file of whitespace-separated tokens.
    fmt : str
        "ptb" or "wikitext".

    Returns
    -------
    iterator of list of str
        The tokens of each sentence, in file order (a generator: the file is read lazily).

    Raises
    ------
    ValueError
        fmt is not one of FORMATS.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            words = line.split()
            if words or fmt == "ptb":
                yield words


def read_tokens(path: str, fmt: str = "ptb") -> List[str]:
    """The file as one token stream: each sentence (see iter_sentences) followed by <eos>.

    Parameters
    ----------
    path : str
        A UTF-8 text file of whitespace-separated tokens.
    fmt : str
        "ptb" or "wikitext".

    Returns
    -------
    list of str
        The tokens, with <eos> after each sentence.

    Raises
    ------
    ValueError
        fmt is not one of FORMATS.
    """
    tokens = []
    for words in iter_sentences(path, fmt):
        tokens.extend(words)
        tokens.append(EOS)
    return tokens


class Vocabulary:
    """Words in order of decreasing training count (ties alphabetical), so that id order is
    frequency order, which the log-uniform sampler assumes. <eos> is always present.

    Parameters
    ----------
    words : iterable of str
        The words, distinct, in id order; <eos> must be one of them.

    Raises
    ------
    ValueError
        Repeated words, or no <eos>.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self.index_to_word = list(words)
        self.word_to_index = {w: i for i, w in enumerate(self.index_to_word)}
        if len(self.word_to_index) != len(self.index_to_word):
            raise ValueError("Vocabulary: words must be distinct")
        if EOS not in self.word_to_index:
            raise ValueError(f"Vocabulary: {EOS} must be one of the words")
        self.eos = self.word_to_index[EOS]
        self.unk = self.word_to_index.get(UNK)

    @classmethod
    def build(cls, tokens: Iterable[str]) -> "Vocabulary":
        """Every distinct token of ``tokens`` (plus <eos>), most frequent first.

        Parameters
        ----------
        tokens : iterable of str
            A token stream (e.g. read_tokens of the training file).

        Returns
        -------
        Vocabulary
            Ids by decreasing count, ties alphabetical.
        """
        counts = Counter(tokens)
        counts.setdefault(EOS, 0)
        return cls(sorted(counts, key=lambda w: (-counts[w], w)))

    def __len__(self):
        return len(self.index_to_word)

    def encode(self, tokens: Sequence[str], what: str = "tokens") -> np.ndarray:
        """int64 ids of ``tokens``; a word outside the vocabulary becomes <unk> when the vocabulary
        has one (PTB and WikiText do), else ValueError naming the word and ``what``.

        Parameters
        ----------
        tokens : sequence of str
            The words (a sized sequence).
        what : str
            The name the error message gives the tokens (an argument or a file).

        Returns
        -------
        numpy.ndarray
            int64 (len(tokens),).

        Raises
        ------
        ValueError
            A word outside a vocabulary without <unk>.
        """
        get, unk = self.word_to_index.get, self.unk
        ids = np.fromiter((get(w, -1) for w in tokens), dtype=np.int64, count=len(tokens))
        missing = ids < 0
        if missing.any():
            if unk is None:
                first = tokens[int(np.argmax(missing))]
                raise ValueError(f"{what}: word {first!r} is not in the vocabulary (and it has no {UNK})")
            ids[missing] = unk
        return ids

    def decode(self, ids: Iterable[int]) -> List[str]:
        """The words of ids.

        Parameters
        ----------
        ids : iterable of int
            Word ids, each in [0, len(self)).

        Returns
        -------
        list of str
            The words, in order.
        """
        return [self.index_to_word[int(i)] for i in ids]


def fingerprint(ids: np.ndarray) -> str:
    """sha256 of a token-id stream: a checkpoint is resumed only on the same training data."""
    return hashlib.sha256(np.ascontiguousarray(ids, np.int64).tobytes()).hexdigest()


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """The stream cut into batch_size contiguous streams, one per row: (B, N // B); the last
    N mod B tokens are left out (as in Zaremba et al.'s reader).

    Parameters
    ----------
    ids : numpy.ndarray
        (N,) token ids, the stream.
    batch_size : int
        B, the number of streams.

    Returns
    -------
    numpy.ndarray
        (B, N // B), C-contiguous.

    Raises
    ------
    ValueError
        N // B < 2.
    """
    n = len(ids) // batch_size
    if n < 2:
        raise ValueError(f"batch_size: {batch_size} streams of a {len(ids)}-token text leave fewer than 2 "
                         "tokens per stream")
    return np.ascontiguousarray(ids[:n * batch_size].reshape(batch_size, n))
