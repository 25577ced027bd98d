"""CUDA inference for window taggers: the same network run by fastnlp's CUDA kernels on CuPy arrays
(embedding gather, cuBLAS GEMMs with the fused bias + HardTanh epilogue, Viterbi). Features are
computed on the CPU by the C++ featurizer; ids go to the GPU, tag ids come back.
Used through Tagger.cuda(); needs fastnlp.cuda_available()."""

import numpy as np

from .. import ops
from .._device import cuda_available
from .network import window_ids


class GpuWindowNetwork:
    """Device copies of a Tagger's weights and its forward pass on the GPU."""

    def __init__(self, tagger):
        if not cuda_available():
            raise RuntimeError("Tagger.cuda: no usable GPU (fastnlp.cuda_available() is False: it needs the CUDA "
                               "kernels compiled in, a GPU and CuPy)")
        import cupy as cp

        self.cp = cp
        self.window = tagger.window
        self.tables = [cp.asarray(t, dtype=cp.float32) for t in tagger.tables]
        self.W1, self.b1, self.W2, self.b2 = (cp.asarray(a) for a in (tagger.W1, tagger.b1, tagger.W2, tagger.b2))
        # the tagger's decode scores: its transitions with ill-formed chunk moves forbidden
        self.transitions = None if tagger.decode_transitions is None else cp.asarray(tagger.decode_transitions)
        self.start = None if tagger.decode_start is None else cp.asarray(tagger.decode_start)

    def scores(self, ids, offsets):
        """Tag scores (N, K) as a CuPy array for NumPy ids (N, F) and offsets (S+1)."""
        cp = self.cp
        win = window_ids(ids, offsets, self.window)  # (F, N, window)
        parts = [ops.embedding(table, cp.asarray(win[f])) for f, table in enumerate(self.tables)]
        x = cp.concatenate(parts, axis=2).reshape(len(ids), -1)
        return ops.linear(ops.linear(x, self.W1, self.b1, "hardtanh"), self.W2, self.b2)

    def predict_ids(self, ids, offsets):
        """Best tag ids (N,) int32 as a NumPy array."""
        cp = self.cp
        if len(ids) == 0:
            return np.zeros(0, np.int32)
        scores = self.scores(ids, offsets)
        if self.transitions is not None:
            pred, _ = ops.viterbi_decode(scores, cp.asarray(offsets), self.transitions, self.start)
        else:
            pred = scores.argmax(axis=1).astype(cp.int32)
        return cp.asnumpy(pred)
