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


@pytest.fixture(autouse=True, scope="session")
def _two_threads():
    """fastnlp runs on 2 threads in every test, whatever the machine's core count, so sizes above a
    kernel's grain take its threaded path everywhere (and the same one); tests of other counts
    take the `threads` fixture."""
    import fastnlp

    old = fastnlp.get_num_threads()
    fastnlp.set_num_threads(2)
    yield
    fastnlp.set_num_threads(old)


@pytest.fixture(params=[1, 2, 3], ids=lambda t: f"threads{t}")
def threads(request):
    """Runs the test with fastnlp on 1 thread (inline), 2 and 3 (an uneven split), restoring the
    setting afterwards."""
    import fastnlp

    old = fastnlp.get_num_threads()
    fastnlp.set_num_threads(request.param)
    yield request.param
    fastnlp.set_num_threads(old)


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


# ---- GPU tests: one marker, one skip ---------------------------------------------------------------
# Tests that need a GPU are marked `@pytest.mark.gpu` in their op's own test file; here they are
# skipped, with the reason, unless fastnlp.cuda_available(). They take CuPy through the `cp`
# fixture, so no test module imports CuPy at import time.

def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("gpu") is not None]
    if not marked:
        return
    reason = cuda_skip_reason()
    if reason:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def cp():
    """CuPy, for tests marked gpu (which are skipped before this runs when there is no GPU)."""
    import cupy

    return cupy


# ---- SIMD levels: a subprocess of test_simd_levels.py states the level it expects -----------------

def pytest_sessionstart(session):
    want = os.environ.get("FASTNLP_EXPECT_SIMD_LEVEL")
    if want:
        from fastnlp import _C

        got = _C.simd_level()
        if got != int(want):
            raise pytest.UsageError(f"FASTNLP_EXPECT_SIMD_LEVEL={want}, but the SIMD clones run at level {got}")
