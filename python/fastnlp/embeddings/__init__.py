"""Classic word representations besides word2vec (issue 18): Brown clusters (``brown``)."""

from .brown import BrownClusters, brown_clusters

__all__ = ["BrownClusters", "brown_clusters"]
