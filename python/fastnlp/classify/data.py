"""Readers for the sentence-classification sets in ../shared/data/classification (MR, SUBJ, CR,
MPQA, TREC, SST) and the tokenizer they share. Every reader returns a Dataset (token lists +
label names); malformed input raises ValueError naming the file and line."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Collection, List, Optional, Tuple

import numpy as np

# The tokenizer follows the rules of Kim's (2014) clean_str (our own code): keep only letters,
# digits and ( ) , ! ? ' `; split the clitics 's 've n't 're 'd 'll and the punctuation , ! ( ) ?
# into tokens of their own; lowercase everything except TREC (whose question words' case helps).
_DROP = re.compile(r"[^A-Za-z0-9(),!?'`]")
_CLITIC = re.compile(r"('s|'ve|n't|'re|'d|'ll)")
_PUNCT = re.compile(r"([,!()?])")


def tokenize(text: str, lower: bool = True) -> List[str]:
    """Kim's clean_str rules: 'It's a (good) film!' -> ['it', "'s", 'a', '(', 'good', ')', 'film', '!'].

    Parameters
    ----------
    text : str
        A sentence.
    lower : bool
        Lower-case it.

    Returns
    -------
    list of str
    """
    text = _DROP.sub(" ", text)
    text = _CLITIC.sub(r" \1", text)
    text = _PUNCT.sub(r" \1 ", text)
    return (text.lower() if lower else text).split()


@dataclass
class Dataset:
    """A labelled set of sentences.

    Parameters
    ----------
    sentences : list of list of str
        Token lists.
    labels : list of str
        The dataset's own label names, one per sentence.
    name : str
        What it is, for messages.
    label_names : list of str
        Every label in a fixed order (default: sorted from labels).

    Raises
    ------
    ValueError
        sentences and labels of different lengths.
    """
    sentences: list
    labels: list
    name: str = ""
    label_names: list = field(default_factory=list)

    def __post_init__(self):
        if len(self.sentences) != len(self.labels):
            raise ValueError(f"Dataset: {len(self.sentences)} sentences but {len(self.labels)} labels")
        if not self.label_names:
            self.label_names = sorted(set(self.labels))

    def __len__(self):
        return len(self.sentences)

    def subset(self, index):
        return Dataset([self.sentences[i] for i in index], [self.labels[i] for i in index], self.name,
                       list(self.label_names))


def read_lines(path):
    """The lines of a text file, decoded as UTF-8 when the file is valid UTF-8, else as Latin-1
    (MR, SUBJ and TREC carry Latin-1 accents; every byte string is valid Latin-1)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"classification data not found: {path}")
    with open(path, "rb") as f:
        raw = f.read()
    if b"\x00" in raw:
        line = raw[:raw.index(b"\x00")].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: NUL byte; expected a text file with one sentence per line")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    # split on "\n" only: str.splitlines would also break at \x85, \x0c, ... inside Latin-1 lines
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_labelled_lines(files, lower=True, name=""):
    """Dataset from {label: path}: one sentence per line. A line with no token left after
    tokenizing (CR has a few blank lines) stays, as an empty sentence: the published sizes count
    them, and dropping one would shift every later fold."""
    sentences, labels = [], []
    for label, path in files.items():
        for line in read_lines(path):
            sentences.append(tokenize(line, lower))
            labels.append(label)
    return Dataset(sentences, labels, name, list(files))


# The cross-validation sets: {task: (folder, {label: file})}, labels as the datasets name them.
CV_TASKS = {
    "mr": ("mr", {"negative": "rt-polarity.neg", "positive": "rt-polarity.pos"}),
    "subj": ("subj", {"objective": "subj.objective", "subjective": "subj.subjective"}),
    "cr": ("cr", {"negative": "custrev.neg", "positive": "custrev.pos"}),
    "mpqa": ("mpqa", {"negative": "mpqa.neg", "positive": "mpqa.pos"}),
}
TASKS = tuple(CV_TASKS) + ("trec", "sst2", "sst5")
N_FOLDS = 10
FOLD_SEED = 20140825   # folds and the TREC dev split are fixed: never the training seed
TREC_COARSE = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


def load_cv(task, data_dir):
    folder, files = CV_TASKS[task]
    return read_labelled_lines({label: os.path.join(data_dir, folder, f) for label, f in files.items()},
                               lower=True, name=task)


