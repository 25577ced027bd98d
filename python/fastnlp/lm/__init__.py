"""Word-level recurrent language models (Mikolov et al. 2010, Zaremba et al. 2014): RNNLanguageModel,
the PTB / WikiText readers and vocabulary, and the log-uniform sampler of sampled softmax."""

from .data import EOS, UNK, Vocabulary, batchify, iter_sentences, read_tokens, task_files
from .model import SIZES, TRAIN_DEFAULTS, RNNLanguageModel
from .sampling import LogUniformSampler

__all__ = ["EOS", "UNK", "SIZES", "TRAIN_DEFAULTS", "LogUniformSampler", "RNNLanguageModel", "Vocabulary", "batchify",
           "iter_sentences", "read_tokens", "task_files"]
