"""fastnlp: classic neural NLP with fused C++ and CUDA kernels under a thin NumPy API.

Subpackages: ``fastnlp.ops`` (functional kernels), ``fastnlp.nn`` (layers with explicit
forward/backward), ``fastnlp.optim`` (SGD, AdaGrad), ``fastnlp.tagging`` (SENNA window taggers).
Models: ``Word2Vec`` and its ``KeyedVectors``; ``load_tagger("pos" | "chunk" | "ner" | "upos")``.
"""

# Load OpenBLAS from the scipy-openblas32 package first: the extension finds it by its rpath when
# both are installed side by side, and through this already-loaded copy when they are not
# (e.g. a virtualenv that reuses the system's site-packages).
import scipy_openblas32  # noqa: F401,E402

from . import _C  # noqa: E402
from ._device import cuda_available, get_num_threads, set_num_threads
from . import ops, nn, optim
from .keyedvectors import KeyedVectors
from .word2vec import Word2Vec
from . import tagging
from .tagging import Tagger, load_tagger
from .pipeline import Doc, Pipeline, pipeline  # the function shadows the module name: fastnlp.pipeline("pos")

from ._version import __version__

DIST_NAME = "fastnlp-kernels"   # the name to pip install (PyPI's "fastnlp" is another project)


def installed_version() -> str:
    """The installed distribution's version.

    Returns
    -------
    str
        ``importlib.metadata.version("fastnlp-kernels")``, or ``fastnlp.__version__`` when the
        package runs from a source tree that was not installed.
    """
    from importlib import metadata

    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        return __version__

__all__ = ["ops", "nn", "optim", "tagging", "Word2Vec", "KeyedVectors", "Tagger", "load_tagger", "pipeline", "Pipeline",
           "Doc", "cuda_available", "set_num_threads", "get_num_threads", "installed_version", "DIST_NAME",
           "__version__"]
