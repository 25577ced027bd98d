"""Kim's (2014) convolutional sentence classifier on fastnlp's kernels: word embeddings, one
convolution per filter width with ReLU and max (or average) pooling over time fused in the conv
kernel, dropout, and a softmax output layer (the loss is fastnlp.nn.SoftmaxCrossEntropy)."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..nn import Conv1d
from ._base import SentenceNet, check_positive_int

POOLINGS = ("max", "avg")


class TextCNN(SentenceNet):
    """TextCNN(vocab_size, n_classes, embed_dim=300, widths=(3, 4, 5), maps=100, dropout=0.5,
    pooling='max', pretrained=None, static=False, multichannel=False, seed=0)

    Kim's variants: CNN-rand (no pretrained), CNN-static (pretrained, static=True), CNN-non-static
    (pretrained), CNN-multichannel (pretrained, multichannel=True: a frozen and a fine-tuned copy).

    Short sentences: the convolutions are wide (width - 1 zero vectors on each side of each
    sentence, as Kim pads every sentence with zero vectors), so a sentence of any length >= 1 gets
    length + width - 1 windows per filter; positions past a sentence's length are padding that never
    enters a window's sum, the max or the average, so padding a batch further changes nothing.
    Token id 0 is the padding id by convention; its embedding is never read inside a sentence's length
    unless the sentence contains id 0.

    forward(ids (B, T), lengths (B), train=False) -> logits (B, n_classes);
    backward(dlogits) accumulates gradients: conv and output layers dense, the embedding a sparse-row
    gradient (none when static). parameters() lists every Parameter (a static embedding's never gets
    a gradient, so optimizers leave it alone). self.output is the output Linear (max-norm).
    dtype (float32; float64 for gradient checks) is the parameters' dtype.

    Parameters
    ----------
    vocab_size, n_classes : int
        Rows of the embedding (ids from Vocabulary) and number of labels.
    embed_dim : int
        Word vector size (the pretrained vectors' when given).
    widths : sequence of int
        Filter widths, one Conv1d each.
    maps : int
        Filters per width.
    pooling : {"max", "avg"}
        Pooling over time.
    dropout : float
        Dropout before the output layer (train only), in [0, 1).
    pretrained : numpy.ndarray, optional
        (vocab_size, embed_dim) initial embedding (e.g. ``vocab.embedding_table``).
    static : bool
        Keep the embedding fixed.
    seed : int
        The initialization's and dropout's randomness.
    dtype : dtype
        float32 (default) or float64 (gradient checks).
    multichannel : bool
        A frozen and a fine-tuned copy of the pretrained embedding.
    output_init : {"uniform", "zeros"}
        The output layer's initial weights: as Linear draws them, or zero as Kim's code (the
        Classifier's "cnn" default).
    """

    def __init__(self, vocab_size: int, n_classes: int, embed_dim: int = 300, widths: Sequence[int] = (3, 4, 5),
                 maps: int = 100, dropout: float = 0.5, pooling: str = "max", pretrained: Optional[np.ndarray] = None,
                 static: bool = False, multichannel: bool = False, output_init: str = "uniform", seed: int = 0,
                 dtype: "np.typing.DTypeLike" = np.float32) -> None:
        widths = tuple(widths)
        if not widths:
            raise ValueError("TextCNN: widths must name at least one filter width")
        self.widths = tuple(check_positive_int("TextCNN", "widths", w) for w in widths)
        self.maps = check_positive_int("TextCNN", "maps", maps)
        if pooling not in POOLINGS:
            raise ValueError(f"TextCNN: pooling must be 'max' or 'avg', got {pooling!r}")
        self.pooling = pooling
        rng = np.random.default_rng(seed)
        self._init_embeddings(vocab_size, embed_dim, pretrained, static, multichannel, rng, dtype)
        in_dim = self.embed_dim * (2 if self.multichannel else 1)
        self.convs = [Conv1d(in_dim, self.maps, w, mode="wide", activation="relu", pool=pooling, dtype=dtype,
                             rng=rng) for w in self.widths]
        if output_init not in ("uniform", "zeros"):
            raise ValueError(f"TextCNN: output_init must be 'uniform' or 'zeros', got {output_init!r}")
        self._init_head(self.maps * len(self.widths), n_classes, dropout, seed, rng, dtype)
        if output_init == "zeros":  # Kim's code: the softmax layer starts at zero (its gradient does not)
            self.output.W.value[...] = 0

    def _encode(self, x, lengths, train):
        return np.concatenate([conv.forward(x, lengths) for conv in self.convs], axis=1)

    def _encode_backward(self, dfeat):
        need_dx = self._needs_dx
        dx = None
        m = self.maps
        for k, conv in enumerate(self.convs):
            d = conv.backward(np.ascontiguousarray(dfeat[:, k * m:(k + 1) * m]), need_dx=need_dx)
            if need_dx:
                dx = d if dx is None else np.add(dx, d, out=dx)
        return dx
