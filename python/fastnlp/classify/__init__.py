"""Sentence classifiers built from fastnlp's layers: Kim's TextCNN and RNN acceptors (Goldberg ch. 13-14)."""

from .cnn import TextCNN
from .rnn import RNNAcceptor
