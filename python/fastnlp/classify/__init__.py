"""Sentence classification: data readers (MR, SUBJ, CR, MPQA, TREC, SST), the Classifier API over
Kim's TextCNN, RNN acceptors (Goldberg ch. 13-14) and the bag-of-n-gram maxent / MLP baselines, and
the `fastnlp classify` command line."""

from .cnn import TextCNN
from .data import Dataset, load_task, read_sst, read_trec, tokenize
from .model import Classifier
from .rnn import RNNAcceptor
from .vocab import Vocabulary, pad_batch

__all__ = ["Classifier", "Dataset", "RNNAcceptor", "TextCNN", "Vocabulary", "load_task", "pad_batch", "read_sst",
           "read_trec", "tokenize"]
