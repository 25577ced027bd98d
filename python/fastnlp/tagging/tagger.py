"""Trained window taggers: the fast inference path (C++ featurizer -> fused window network -> Viterbi or
argmax), the safe model file, and the pretrained models that ship inside the package."""

from __future__ import annotations

import os
from typing import List, Optional

import numpy as np

from .. import ops, safeformat
from ..plots import TrainingCurveMixin
from . import _fast
from . import features as feat
from .network import decode_scores
from .schemes import SCHEMES, split_tag

FORMAT_NAME = "fastnlp.tagger"
FORMAT_VERSION = 1
PRETRAINED_DIR = os.path.join(os.path.dirname(__file__), "pretrained")
PRETRAINED = ("pos", "chunk", "ner", "upos")
PRETRAINED_BILSTM = ("pos-bilstm", "chunk-bilstm", "ner-bilstm", "upos-bilstm")  # BiLSTM-CNN-CRF (bilstm_tagger.py)
SUFFIX = ".safetensors"   # the pretrained files' extension (fastnlp <= 0.1 shipped .npz)


class Tagger(TrainingCurveMixin):
    """A trained window tagger. `tag(tokens)` tags one sentence, `tag_batch(sentences)` many (faster per
    token: one featurizer call, one fused network call, one decode call, all in C++ with the GIL
    released). Chunk and NER tags come out in IOB2.

    `header` describes the model: task, families, dims, window, tagset, scheme, and where the training
    data came from (name, license) for the pretrained ones. A tagger with clusterN families holds its
    cluster map `clusters` ({normalized word: Brown bit string}) and saves it in its model file.

    Inference reads the weights once, here: the scorer caches the first layer's contribution of each
    frequent feature id (about 24 MB). Build a new Tagger after changing the arrays.

    Parameters
    ----------
    header : dict
        At least families, dims, window, tagset; scheme (None or an IOB scheme) and the description.
    lexicons : list of list of str
        Per family, its entries in id order from 2 (caps: []).
    tables : list of numpy.ndarray
        Per family, its (entries + 2, dim) embedding table (float16 or float32).
    W1, b1, W2, b2 : numpy.ndarray
        The window network: (H, window * sum(dims)), (H,), (K, H), (K,), float32.
    transitions, start : numpy.ndarray, optional
        (K, K) and (K,) Viterbi scores of a sentence-level model (None: word-level).

    Pickling is by reference, never through pickle's object graph of the C++ state: a pretrained
    tagger pickles as its name, one read from a file as that file's path (unpickling checks that
    the file's size and modification time are unchanged), any other one as its header, lexicons
    (str) and arrays (plain ndarrays). An unpickled tagger runs on the CPU.

    Thread safety: tag / tag_batch / predict_ids / scores may run in several threads at once on
    one Tagger (CPU path): the featurizer and the scorer are read-only after construction and
    every call has its own scratch. cuda() / cpu() must not run concurrently with tagging.
    """

    def __init__(self, header: dict, lexicons: List[List[str]], tables: List[np.ndarray], W1: np.ndarray,
                 b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, transitions: Optional[np.ndarray] = None,
                 start: Optional[np.ndarray] = None,
                 clusters: Optional[dict] = None) -> None:
        self.header = dict(header)
        self.families = tuple(header["families"])
        self.clusters = dict(clusters) if clusters else {}
        if any(feat.is_cluster_family(f) for f in self.families) and not self.clusters:
            raise ValueError("Tagger: the clusterN families need `clusters`, a dict word -> bit string")
        self.window = int(header["window"])
        self.tagset = list(header["tagset"])
        self.lexicons = lexicons
        self.tables = [np.ascontiguousarray(t, dtype=np.float32) for t in tables]
        self.W1, self.b1, self.W2, self.b2 = (np.ascontiguousarray(a, dtype=np.float32) for a in (W1, b1, W2, b2))
        self.transitions = None if transitions is None else np.ascontiguousarray(transitions, np.float32)
        self.start = None if start is None else np.ascontiguousarray(start, np.float32)
        self.scheme = header.get("scheme")
        self.decode_transitions, self.decode_start = decode_scores(self.tagset, self.scheme, self.transitions,
                                                                   self.start)
        self._featurizer = _fast.Featurizer(list(self.families), [list(lex) for lex in lexicons], self.clusters)
        # The network with its first layer cached per frequent feature id: a snapshot of the weights
        # above (changing them later does not reach it).
        self._scorer = _fast.WindowScorer(self.tables, self.W1, self.b1, self.W2, self.b2, self.window)
        self._tag_names = np.asarray(self.tagset, dtype=object)
        self._gpu = None
        self._source = None  # how pickle refers to this tagger: see __reduce__

    def __reduce__(self):
        if self._source is not None:
            return _unpickle_tagger, self._source
        return Tagger, (self.header, self.lexicons, self.tables, self.W1, self.b1, self.W2, self.b2,
                        self.transitions, self.start, self.clusters or None)

    def cuda(self):
        """Runs the network on the GPU from now on (features stay on the CPU); returns self.
        RuntimeError when fastnlp.cuda_available() is False."""
        from .gpu import GpuWindowNetwork

        self._gpu = GpuWindowNetwork(self)
        return self

    def cpu(self):
        """Back to the CPU path; returns self."""
        self._gpu = None
        return self

    @property
    def task(self):
        return self.header.get("task", "")

    @property
    def training_history(self) -> list:
        """One dict per epoch of the training run that chose the model ({"epoch", "loss", "dev", ...})."""
        return self.header.get("history", [])

    def _curve_title(self):
        return f"{self.task or 'tagger'}: loss and dev score"

    def __repr__(self):
        return (f"Tagger(task={self.task!r}, tags={len(self.tagset)}, families={list(self.families)}, "
                f"window={self.window}, sll={self.transitions is not None})")

    # ---- inference ---------------------------------------------------------------------------

    def featurize(self, sentences):
        """(ids int32 (N, F), offsets int64 (S+1)) for a list of token lists."""
        return self._featurizer.featurize(sentences)

    def scores(self, sentences):
        """Tag scores (N, K) and offsets (S+1) for a list of token lists."""
        ids, offsets = self.featurize(sentences)
        return self._scorer.scores(ids, offsets), offsets

    def predict_ids(self, sentences):
        """Best tag ids (N,) int32 and offsets (S+1)."""
        ids, offsets = self.featurize(sentences)
        if self._gpu is not None:
            return self._gpu.predict_ids(ids, offsets), offsets
        if self.decode_transitions is None:  # word-level, no chunk scheme: the argmax runs in C++
            return self._scorer.predict(ids, offsets), offsets
        pred, _ = ops.viterbi_decode(self._scorer.scores(ids, offsets), offsets, self.decode_transitions,
                                     self.decode_start)
        return pred, offsets

    def tag_batch(self, sentences):
        """list[list[str]] of tags, one per token of each sentence (a list of str tokens)."""
        pred, offsets = self.predict_ids(sentences)  # the featurizer checks the input
        names = self._tag_names[pred].tolist()
        return [names[offsets[s]:offsets[s + 1]] for s in range(len(offsets) - 1)]

    def tag(self, tokens):
        """Tags of one sentence (a list of str tokens)."""
        return self.tag_batch([tokens])[0]

    # ---- file format -------------------------------------------------------------------------

    def save(self, path):
        """fastnlp's safe format (no pickle), written atomically. The word table is stored as float16
        (half the size; tagging accuracy is unchanged, see tests)."""
        arrays = {"W1": self.W1, "b1": self.b1, "W2": self.W2, "b2": self.b2}
        for f, (table, lexicon) in enumerate(zip(self.tables, self.lexicons)):
            arrays[f"table_{f}"] = table.astype(np.float16) if self.families[f] == "word" else table
            arrays[f"lexicon_{f}_utf8"], arrays[f"lexicon_{f}_offsets"] = safeformat.encode_strings(lexicon)
        if self.transitions is not None:
            arrays["transitions"], arrays["start"] = self.transitions, self.start
        if self.clusters:
            arrays["cluster_words_utf8"], arrays["cluster_words_offsets"] = safeformat.encode_strings(self.clusters)
            arrays["cluster_paths_utf8"], arrays["cluster_paths_offsets"] = safeformat.encode_strings(
                self.clusters.values())
        safeformat.save(path, FORMAT_NAME, FORMAT_VERSION, self.header, arrays)

    @classmethod
    def load(cls, path: "str | os.PathLike[str]", mmap: Optional[str] = None) -> "Tagger":
        """Reads a file written by :meth:`save` (also the .npz files of fastnlp <= 0.1).

        Parameters
        ----------
        path : str or os.PathLike
            The model file.
        mmap : {None, "r"}
            ``"r"``: the float32 weights (W1, b1, W2, b2, transitions, float32 tables) are read-only
            maps of the file, not copies; the scorer still builds its own cache from them. The file
            is checked in full either way.

        Returns
        -------
        Tagger

        Raises
        ------
        FileNotFoundError
            When `path` does not exist.
        ValueError
            Naming the file and the problem, for anything but a valid tagger file.
        """
        stamp = _file_stamp(path) if os.path.exists(path) else None  # before reading: a later change shows
        header, arrays, bad = safeformat.load(path, FORMAT_NAME, FORMAT_VERSION, (), "fastnlp tagger file", mmap)
        if header.get("architecture", "window") != "window":  # a BiLSTM-CNN-CRF tagger's file
            from .bilstm_tagger import from_file_parts

            return from_file_parts(header, arrays, bad, path)
        for member in ("W1", "b1", "W2", "b2"):
            if member not in arrays:
                raise bad(f"member '{member}' is missing")
        for key in ("families", "dims", "window", "tagset"):
            if key not in header:
                raise bad(f"header lacks '{key}'")
        families, dims, tagset, window = header["families"], header["dims"], header["tagset"], header["window"]
        if not (isinstance(families, list) and isinstance(dims, list) and len(families) == len(dims) > 0):
            raise bad("families and dims must be lists of the same length")
        if not all(type(d) is int and 0 < d <= 1 << 16 for d in dims):
            raise bad(f"dims must be positive integers, got {dims!r:.100}")
        if not (type(window) is int and 0 < window <= 1001 and window % 2 == 1):
            raise bad(f"window must be an odd positive integer, got {window!r:.100}")
        if not (isinstance(tagset, list) and tagset and all(isinstance(t, str) for t in tagset)
                and len(set(tagset)) == len(tagset)):
            raise bad(f"tagset must be a list of distinct strings, got {tagset!r:.100}")
        scheme = header.get("scheme")
        if scheme is not None and scheme not in SCHEMES:
            raise bad(f"scheme must be null or one of {', '.join(SCHEMES)}, got {scheme!r:.100}")
        with safeformat.wrap_errors(path, bad):
            for family in families:
                feat.check_family(family)
            if scheme is not None:
                for tag in tagset:
                    split_tag(tag, scheme)
        tables, lexicons = [], []
        for f, (family, dim) in enumerate(zip(families, dims)):
            for member in (f"table_{f}", f"lexicon_{f}_utf8", f"lexicon_{f}_offsets"):
                if member not in arrays:
                    raise bad(f"member '{member}' is missing")
            lexicon = safeformat.decode_strings(arrays[f"lexicon_{f}_utf8"], arrays[f"lexicon_{f}_offsets"], bad)
            size = feat.CAPS_SIZE if family == "caps" else feat.FIRST_ENTRY + len(lexicon)
            table = arrays[f"table_{f}"]
            if table.dtype not in (np.float16, np.float32) or table.shape != (size, dim):
                raise bad(f"table_{f} ({family}) must be float ({size}, {dim}), got {table.dtype} {table.shape}")
            tables.append(table)
            lexicons.append(lexicon)
        clusters = None
        if any(feat.is_cluster_family(f) for f in families):
            for member in ("cluster_words_utf8", "cluster_words_offsets", "cluster_paths_utf8",
                           "cluster_paths_offsets"):
                if member not in arrays:
                    raise bad(f"member '{member}' is missing (the clusterN families need the cluster map)")
            words = safeformat.decode_strings(arrays["cluster_words_utf8"], arrays["cluster_words_offsets"], bad)
            paths = safeformat.decode_strings(arrays["cluster_paths_utf8"], arrays["cluster_paths_offsets"], bad)
            if len(words) != len(paths) or not words or len(set(words)) != len(words):
                raise bad("the cluster map must hold distinct words, one bit string each")
            for w, p in zip(words, paths):
                if not p or p.strip("01"):
                    raise bad(f"the cluster path of {w[:80]!r} must be a non-empty string of 0 and 1, got {p[:80]!r}")
            clusters = dict(zip(words, paths))
        K, H = len(tagset), arrays["W1"].shape[0] if arrays["W1"].ndim == 2 else -1
        expected = {"W1": (H, window * sum(dims)), "b1": (H,), "W2": (K, H), "b2": (K,)}
        if "transitions" in arrays or "start" in arrays:
            expected.update(transitions=(K, K), start=(K,))
        for name, shape in expected.items():
            a = arrays.get(name)
            if a is None or a.dtype != np.float32 or a.shape != shape:
                got = "missing" if a is None else f"{a.dtype} {a.shape}"
                raise bad(f"{name} must be float32 {shape}, got {got}")
        for name, a in arrays.items():
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise bad(f"{name} holds NaN or infinity")
        tagger = cls(header, lexicons, tables, arrays["W1"], arrays["b1"], arrays["W2"], arrays["b2"],
                     arrays.get("transitions"), arrays.get("start"), clusters)
        tagger._source = ("file", os.path.abspath(path), stamp)
        return tagger


