"""Word2Vec's model file: save() / load() in fastnlp's safe format (the KeyedVectors format plus the
output vectors, the config and the training record; every field checked on load), and the word
vectors in word2vec.c's format.
"""

import math
import os

from typing import Any, Dict, Type, TypeVar, Union

import numpy as np

from .. import safeformat
from ..keyedvectors import KeyedVectors, load_npz, save_npz
from ._settings import _CONFIG_KEYS

W2V = TypeVar("W2V", bound="PersistenceMixin")  # load() returns an instance of the class it is called on


class PersistenceMixin:
    """Word2Vec's save / load (the class is in fastnlp.word2vec)."""

    def config(self) -> Dict[str, Any]:
        """The model's settings (the constructor's arguments that save() stores).

        Returns
        -------
        dict
            Setting name -> value.
        """
        return {k: getattr(self, k) for k in _CONFIG_KEYS}

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Everything needed to continue training, in fastnlp's safe format (no pickle).

        Parameters
        ----------
        path : str or os.PathLike
            The file, written atomically.

        Raises
        ------
        ValueError
            The model has no vocabulary yet, or something other than a regular file is at `path`.
        """
        if self.wv is None:
            raise ValueError("save: the model has no vocabulary yet")
        arrays = {"vectors": self.wv.vectors, "counts": self.wv.counts}
        if self.syn1neg is not None:
            arrays["syn1neg"] = self.syn1neg
        if self.syn1 is not None:
            arrays["syn1"] = self.syn1
        header = {"kind": "word2vec", "vector_size": self.vector_size, "count": len(self.wv),
                  "config": self.config(), "epochs_done": self.epochs_done, "corpus_stats": self.corpus_stats,
                  "training_history": _jsonable(self.training_history)}
        save_npz(path, header, self.wv.index_to_key, arrays)

    @classmethod
    def load(cls: Type[W2V], path: Union[str, os.PathLike]) -> W2V:
        """A model saved by save(). Every field is checked against what training assumes before
        the model is returned: the config by the same checks as the constructor's, counts >= 0
        summing to at most 2^62 (sums of counts never overflow), shapes against the vocabulary,
        vectors finite.

        Parameters
        ----------
        path : str or os.PathLike
            A file written by save().

        Returns
        -------
        Word2Vec
            Ready to train on (give it a corpus: a loaded model does not keep its corpus).

        Raises
        ------
        FileNotFoundError
            No file at `path`.
        ValueError
            Anything but a valid Word2Vec file, naming the file.
        """
        header, words, arrays = load_npz(path)
        path = os.fspath(path)

        def bad(why):
            return ValueError(f"{path}: not a valid fastnlp word2vec file ({why})")

        if header.get("kind") != "word2vec":
            raise ValueError(f"{path}: holds {header.get('kind')!r}, not a Word2Vec model (use KeyedVectors.load)")
        cfg = header.get("config")
        if not isinstance(cfg, dict) or "counts" not in arrays:
            raise bad("model config or counts missing")
        with safeformat.wrap_errors(path, bad, "config: "):
            model = cls(**{k: cfg[k] for k in _CONFIG_KEYS if k in cfg}, progress=True)
        V, D = arrays["vectors"].shape
        if V == 0:
            raise bad("the vocabulary is empty")
        if D != model.vector_size:
            raise bad(f"vectors have {D} dims, the config says vector_size={model.vector_size}")
        for key, expect in (("count", V), ("vector_size", D)):
            if key in header and header[key] != expect:
                raise bad(f"header {key}={header[key]!r} but the arrays hold {expect}")
        if model.negative > 0 and "syn1neg" not in arrays:
            raise bad(f"negative={model.negative} but syn1neg is missing")
        if model.hs and "syn1" not in arrays:
            raise bad("hs=1 but syn1 is missing")
        counts = arrays["counts"]
        if model.negative > 0 and not np.any(counts > 0):
            raise bad("every count is 0: negative sampling has no noise distribution")
        epochs_done = header.get("epochs_done", 0)
        if type(epochs_done) is not int or not 0 <= epochs_done < (1 << 62):
            raise bad(f"epochs_done must be an integer in [0, 2^62), got {epochs_done!r}")
        for key, kind in (("corpus_stats", dict), ("training_history", list)):
            if not isinstance(header.get(key, kind()), kind):
                raise bad(f"{key} must be a JSON {'object' if kind is dict else 'list'}, got {header[key]!r}")
        with safeformat.wrap_errors(path, bad):
            model._set_vocab(words, counts)  # counts >= 0, their sum <= 2^62: checked in C++ (Vocab)
        model.wv = KeyedVectors(words, np.ascontiguousarray(arrays["vectors"]), counts)
        model.syn1neg = np.ascontiguousarray(arrays["syn1neg"]) if model.negative > 0 else None
        model.syn1 = np.ascontiguousarray(arrays["syn1"]) if model.hs else None
        model.epochs_done = epochs_done
        model.corpus_stats = header.get("corpus_stats", {})
        model.training_history = header.get("training_history", [])
        return model

    def save_word2vec_format(self, path: Union[str, os.PathLike], binary: bool = False) -> None:
        """The word vectors in word2vec.c's format: ``wv.save_word2vec_format``.

        Parameters
        ----------
        path : str or os.PathLike
            The file, written atomically.
        binary : bool
            The binary format instead of the text one.

        Raises
        ------
        ValueError
            A word that the format cannot hold (empty or with ASCII whitespace).
        """
        self.wv.save_word2vec_format(path, binary=binary)


def _jsonable(x):
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.generic):
        return x.item()
    return x
