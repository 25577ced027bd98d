"""Classic word representations besides word2vec (issue 18): co-occurrence counts, PPMI-SVD (LSA)
vectors, Collobert & Weston ranking embeddings and Brown clusters, each from a corpus file. The
command line is ``fastnlp embed`` (embeddings/cli.py)."""

from .brown import BrownClusters, brown_clusters
from .cooccurrence import Cooccurrences, CSRMatrix, cooccurrence_matrix
from .cw import CWEmbeddings, cw_embeddings
from .ppmi_svd import ppmi, ppmi_svd, ppmi_svd_from_counts, randomized_svd

__all__ = ["Cooccurrences", "CSRMatrix", "cooccurrence_matrix", "ppmi", "ppmi_svd", "ppmi_svd_from_counts",
           "randomized_svd", "CWEmbeddings", "cw_embeddings", "BrownClusters", "brown_clusters"]
