"""A trained BiLSTM-CNN-CRF tagger (fastnlp.tagging.bilstm) behind the window Tagger's interface: `tag`,
`tag_batch`, `header`, `save` / `load` in the same safe file format (``fastnlp.tagger``, told apart by
the header's ``architecture``), and ``load_tagger("ner-bilstm")``."""

from __future__ import annotations

import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from .. import safeformat
from ..plots import TrainingCurveMixin
from .bilstm import BiLSTMCRF, Vocab, length_batches
from .network import decode_scores
from .schemes import SCHEMES, split_tag

ARCHITECTURE = "bilstm-cnn-crf"
DIMS = ("word_dim", "char_dim", "char_filters", "char_width", "hidden")
# The network's parameters in BiLSTMCRF.parameters() order, as the file names them.
PARAMS = ("word_table", "char_table", "conv_W", "conv_b",
          "lstm_fw_W_ih", "lstm_fw_W_hh", "lstm_fw_b_ih", "lstm_fw_b_hh",
          "lstm_bw_W_ih", "lstm_bw_W_hh", "lstm_bw_b_ih", "lstm_bw_b_hh",
          "out_W", "out_b", "transitions", "start")
BATCH_TOKENS = 4096   # inference runs sentences of similar length together, about this many tokens a call


def build_network(dims: Dict[str, int], num_words: int, num_chars: int, num_tags: int, dropout: float = 0.5,
                  seed: int = 0) -> BiLSTMCRF:
    """A BiLSTMCRF with the sizes of a header's ``dims``."""
    return BiLSTMCRF(num_words, num_chars, num_tags, dims["word_dim"], dims["char_dim"], dims["char_filters"],
                     dims["char_width"], dims["hidden"], dropout, seed)


class BiLSTMTagger(TrainingCurveMixin):
    """A trained BiLSTM-CNN-CRF tagger. `tag(tokens)` tags one sentence, `tag_batch(sentences)` many
    (sorted by length and run in batches of about BATCH_TOKENS tokens; the kernels use
    fastnlp.set_num_threads threads). Chunk and NER tags come out in well-formed IOB2: Viterbi never
    takes a move the scheme forbids.

    Parameters
    ----------
    header : dict
        At least task, tagset, scheme (None or an IOB scheme), dims (word_dim, char_dim, char_filters,
        char_width, hidden); the description (training_data, license, scores) for shipped models.
    vocab : Vocab
        The word and character lexicons.
    arrays : dict of str to numpy.ndarray
        The parameters by their PARAMS names (float16 or float32; kept as float32).

    Raises
    ------
    ValueError
        A missing parameter or one of the wrong shape.
    """

    def __init__(self, header: dict, vocab: Vocab, arrays: Dict[str, np.ndarray]) -> None:
        self.header = dict(header, architecture=ARCHITECTURE)
        self.tagset = list(header["tagset"])
        self.scheme = header.get("scheme")
        self.vocab = vocab
        self.net = build_network(header["dims"], vocab.num_words, vocab.num_chars, len(self.tagset), 0.0)
        for name, p in zip(PARAMS, self.net.parameters()):
            a = arrays.get(name)
            if a is None or a.shape != p.value.shape:
                raise ValueError(f"BiLSTMTagger: parameter {name} must have shape {p.value.shape}, got "
                                 f"{None if a is None else a.shape}")
            p.value[...] = a
        self.decode_transitions, self.decode_start = decode_scores(self.tagset, self.scheme,
                                                                   self.net.transitions.value, self.net.start.value)
        self._tag_names = np.asarray(self.tagset, dtype=object)
        self._source = None  # how pickle refers to this tagger (see Tagger.__reduce__)

    @classmethod
    def from_network(cls, header: dict, vocab: Vocab, net: BiLSTMCRF) -> "BiLSTMTagger":
        """A tagger holding a copy of a trained network's parameters."""
        return cls(header, vocab, {name: p.value for name, p in zip(PARAMS, net.parameters())})

    def arrays(self) -> Dict[str, np.ndarray]:
        """The parameters by their file names (the network's own arrays, not copies)."""
        return {name: p.value for name, p in zip(PARAMS, self.net.parameters())}

    def __reduce__(self):
        if self._source is not None:
            from .tagger import _unpickle_tagger

            return _unpickle_tagger, self._source
        return BiLSTMTagger, (self.header, self.vocab, self.arrays())

    @property
    def task(self) -> str:
        return self.header.get("task", "")

    @property
    def training_history(self) -> list:
        """One dict per epoch of the training run ({"epoch", "loss", "dev", "seconds"})."""
        return self.header.get("history", [])

    def _curve_title(self):
        return f"{self.task or 'tagger'} (BiLSTM-CNN-CRF): loss and dev score"

    def __repr__(self):
        d = self.header["dims"]
        return (f"BiLSTMTagger(task={self.task!r}, tags={len(self.tagset)}, words={len(self.vocab.words)}, "
                f"hidden={d['hidden']}, char_filters={d['char_filters']})")

    # ---- inference ---------------------------------------------------------------------------

    def predict_ids(self, sentences: Sequence[Sequence[str]]):
        """Best tag ids (N,) int32 in the sentences' order and their offsets (S+1,) int64."""
        batch = self.vocab.encode(sentences)  # checks the input
        pred = np.empty(len(batch.words), np.int32)
        for rows, sub in length_batches(batch, BATCH_TOKENS):
            pred[rows] = self.net.decode(sub, self.decode_transitions, self.decode_start)
        return pred, batch.offsets

    def tag_batch(self, sentences: Sequence[Sequence[str]]) -> List[List[str]]:
        """list[list[str]] of tags, one per token of each sentence (a list of str tokens).

        Parameters
        ----------
        sentences : list of list of str

        Returns
        -------
        list of list of str

        Raises
        ------
        TypeError
            When `sentences` is not a list of lists of str tokens.
        """
        pred, offsets = self.predict_ids(sentences)
        names = self._tag_names[pred].tolist()
        return [names[offsets[s]:offsets[s + 1]] for s in range(len(offsets) - 1)]

    def tag(self, tokens: Sequence[str]) -> List[str]:
        """Tags of one sentence (a list of str tokens)."""
        if isinstance(tokens, (str, bytes)):
            raise TypeError("tag: tokens must be a list of str tokens, got a string (tokenize it first)")
        return self.tag_batch([tokens])[0]

    # ---- file format -------------------------------------------------------------------------

    def save(self, path: "str | os.PathLike[str]") -> None:
        """fastnlp's safe format (no pickle), written atomically. The word table is stored as float16
        (half the size); the tagger read back converts it to float32."""
        from .tagger import FORMAT_NAME, FORMAT_VERSION

        arrays = {name: (a.astype(np.float16) if name == "word_table" else a.astype(np.float32))
                  for name, a in self.arrays().items()}
        arrays["words_utf8"], arrays["words_offsets"] = safeformat.encode_strings(self.vocab.words)
        arrays["chars_utf8"], arrays["chars_offsets"] = safeformat.encode_strings(self.vocab.chars)
        safeformat.save(path, FORMAT_NAME, FORMAT_VERSION, self.header, arrays)

    @classmethod
    def load(cls, path: "str | os.PathLike[str]", mmap: Optional[str] = None) -> "BiLSTMTagger":
        """Reads a file written by :meth:`save` (``Tagger.load`` and ``load_tagger`` also dispatch here).

        Parameters
        ----------
        path : str or os.PathLike
            The model file.
        mmap : {None, "r"}
            Passed to safeformat.load (the parameters are copied into the network either way).

        Returns
        -------
        BiLSTMTagger

        Raises
        ------
        FileNotFoundError
            When `path` does not exist.
        ValueError
            Naming the file and the problem, for anything but a valid BiLSTM tagger file.
        """
        from .tagger import FORMAT_NAME, FORMAT_VERSION

        header, arrays, bad = safeformat.load(path, FORMAT_NAME, FORMAT_VERSION, (), "fastnlp tagger file", mmap)
        return from_file_parts(header, arrays, bad, path)


