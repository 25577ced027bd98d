"""RNNLanguageModel (Mikolov et al. 2010; Zaremba et al. 2014): embeddings -> stacked LSTM / GRU /
Elman -> softmax over the vocabulary, dropout on the non-recurrent connections, trained by truncated
BPTT over B parallel streams of one token stream (state carried across segments, no gradient
through it), gradient-norm clipping and SGD with Zaremba's learning-rate decay. Full softmax or
sampled softmax (log-uniform proposal) in training, full softmax in evaluation. Explicit forward /
backward through fastnlp.ops; files through fastnlp.safeformat; checkpoints at every epoch."""

import os

from typing import Union

from ..plots import TrainingCurveMixin
from .evaluation import LMEvaluation
from .network import CELLS, FORMAT, VERSION, LMNetwork
from .training import CHECKPOINT_FORMAT, SIZES, TRAIN_DEFAULTS, LMTraining

__all__ = ["CELLS", "CHECKPOINT_FORMAT", "FORMAT", "SIZES", "TRAIN_DEFAULTS", "VERSION", "RNNLanguageModel"]


class RNNLanguageModel(LMNetwork, LMTraining, LMEvaluation, TrainingCurveMixin):
    """A word-level recurrent language model.

        lm = RNNLanguageModel(vocab, cell="lstm", hidden=200, layers=2)
        lm.fit("ptb.train.txt", valid="ptb.valid.txt", checkpoint="lm.ckpt")
        lm.perplexity("ptb.valid.txt"); lm.score(["the cat sat"]); lm.generate(20, seed=1)

    Parameters
    ----------
    vocab : Vocabulary or list of str
        The words, most frequent first (Vocabulary.build); must contain <eos>.
    cell : str
        "lstm" (default), "gru" or "elman".
    hidden : int
        Units per recurrent layer (H).
    layers : int
        Stacked recurrent layers.
    embed_dim : int, optional
        Word-vector size (default: hidden).
    dropout : float
        Dropout probability on the non-recurrent connections (embeddings, between layers, before the
        softmax), as in Zaremba et al.; 0 disables it.
    tied : bool
        Share the input embeddings with the output layer (Press & Wolf 2017; needs embed_dim == hidden).
    init_scale : float
        Every weight and bias starts uniform in [-init_scale, init_scale].
    seed : int
        Seeds the initialization and every random draw of training (dropout masks, samples).
    fmt : str
        The text format the model reads ("ptb" or "wikitext"; see fastnlp.lm.data.iter_sentences).
    dtype : numpy dtype
        float32 (default) or float64 (gradient checks).

    Raises
    ------
    ValueError
        an argument out of range (named in the message).
    """

    def _curve_title(self):
        return f"{self.config['cell'].upper()} language model: loss and valid perplexity"

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "RNNLanguageModel":
        """A model written by save(), or the model in a training checkpoint (MODEL.ckpt, e.g. of a
        run stopped before its last epoch).

        Parameters
        ----------
        path : str or os.PathLike
            The model or checkpoint file.

        Returns
        -------
        RNNLanguageModel

        Raises
        ------
        ValueError
            the file is not a valid fastnlp language model (the message says why).
        """
        try:
            return cls._from_file(path, FORMAT, "language model")[0]
        except ValueError as e:
            if f"header format is '{CHECKPOINT_FORMAT}'" not in str(e):
                raise
        return cls._from_file(path, CHECKPOINT_FORMAT, "language-model checkpoint")[0]
