"""Brown clustering (Brown et al. 1992) as in Liang 2005, "Semi-supervised learning for natural
language", ch. 3: the agglomerative class-bigram clustering with a window of C active clusters.

Words enter by descending frequency. The first C + 1 are clusters; each step merges the pair of
active clusters whose merge loses the least average mutual information (AMI) of the class bigram
model, then the next word enters as a cluster of its own; once every word has entered, the C
remaining clusters are merged down to one, and those last C - 1 merges are the hierarchy: a word's
bit string is the path from the root to its cluster (0 for the cluster holding the more frequent
word, 1 for the other). The C++ clusterer (csrc/models/brown.cpp) keeps the loss table L(c, c')
up to date in O(C^2) per merge, O(V C^2) in all after O(C^3) to start (V words, C clusters);
``brown_merges_ref`` below recomputes the AMI from the counts for every candidate at every step,
the oracle of the tests.

Statistics (both implementations): a corpus is whitespace-separated tokens, one sentence per line;
words with count >= min_count are kept; n(x, y) counts adjacent kept tokens x y within a line (a
dropped word breaks the adjacency). With N1 kept tokens and N2 bigrams, p(x) = n(x) / N1,
p(x, y) = n(x, y) / N2, q(x, y) = p(x, y) log(p(x, y) / (p(x) p(y))) and AMI = sum_{x, y} q(x, y).
Ties: losses within 1e-9 * |smallest| + 1e-13 nats of the smallest are equal, and the pair whose
(smaller, larger) representatives -- the smallest word id (frequency rank) in each cluster -- come
first wins.

File format (Liang's wcluster ``paths``): one line per word, ``bitstring<TAB>word<TAB>count``.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import Counter
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .. import _C
from .._atomic import atomic_write

TIE_TOLERANCE = 1e-9
TIE_FLOOR = 1e-13


class BrownClusters:
    """Brown clusters: each word's bit string (its path in the merge tree) and corpus count.

    Parameters
    ----------
    paths : dict
        word -> bit string of '0'/'1' (non-empty).
    counts : dict
        word -> count (>= 0); the same words as ``paths``.
    merges : numpy.ndarray, optional
        (V - 1, 2) int32, the merges in order as pairs of cluster representatives (word ids in
        ``words`` order), when the clusters were computed rather than loaded.
    """

    def __init__(self, paths: Dict[str, str], counts: Dict[str, int], merges: Optional[np.ndarray] = None,
                 losses: Optional[np.ndarray] = None, words: Optional[List[str]] = None):
        if set(paths) != set(counts):
            raise ValueError("BrownClusters: paths and counts must hold the same words")
        for word, path in paths.items():
            if not path or path.strip("01"):
                raise ValueError(f"BrownClusters: the path of {word!r} must be a non-empty bit string, got {path!r}")
        self.paths = dict(paths)
        self.counts = dict(counts)
        self.merges = merges
        self.losses = losses
        self.words = list(words) if words is not None else sorted(paths, key=lambda w: (-counts[w], w))

    def __len__(self) -> int:
        return len(self.paths)

    def __contains__(self, word: str) -> bool:
        return word in self.paths

    @property
    def num_clusters(self) -> int:
        """Distinct bit strings (the C clusters, or V when there are fewer words)."""
        return len(set(self.paths.values()))

    def __repr__(self) -> str:
        return f"BrownClusters(words={len(self)}, clusters={self.num_clusters})"

    def prefix(self, word: str, n: int) -> Optional[str]:
        """The first n bits of word's path (all of it when shorter); None for an unknown word.

        Parameters
        ----------
        word : str
        n : int
            Prefix length, >= 1.

        Returns
        -------
        str or None

        Raises
        ------
        ValueError
            When n < 1.
        """
        if type(n) is not int or n < 1:
            raise ValueError(f"BrownClusters.prefix: n must be an int >= 1, got {n!r}")
        path = self.paths.get(word)
        return None if path is None else path[:n]

    def save(self, path: str | os.PathLike) -> None:
        """Writes ``bitstring<TAB>word<TAB>count`` lines (sorted by bit string, then by descending
        count), atomically.

        Parameters
        ----------
        path : str or os.PathLike
        """
        for w in self.paths:
            if not w or any(ch in w for ch in "\t\n\r"):
                raise ValueError(f"BrownClusters.save: word {w!r} is empty or holds a tab or line break, "
                                 "which the paths format uses as separators")
        order = sorted(self.paths, key=lambda w: (self.paths[w], -self.counts[w], w))
        text = "".join(f"{self.paths[w]}\t{w}\t{self.counts[w]}\n" for w in order)
        with atomic_write(path, "BrownClusters.save") as f:
            f.write(text.encode("utf-8"))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "BrownClusters":
        """Reads a paths file written by ``save`` or by Liang's wcluster.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        BrownClusters

        Raises
        ------
        ValueError
            Naming the file and line: not three tab-separated fields, a bit string that is not
            made of 0 and 1, a count that is not a non-negative integer, a word listed twice, or
            an empty file.
        """
        paths, counts = {}, {}
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                where = f"BrownClusters.load: {os.fspath(path)!s}, line {lineno}"
                fields = line.split("\t")
                if len(fields) != 3:
                    raise ValueError(f"{where}: expected 'bitstring<TAB>word<TAB>count', got {len(fields)} "
                                     f"field(s): {line[:80]!r}")
                bits, word, count = fields
                if not bits or bits.strip("01"):
                    raise ValueError(f"{where}: the bit string must be made of 0 and 1, got {bits[:80]!r}")
                if not word:
                    raise ValueError(f"{where}: the word is empty")
                if not (count.isascii() and count.isdigit()):
                    raise ValueError(f"{where}: the count must be a non-negative integer, got {count[:80]!r}")
                if word in paths:
                    raise ValueError(f"{where}: {word[:80]!r} is listed twice")
                paths[word], counts[word] = bits, int(count)
        if not paths:
            raise ValueError(f"BrownClusters.load: {os.fspath(path)!s} holds no clusters")
        return cls(paths, counts)


def paths_from_merges(num_words: int, merges: Sequence[Tuple[int, int]], num_clusters: int) -> List[str]:
    """Each word's bit string from the merge sequence.

    Parameters
    ----------
    num_words : int
        V, the words (ids 0 .. V-1 by descending count).
    merges : sequence of (int, int)
        The V - 1 merges as (smaller, larger) cluster representatives.
    num_clusters : int
        C: the first max(0, V - C) merges join words into clusters, the rest build the hierarchy.

    Returns
    -------
    list of str
        The bit string of each word id.

    Raises
    ------
    ValueError
        When the merges are not V - 1 pairs of live representatives.
    """
    V = num_words
    if len(merges) != V - 1:
        raise ValueError(f"paths_from_merges: expected {V - 1} merges for {V} words, got {len(merges)}")
    phase1 = max(0, V - num_clusters)
    parent = list(range(V))  # union-find over words; a root is its cluster's representative

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    node_of = {}  # representative -> its node in the hierarchy
    children = []  # node -> (left, right), or None for a leaf (one of the final clusters)
    for k, (ri, rj) in enumerate(merges):
        ri, rj = int(ri), int(rj)
        if not (0 <= ri < rj < V and find(ri) == ri and find(rj) == rj):
            raise ValueError(f"paths_from_merges: merge {k} ({ri}, {rj}) does not join two live clusters")
        if k == phase1:
            leaf_rep = [find(w) for w in range(V)]  # each word's final cluster
            for r in sorted(set(leaf_rep)):
                node_of[r] = len(children)
                children.append(None)
        if k >= phase1:
            children.append((node_of.pop(ri), node_of.pop(rj)))
            node_of[ri] = len(children) - 1
        parent[rj] = ri
    path_of = {}
    stack = [(len(children) - 1, "")]
    while stack:
        node, path = stack.pop()
        if children[node] is None:
            path_of[node] = path
        else:
            stack.append((children[node][0], path + "0"))
            stack.append((children[node][1], path + "1"))
    leaf_node = {r: k for k, r in enumerate(sorted(set(leaf_rep)))}
    return [path_of[leaf_node[leaf_rep[w]]] for w in range(V)]


def brown_clusters(corpus_path: str | os.PathLike, num_clusters: int = 1000, min_count: int = 1,
                   threads: Optional[int] = None, progress: bool = True) -> BrownClusters:
    """Brown clusters of a corpus file (whitespace-separated tokens, one sentence per line).

    Parameters
    ----------
    corpus_path : str or os.PathLike
        A UTF-8 text file.
    num_clusters : int
        C, the active clusters and the clusters of the result (>= 2).
    min_count : int
        Words seen fewer times are left out (>= 1).
    threads : int, optional
        Threads for the loss-table updates (default: fastnlp.get_num_threads()).
    progress : bool
        Show a tqdm bar over the merges (a line on stderr when tqdm is missing).

    Returns
    -------
    BrownClusters

    Raises
    ------
    ValueError
        On a bad argument (named), a file that is not UTF-8, or fewer than 2 words with
        count >= min_count.
    FileNotFoundError / OSError
        When the file cannot be read.
    KeyboardInterrupt
        Ctrl-C stops the clustering (the worker thread is stopped and joined first).
    """
    if type(num_clusters) is not int or num_clusters < 2:
        raise ValueError(f"brown_clusters: num_clusters must be an int >= 2, got {num_clusters!r}")
    if type(min_count) is not int or min_count < 1:
        raise ValueError(f"brown_clusters: min_count must be an int >= 1, got {min_count!r}")
    if threads is None:
        threads = _C.get_num_threads()
    if type(threads) is not int or threads < 1:
        raise ValueError(f"brown_clusters: threads must be an int >= 1, got {threads!r}")
    path = os.fspath(corpus_path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"brown_clusters: corpus_path {path!r} is not a file")
    job = _C.BrownClusterer(path, min_count, num_clusters, threads)
    bar = _Progress(progress)
    job.start()
    try:
        while not job.wait(0.2):
            bar.update(*job.progress())
    except KeyboardInterrupt:
        job.stop()
        job.wait()
        raise
    finally:
        bar.close()
    r = job.result()
    words, counts, merges = r["words"], r["counts"].tolist(), r["merges"]
    bits = paths_from_merges(len(words), merges.tolist(), num_clusters)
    return BrownClusters(dict(zip(words, bits)), dict(zip(words, counts)), merges, r["losses"], words)


class _Progress:
    """A tqdm bar over the merges; a line on stderr per 10% when tqdm is missing; nothing when off."""

    def __init__(self, enabled: bool):
        self.enabled = bool(enabled)
        self.bar = None
        self.done = 0
        self.t0 = time.perf_counter()
        self.last_tenth = -1

    def update(self, phase: int, done: int, total: int) -> None:
        if not self.enabled or phase == 0 or total <= 0:
            return
        if self.bar is None:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, unit="merge", desc="brown")
            except ImportError:
                self.bar = False
        if self.bar:
            self.bar.update(done - self.done)
            self.done = done
        elif done * 10 // total != self.last_tenth:
            self.last_tenth = done * 10 // total
            print(f"brown: {done}/{total} merges, {time.perf_counter() - self.t0:.0f} s", file=sys.stderr)

    def close(self) -> None:
        if self.bar:
            self.bar.close()


# ---- the reference (tests) ------------------------------------------------------------------------

def corpus_statistics(lines: Iterable[str], min_count: int):
    """(words, counts, bigrams) of the module docstring's statistics: words by descending count
    (ties by first appearance), bigrams a Counter of (id, id) pairs of adjacent kept tokens."""
    sentences = [line.split() for line in lines]
    c = Counter(t for s in sentences for t in s)  # insertion order = first appearance
    words = [w for w, n in sorted(c.items(), key=lambda kv: -kv[1]) if n >= min_count]
    ids = {w: i for i, w in enumerate(words)}
    bigrams = Counter()
    for s in sentences:
        for a, b in zip(s, s[1:]):
            if a in ids and b in ids:
                bigrams[ids[a], ids[b]] += 1
    return words, [c[w] for w in words], bigrams


def _ami(clusters, counts, bigrams, N1, N2):
    cluster_of = {w: k for k, members in enumerate(clusters) for w in members}
    n = [sum(counts[w] for w in members) for members in clusters]
    nb = Counter()
    for (a, b), m in bigrams.items():
        if a in cluster_of and b in cluster_of:
            nb[cluster_of[a], cluster_of[b]] += m
    return sum((m / N2) * math.log((m / N2) / ((n[x] / N1) * (n[y] / N1))) for (x, y), m in nb.items())


def brown_merges_ref(lines: Iterable[str], num_clusters: int, min_count: int = 1):
    """The same clustering by exhaustive recomputation: at every step the AMI after every candidate
    merge is computed from the counts. O(V C^4) with dictionaries: tiny corpora only.

    Returns (words, counts, merges, losses) as the C++ clusterer gives them.
    """
    words, counts, bigrams = corpus_statistics(lines, min_count)
    V, C = len(words), num_clusters
    N1, N2 = sum(counts), sum(bigrams.values())
    active = [[w] for w in range(min(V, C + 1))]
    next_word = len(active)
    merges, losses = [], []
    while len(active) > 1:
        now = _ami(active, counts, bigrams, N1, N2)
        cand = []
        for p in range(len(active)):
            for q in range(p + 1, len(active)):
                merged = [c for k, c in enumerate(active) if k not in (p, q)] + [active[p] + active[q]]
                cand.append((now - _ami(merged, counts, bigrams, N1, N2), p, q))
        lmin = min(c[0] for c in cand)
        bound = lmin + TIE_TOLERANCE * abs(lmin) + TIE_FLOOR
        loss, p, q = min((c for c in cand if c[0] <= bound),
                         key=lambda c: tuple(sorted((min(active[c[1]]), min(active[c[2]])))))
        ri, rj = sorted((min(active[p]), min(active[q])))
        merges.append((ri, rj))
        losses.append(loss)
        active[p] = active[p] + active[q]
        del active[q]
        if next_word < V:
            active.append([next_word])
            next_word += 1
    return words, counts, merges, losses
