"""The log-uniform (Zipfian) proposal of sampled softmax for word-level language models (Jean et al.
2015; TensorFlow's log_uniform_candidate_sampler): with ids in order of decreasing frequency,
P(k) = (log(k + 2) - log(k + 1)) / log(V + 1), drawn exactly by inverting its CDF."""

import numpy as np


class LogUniformSampler:
    """Draws K class ids in [0, V) with replacement from P(k) = log((k + 2) / (k + 1)) / log(V + 1),
    and gives log(K * P(id)), the expected-count correction ops.sampled_softmax subtracts.

    The CDF is P(id <= n) = log(n + 2) / log(V + 1), so id = floor(exp(u * log(V + 1))) - 1 with u
    uniform in [0, 1) has exactly this distribution (clamped to [0, V - 1] against rounding at the
    top end).

    Parameters
    ----------
    num_classes : int
        V, the vocabulary size (ids in frequency order).
    """

    def __init__(self, num_classes: int):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
            raise ValueError(f"LogUniformSampler: num_classes must be a positive int, got {num_classes!r}")
        self.num_classes = int(num_classes)
        self._log_v1 = np.log(self.num_classes + 1.0)

    def probability(self, ids) -> np.ndarray:
        """P(id) in float64 for integer ids (any shape).

        Raises
        ------
        ValueError
            an id outside [0, num_classes).
        """
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_classes):
            raise ValueError(f"LogUniformSampler.probability: ids must be in [0, {self.num_classes}), got "
                             f"range [{ids.min()}, {ids.max()}]")
        return np.log1p(1.0 / (ids.astype(np.float64) + 1.0)) / self._log_v1

    def logq(self, ids, K: int, dtype=np.float32) -> np.ndarray:
        """log(K * P(id)): the log expected count of each id among K draws."""
        return (np.log(float(K)) + np.log(self.probability(ids))).astype(dtype)

    def sample(self, K: int, rng: np.random.Generator, dtype=np.float32):
        """K draws with replacement: (samples (K) int64, logq_samples (K) of ``dtype``).

        Parameters
        ----------
        K : int
            Number of samples (positive).
        rng : numpy.random.Generator
            The randomness (so that training runs and resumes are reproducible).
        """
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)) or K < 1:
            raise ValueError(f"LogUniformSampler.sample: K must be a positive int, got {K!r}")
        u = rng.random(int(K))
        ids = np.floor(np.exp(u * self._log_v1)).astype(np.int64) - 1
        np.clip(ids, 0, self.num_classes - 1, out=ids)
        return ids, self.logq(ids, K, dtype)