def folds(n, n_folds=N_FOLDS, seed=FOLD_SEED):
    """Fold number (0..n_folds-1) of each of n examples: a seeded permutation dealt round-robin."""
    fold = np.empty(n, np.int64)
    fold[np.random.default_rng(seed).permutation(n)] = np.arange(n) % n_folds
    return fold


def cv_split(data, fold, n_folds=N_FOLDS):
    """(train on the other folds, test on `fold`) of a cross-validation Dataset."""
    if not 0 <= fold < n_folds:
        raise ValueError(f"fold must be in 0..{n_folds - 1}, got {fold!r}")
    f = folds(len(data), n_folds)
    return data.subset(np.flatnonzero(f != fold)), data.subset(np.flatnonzero(f == fold))


def read_trec(path: str, lower: bool = False) -> Dataset:
    """TREC questions, `COARSE:fine question` per line.

    Parameters
    ----------
    path : str
        TREC.train or a file like it.
    lower : bool
        Lower-case the tokens.

    Returns
    -------
    Dataset
        With the coarse labels.

    Raises
    ------
    ValueError
        Naming the file and line of a malformed line.
    """
    sentences, labels = [], []
    for i, line in enumerate(read_lines(path), 1):
        head, _, question = line.partition(" ")
        coarse, colon, fine = head.partition(":")
        if not colon or coarse not in TREC_COARSE or not fine:
            raise ValueError(f"{path}:{i}: expected 'COARSE:fine question' with COARSE one of "
                             f"{', '.join(TREC_COARSE)}, got {line[:60]!r}")
        tokens = tokenize(question, lower)
        if not tokens:
            raise ValueError(f"{path}:{i}: no question after the label")
        sentences.append(tokens)
        labels.append(coarse)
    return Dataset(sentences, labels, "trec", list(TREC_COARSE))


def split_dev(data, fraction=0.1, seed=FOLD_SEED):
    """(train, dev): a seeded `fraction` of the examples held out."""
    order = np.random.default_rng(seed).permutation(len(data))
    n_dev = int(round(len(data) * fraction))
    return data.subset(np.sort(order[n_dev:])), data.subset(np.sort(order[:n_dev]))


_NODE_OPEN = re.compile(r"\(\s*(\S+?)(?=[\s()])\s*")


def _parse(text, where):
    """(leaves, nodes) of one SST bracketed tree: its words, and every node as (label, start, end),
    the span of leaves it covers, in post-order (root last)."""
    pos, n = 0, len(text)
    leaves, nodes = [], []

    def fail(why):
        return ValueError(f"{where}: {why} at column {pos + 1}")

    def skip_space():
        nonlocal pos
        while pos < n and text[pos].isspace():
            pos += 1

    def node():
        nonlocal pos
        m = _NODE_OPEN.match(text, pos)
        if m is None:
            raise fail("expected '(' and a label")
        if not m.group(1).isdigit() or int(m.group(1)) > 4:
            raise fail(f"label {m.group(1)!r} is not one of 0-4")
        label, start = int(m.group(1)), len(leaves)
        pos = m.end()
        if pos < n and text[pos] == "(":
            while pos < n and text[pos] == "(":
                node()
                skip_space()
        else:
            end = text.find(")", pos)
            leaf = text[pos:end].strip() if end >= 0 else ""
            if not leaf or "(" in leaf:
                raise fail("expected a word or a '(' subtree")
            leaves.append(leaf)
            pos = end
        if pos >= n or text[pos] != ")":
            raise fail("expected ')'")
        pos += 1
        nodes.append((label, start, len(leaves)))

    skip_space()
    node()
    skip_space()
    if pos != n:
        raise fail("text after the closing ')'")
    return leaves, nodes


def parse_tree(text, where="tree"):
    """(label, words, phrases) of one SST bracketed tree `(3 (2 a) (4 b))`: the root's label, its
    words, and every node as (label int, words) in post-order (leaves first, root last). A leaf is
    all the text up to its ')' (SST has leaves such as `8 1\\/2`)."""
    leaves, nodes = _parse(text, where)
    return nodes[-1][0], leaves, [(label, leaves[a:b]) for label, a, b in nodes]


def _sst_label(label, fine):
    if fine:
        return str(label)
    return None if label == 2 else ("negative" if label < 2 else "positive")


