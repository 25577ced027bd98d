"""Layers with explicit forward / backward (no autograd). Each layer owns its Parameters (value
and gradient) and caches what its backward needs."""

from .module import Module, Parameter
from .conv import Conv1d
from .rnn import GRU, LSTM, RNN, BiRNN, RNNLayer