def pretrained_path(name: str) -> str:
    """The file of a pretrained model shipped with fastnlp.

    Parameters
    ----------
    name : str
        One of ``PRETRAINED`` ("pos", "chunk", "ner", "upos").

    Returns
    -------
    str
        ``<package>/tagging/pretrained/<name>.safetensors`` (which may be missing from a broken
        installation).
    """
    return os.path.join(PRETRAINED_DIR, f"{name}{SUFFIX}")


def load_tagger(name_or_path: "str | os.PathLike[str]", mmap: Optional[str] = "r") -> "Tagger | BiLSTMTagger":
    """A pretrained tagger shipped with fastnlp, or one saved at a path.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        "pos", "chunk", "ner", "upos" (window taggers), "pos-bilstm", "chunk-bilstm", "ner-bilstm",
        "upos-bilstm" (BiLSTM-CNN-CRF taggers), or the path of a file written by a tagger's save.
    mmap : {"r", None}
        ``"r"`` (default) maps the weights from the file instead of copying them
        (see :meth:`Tagger.load`); None reads them into memory.

    Returns
    -------
    Tagger or BiLSTMTagger

    Raises
    ------
    FileNotFoundError
        When a pretrained model is missing from the installation.
    ValueError
        When `name_or_path` is neither a pretrained name nor an existing file, or the file is not
        a valid tagger.
    """
    if name_or_path in PRETRAINED or name_or_path in PRETRAINED_BILSTM:
        path = pretrained_path(name_or_path)
        if not os.path.exists(path):
            task, _, bilstm = name_or_path.partition("-")
            raise FileNotFoundError(f"load_tagger: the pretrained {name_or_path!r} model is missing from this "
                                    f"installation ({path}); rebuild it with `python -m fastnlp.tagging."
                                    f"{'train_bilstm' if bilstm else 'train'} {task}`")
        tagger = Tagger.load(path, mmap)
        tagger._source = ("pretrained", name_or_path)
        return tagger
    if isinstance(name_or_path, (str, os.PathLike)) and os.path.exists(name_or_path):
        return Tagger.load(name_or_path, mmap)
    raise ValueError(f"load_tagger: expected one of {list(PRETRAINED)}, {list(PRETRAINED_BILSTM)} or the path of a "
                     f"saved tagger, got {name_or_path!r}")


def _file_stamp(path):
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def _unpickle_tagger(kind, name_or_path, stamp=None):
    """Rebuilds a pickled Tagger from its reference (Tagger.__reduce__)."""
    if kind == "pretrained":
        return load_tagger(name_or_path)
    if kind == "file":
        try:
            now = _file_stamp(name_or_path)
        except OSError as e:
            raise FileNotFoundError(f"unpickling a Tagger: its file {name_or_path} cannot be read here ({e})") from e
        if tuple(stamp) != now:
            raise ValueError(f"unpickling a Tagger: its file {name_or_path} changed since the tagger was pickled "
                             f"(size, mtime_ns {tuple(stamp)} then, {now} now)")
        return Tagger.load(name_or_path)
    raise ValueError(f"unpickling a Tagger: unknown reference kind {kind!r}")