def from_file_parts(header: dict, arrays: Dict[str, np.ndarray], bad, path) -> BiLSTMTagger:
    """A BiLSTMTagger from a tagger file's header and arrays, every part checked (``bad(why)`` builds
    the error naming the file)."""
    if header.get("architecture") != ARCHITECTURE:
        raise bad(f"architecture must be {ARCHITECTURE!r}, got {header.get('architecture')!r:.100}")
    for key in ("tagset", "dims"):
        if key not in header:
            raise bad(f"header lacks '{key}'")
    tagset, dims, scheme = header["tagset"], header["dims"], header.get("scheme")
    if not (isinstance(tagset, list) and tagset and all(isinstance(t, str) for t in tagset)
            and len(set(tagset)) == len(tagset)):
        raise bad(f"tagset must be a list of distinct strings, got {tagset!r:.100}")
    if not (isinstance(dims, dict) and set(dims) == set(DIMS)
            and all(type(v) is int and 0 < v <= 1 << 14 for v in dims.values())):
        raise bad(f"dims must map {', '.join(DIMS)} to positive integers, got {dims!r:.200}")
    if scheme is not None:
        if scheme not in SCHEMES:
            raise bad(f"scheme must be null or one of {', '.join(SCHEMES)}, got {scheme!r:.100}")
        try:
            for tag in tagset:
                split_tag(tag, scheme)
        except ValueError as e:
            raise bad(str(e)) from e
    for member in ("words_utf8", "words_offsets", "chars_utf8", "chars_offsets") + PARAMS:
        if member not in arrays:
            raise bad(f"member '{member}' is missing")
    words = safeformat.decode_strings(arrays["words_utf8"], arrays["words_offsets"], bad)
    chars = safeformat.decode_strings(arrays["chars_utf8"], arrays["chars_offsets"], bad)
    try:
        vocab = Vocab(words, chars)
    except ValueError as e:
        raise bad(str(e)) from e
    V, C, K = vocab.num_words, vocab.num_chars, len(tagset)
    D, H, F = dims["word_dim"] + dims["char_filters"], dims["hidden"], dims["char_filters"]
    expected = {"word_table": (V, dims["word_dim"]), "char_table": (C, dims["char_dim"]),
                "conv_W": (F, dims["char_width"] * dims["char_dim"]), "conv_b": (F,),
                "out_W": (K, 2 * H), "out_b": (K,), "transitions": (K, K), "start": (K,)}
    for d in ("fw", "bw"):
        expected.update({f"lstm_{d}_W_ih": (4 * H, D), f"lstm_{d}_W_hh": (4 * H, H), f"lstm_{d}_b_ih": (4 * H,),
                         f"lstm_{d}_b_hh": (4 * H,)})
    for name in PARAMS:
        a = arrays[name]
        kinds = (np.float16, np.float32) if name == "word_table" else (np.float32,)
        if a.dtype not in kinds or a.shape != expected[name]:
            raise bad(f"{name} must be {' or '.join(np.dtype(k).name for k in kinds)} {expected[name]}, "
                      f"got {a.dtype} {a.shape}")
        if not np.all(np.isfinite(a)):
            raise bad(f"{name} holds NaN or infinity")
    tagger = BiLSTMTagger(header, vocab, {name: arrays[name] for name in PARAMS})
    from .tagger import _file_stamp

    tagger._source = ("file", os.path.abspath(path), _file_stamp(path))
    return tagger
