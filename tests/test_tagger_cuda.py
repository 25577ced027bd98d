"""The taggers' CUDA inference path (GpuWindowNetwork) against the CPU path: the same tags for the shipped
models, scores within float32 tolerance. Skipped unless fastnlp.cuda_available()."""

import numpy as np
import pytest
from conftest import cuda_skip_reason


if cuda_skip_reason():
    pytest.skip(cuda_skip_reason(), allow_module_level=True)

import cupy as cp  # noqa: E402

from fastnlp.tagging import load_tagger  # noqa: E402
from fastnlp.tagging.gpu import GpuWindowNetwork  # noqa: E402

SENTENCES = [["The", "cat", "sat", "on", "the", "mat", "."], [], ["John", "Smith", "visited", "Paris", "."],
             ["x"], ["Acme", "Corp.", "bought", "300", "shares", "of", "IBM", "in", "New", "York"] * 7]


@pytest.mark.parametrize("name", ["pos", "chunk", "ner", "upos"])
def test_gpu_tags_match_cpu(name):
    cpu = load_tagger(name)
    gpu = GpuWindowNetwork(cpu)
    ids, offsets = cpu.featurize(SENTENCES)
    np.testing.assert_allclose(cp.asnumpy(gpu.scores(ids, offsets)), cpu.scores(SENTENCES)[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(gpu.predict_ids(ids, offsets), cpu.predict_ids(SENTENCES)[0])
    assert gpu.predict_ids(*cpu.featurize([[]])).shape == (0,)
    tags = cpu.tag_batch(SENTENCES)
    assert load_tagger(name).cuda().tag_batch(SENTENCES) == tags