def read_sst(path: str, fine: bool = False, phrases: bool = False,
             trees: Optional[Collection[int]] = None) -> Dataset:
    """SST bracketed trees, one per line.

    Parameters
    ----------
    path : str
        train.txt or dev.txt.
    fine : bool
        SST-5 labels '0'..'4'; else SST-2 'negative' (0-1) / 'positive' (3-4) with neutral dropped.
    phrases : bool
        Every labelled node of every tree, each distinct phrase once (Kim's training set); else whole
        sentences only.
    trees : collection of int, optional
        Read only these trees (0-based line numbers); every other line is still checked.

    Returns
    -------
    Dataset
    """
    sentences, labels, seen, cache = [], [], set(), {}
    for i, line in enumerate(read_lines(path), 1):
        if not line.strip():
            raise ValueError(f"{path}:{i}: blank line; expected one bracketed tree per line")
        leaves, nodes = _parse(line, f"{path}:{i}")
        if trees is not None and i - 1 not in trees:
            continue
        # tokenize() never joins across a space, so a phrase's tokens are its leaves' tokens
        toks = [cache[w] if w in cache else cache.setdefault(w, tokenize(w)) for w in leaves]
        for label, a, b in (nodes if phrases else nodes[-1:]):
            name = _sst_label(label, fine)
            if name is None:
                continue
            tokens = [t for leaf in toks[a:b] for t in leaf]
            if phrases:
                key = " ".join(tokens)
                if not tokens or key in seen:
                    continue
                seen.add(key)
            sentences.append(tokens)
            labels.append(name)
    names = [str(k) for k in range(5)] if fine else ["negative", "positive"]
    return Dataset(sentences, labels, "sst5" if fine else "sst2", names)


def load_task(task: str, data_dir: str, fold: int = 0) -> Tuple[Dataset, Dataset]:
    """The train and dev sets of a task.

    CV tasks train on 9 folds and score `fold`; TREC holds out a fixed ~10% of its training file;
    SST trains on every phrase of train.txt and scores dev.txt's whole sentences.

    Parameters
    ----------
    task : str
        One of ``TASKS`` (mr, subj, cr, mpqa, trec, sst2, sst5).
    data_dir : str
        The classification folder (``<data>/classification``).
    fold : int
        The held-out fold of a cross-validation task (0-9).

    Returns
    -------
    train, dev : Dataset

    Raises
    ------
    ValueError, FileNotFoundError
        An unknown task or fold, missing files ("classification data not found").
    """
    if task in CV_TASKS:
        return cv_split(load_cv(task, data_dir), fold)
    if task == "trec":
        return split_dev(read_trec(os.path.join(data_dir, "trec", "TREC.train")))
    if task in ("sst2", "sst5"):
        fine = task == "sst5"
        return (read_sst(os.path.join(data_dir, "sst", "train.txt"), fine, phrases=True),
                read_sst(os.path.join(data_dir, "sst", "dev.txt"), fine, phrases=False))
    raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")


def sst_selection_split(data_dir: str, fine: bool = False, fraction: float = 0.1,
                        seed: int = FOLD_SEED) -> Tuple[Dataset, Dataset]:
    """A split of SST's train.txt for choosing settings without touching dev.txt: a seeded `fraction`
    of its trees held out as whole sentences, and every phrase of the other trees to train on (the
    held-out sentences' own phrases are not trained on).

    Parameters
    ----------
    data_dir : str
        The classification folder (``<data>/classification``).
    fine : bool
        SST-5 labels; else SST-2.
    fraction : float
        The share of train.txt's trees held out, in (0, 1).
    seed : int
        The held-out trees' draw (fixed; never a training seed).

    Returns
    -------
    train, selection : Dataset

    Raises
    ------
    ValueError
        fraction outside (0, 1).
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    path = os.path.join(data_dir, "sst", "train.txt")
    n = sum(1 for _ in read_lines(path))
    order = np.random.default_rng(seed).permutation(n)
    n_sel = int(round(n * fraction))
    held = set(order[:n_sel].tolist())
    return (read_sst(path, fine, phrases=True, trees=set(range(n)) - held),
            read_sst(path, fine, phrases=False, trees=held))


def default_data_dir() -> str:
    """The classification folder of the default data folder.

    Returns
    -------
    str
        ``$FASTNLP_DATA/classification``, else ``../shared/data/classification`` (from the working
        directory) when ../shared/data exists.

    Raises
    ------
    FileNotFoundError
        When neither exists, saying where to get the data.
    """
    from .._data import data_dir

    return os.path.join(data_dir(None, "classification"), "classification")
