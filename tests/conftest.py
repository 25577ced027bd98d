import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))  # tests/gradcheck.py

# Sizes that hit SIMD remainders and thread splits, not only round numbers.
AWKWARD = [1, 3, 7, 8, 9, 15, 16, 17, 33]

SHARED_DATA = os.environ.get(
    "FASTNLP_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def shared_data(*parts):
    """Path under ../shared/data, or skip the test with the reason when it is absent."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"shared data not found: {path} (set FASTNLP_DATA to the shared/data folder)")
    return path


def cuda_skip_reason():
    """Why the CUDA tests cannot run here, or None when fastnlp.cuda_available()."""
    import fastnlp
    from fastnlp import _C

    if fastnlp.cuda_available():
        return None
    if not _C.cuda_compiled:
        return "CUDA tests need a GPU: fastnlp was built without CUDA (FASTNLP_CUDA=OFF or no nvcc)"
    if _C.cuda_device_count() == 0:
        return "CUDA tests need a GPU: no CUDA device (or driver) on this machine"
    return "CUDA tests need a GPU: CuPy is not importable (pip install cupy-cuda13x)"
