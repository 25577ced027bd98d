"""Sentence classification: data readers (MR, SUBJ, CR, MPQA, TREC, SST), the Classifier API over
TextCNN (Kim 2014), RNN acceptors and the bag-of-n-gram maxent / MLP baselines, and the
`fastnlp classify` command line."""

from .data import Dataset, load_task, read_sst, read_trec, tokenize
from .model import Classifier
from .vocab import Vocabulary, pad_batch

__all__ = ["Classifier", "Dataset", "Vocabulary", "load_task", "pad_batch", "read_sst", "read_trec", "tokenize"]
