"""fastnlp: classic neural NLP with fused C++ and CUDA kernels under a thin NumPy API.

Subpackages: ``fastnlp.ops`` (functional kernels), ``fastnlp.nn`` (layers with explicit
forward/backward), ``fastnlp.optim`` (SGD, AdaGrad). Models: ``Word2Vec`` and its ``KeyedVectors``.
"""

from . import _C
from ._device import cuda_available, get_num_threads, set_num_threads
from . import ops, nn, optim
from .keyedvectors import KeyedVectors
from .word2vec import Word2Vec

__version__ = "0.1.0"

__all__ = ["ops", "nn", "optim", "Word2Vec", "KeyedVectors", "cuda_available", "set_num_threads", "get_num_threads",
           "__version__"]
