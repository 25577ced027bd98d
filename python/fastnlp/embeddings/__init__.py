"""Classic word representations besides word2vec (issue 18): co-occurrence counts, PPMI-SVD (LSA)
vectors, Collobert & Weston ranking embeddings and Brown clusters, each from a corpus file. The
command line is ``fastnlp embed`` (embeddings/cli.py).

Brown clustering lives in embeddings/brown.py (``brown_clusters``, ``BrownClusters``); its names
are imported on first use, so this package works where that module is not built."""

import importlib.util

from .cooccurrence import Cooccurrences, CSRMatrix, cooccurrence_matrix
from .cw import CWEmbeddings, cw_embeddings
from .ppmi_svd import ppmi, ppmi_svd, ppmi_svd_from_counts, randomized_svd

_BROWN = ("brown_clusters", "BrownClusters")

__all__ = ["Cooccurrences", "CSRMatrix", "cooccurrence_matrix", "ppmi", "ppmi_svd", "ppmi_svd_from_counts",
           "randomized_svd", "CWEmbeddings", "cw_embeddings"]
if importlib.util.find_spec(__name__ + ".brown") is not None:
    __all__ += _BROWN


def __getattr__(name):
    if name in _BROWN:
        from . import brown

        return getattr(brown, name)
    raise AttributeError(f"module 'fastnlp.embeddings' has no attribute {name!r}")
